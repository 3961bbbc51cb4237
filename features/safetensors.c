/* safetensors: an 8-byte little-endian header length, a JSON header mapping
 * each tensor name to {dtype, shape, data_offsets [begin, end)} relative to
 * the end of the header, then the raw little-endian data. Files are mmap'd
 * read-only, so weights are paged in once, straight from the page cache. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/json.h"
#include "features.h"

#define HEADER_MAX (256u << 20) /* generous: real headers are a few MB */
#define INDEX_MAX (64u << 20)

typedef struct st_file {
    char *path;
    uint8_t *map;
    size_t size;
    ts_tensor *tensors;
    size_t count;
} st_file;

typedef struct index_entry {
    char *name;
    int file; /* into files[] */
} index_entry;

struct ts_safetensors {
    st_file *files; /* mapped lazily: map == NULL until first use */
    size_t nfiles;
    index_entry *entries; /* only for a sharded set */
    size_t nentries;
};

size_t ts_dtype_size(ts_dtype t) {
    switch (t) {
    case TS_DTYPE_F32: return 4;
    case TS_DTYPE_F16:
    case TS_DTYPE_BF16: return 2;
    default: return 0;
    }
}

/* Element sizes of the dtypes we list but never convert. */
static size_t other_dtype_size(const char *s) {
    static const struct { const char *name; size_t size; } t[] = {
        {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4}, {"I16", 2},
        {"U16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].name) == 0) return t[i].size;
    return 0;
}

static ts_status parse_tensor(const cJSON *item, const uint8_t *data, size_t data_len,
                              ts_tensor *t, ts_error *err) {
    const char *dt = ts_json_str(item, "dtype", NULL);
    if (!dt) return ts_fail(err, TS_EFORMAT, "tensor '%s': no dtype", t->name);
    size_t esize;
    if (strcmp(dt, "F32") == 0) t->dtype = TS_DTYPE_F32;
    else if (strcmp(dt, "F16") == 0) t->dtype = TS_DTYPE_F16;
    else if (strcmp(dt, "BF16") == 0) t->dtype = TS_DTYPE_BF16;
    else t->dtype = TS_DTYPE_OTHER;
    esize = t->dtype == TS_DTYPE_OTHER ? other_dtype_size(dt) : ts_dtype_size(t->dtype);
    if (esize == 0) return ts_fail(err, TS_EFORMAT, "tensor '%s': unknown dtype '%s'", t->name, dt);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape)) return ts_fail(err, TS_EFORMAT, "tensor '%s': no shape", t->name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > TS_TENSOR_MAX_DIMS)
        return ts_fail(err, TS_EUNSUPPORTED, "tensor '%s': %d dimensions", t->name, nd);
    t->ndim = nd;
    t->numel = 1;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e15 ||
            d->valuedouble != (double)(int64_t)d->valuedouble)
            return ts_fail(err, TS_EFORMAT, "tensor '%s': bad shape entry", t->name);
        t->shape[i++] = (int64_t)d->valuedouble;
        if (t->shape[i - 1] != 0 && t->numel > INT64_MAX / t->shape[i - 1])
            return ts_fail(err, TS_EFORMAT, "tensor '%s': shape overflows", t->name);
        t->numel *= t->shape[i - 1];
    }

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return ts_fail(err, TS_EFORMAT, "tensor '%s': no data_offsets", t->name);
    double b = cJSON_GetArrayItem(off, 0)->valuedouble, e = cJSON_GetArrayItem(off, 1)->valuedouble;
    if (!(b >= 0 && e >= b && e <= (double)data_len))
        return ts_fail(err, TS_EFORMAT,
                       "tensor '%s': data_offsets [%.0f, %.0f) outside the %zu data bytes "
                       "(truncated file?)",
                       t->name, b, e, data_len);
    t->nbytes = (size_t)e - (size_t)b;
    if ((uint64_t)t->numel > SIZE_MAX / esize || t->nbytes != (size_t)t->numel * esize)
        return ts_fail(err, TS_EFORMAT, "tensor '%s': %zu bytes for %lld elements of %s", t->name,
                       t->nbytes, (long long)t->numel, dt);
    t->data = data + (size_t)b;
    return TS_OK;
}

static void file_unmap(st_file *f) {
    if (f->tensors)
        for (size_t i = 0; i < f->count; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    f->tensors = NULL;
    f->count = 0;
    if (f->map) munmap(f->map, f->size);
    f->map = NULL;
}

static ts_status file_map(st_file *f, ts_error *err) {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ts_fail_errno(err, TS_EIO, "%s: open", f->path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return ts_fail_errno(err, TS_EIO, "%s: stat", f->path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return ts_fail(err, TS_EFORMAT, "%s: %lld bytes, too short for a safetensors header",
                       f->path, (long long)sb.st_size);
    }
    f->size = (size_t)sb.st_size;
    void *m = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return ts_fail_errno(err, TS_EIO, "%s: mmap", f->path);
    f->map = m;

    uint64_t hlen = ts_get_u64le(f->map);
    if (hlen > HEADER_MAX || hlen > f->size - 8) {
        ts_status s = ts_fail(err, TS_EFORMAT,
                              "%s: header length %llu does not fit the %zu-byte file "
                              "(not safetensors, or truncated)",
                              f->path, (unsigned long long)hlen, f->size);
        file_unmap(f);
        return s;
    }
    cJSON *root = NULL;
    ts_status s = ts_json_parse((const char *)f->map + 8, (size_t)hlen, &root, err);
    if (s != TS_OK) {
        ts_error_context(err, "%s: header", f->path);
        file_unmap(f);
        return s;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        file_unmap(f);
        return ts_fail(err, TS_EFORMAT, "%s: header is not a JSON object", f->path);
    }
    size_t n = (size_t)cJSON_GetArraySize(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) {
        cJSON_Delete(root);
        file_unmap(f);
        return ts_fail(err, TS_ENOMEM, "%s: out of memory", f->path);
    }
    const uint8_t *data = f->map + 8 + hlen;
    size_t data_len = f->size - 8 - (size_t)hlen;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) continue;
        ts_tensor *t = &f->tensors[f->count];
        t->name = strdup(item->string);
        if (!t->name) {
            s = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        f->count++;
        if (!cJSON_IsObject(item)) {
            s = ts_fail(err, TS_EFORMAT, "tensor '%s' is not an object", t->name);
            break;
        }
        s = parse_tensor(item, data, data_len, t, err);
        if (s != TS_OK) break;
    }
    cJSON_Delete(root);
    if (s != TS_OK) {
        ts_error_context(err, "%s", f->path);
        file_unmap(f);
    }
    return s;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    return strndup(path, (size_t)(slash - path));
}

static ts_status add_file(ts_safetensors *st, const char *path, int *idx, ts_error *err) {
    for (size_t i = 0; i < st->nfiles; i++)
        if (strcmp(st->files[i].path, path) == 0) {
            *idx = (int)i;
            return TS_OK;
        }
    st_file *nf = realloc(st->files, (st->nfiles + 1) * sizeof *nf);
    if (!nf) return ts_fail(err, TS_ENOMEM, "out of memory");
    st->files = nf;
    memset(&nf[st->nfiles], 0, sizeof *nf);
    nf[st->nfiles].path = strdup(path);
    if (!nf[st->nfiles].path) return ts_fail(err, TS_ENOMEM, "out of memory");
    *idx = (int)st->nfiles++;
    return TS_OK;
}

static ts_status open_index(ts_safetensors *st, const char *path, ts_error *err) {
    cJSON *root = NULL;
    ts_status s = ts_json_load_file(path, INDEX_MAX, &root, err);
    if (s != TS_OK) return s;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return ts_fail(err, TS_EFORMAT, "%s: no \"weight_map\" object", path);
    }
    char *dir = dir_of(path);
    size_t n = (size_t)cJSON_GetArraySize(map);
    st->entries = calloc(n ? n : 1, sizeof *st->entries);
    if (!dir || !st->entries) {
        free(dir);
        cJSON_Delete(root);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, map) {
        if (!cJSON_IsString(item) || strchr(item->valuestring, '/') ||
            strcmp(item->valuestring, "..") == 0) {
            s = ts_fail(err, TS_EFORMAT, "%s: bad file name for '%s'", path, item->string);
            break;
        }
        char *fp = join_path(dir, item->valuestring);
        int fi = 0;
        s = fp ? add_file(st, fp, &fi, err) : ts_fail(err, TS_ENOMEM, "out of memory");
        free(fp);
        if (s != TS_OK) break;
        index_entry *e = &st->entries[st->nentries];
        e->name = strdup(item->string);
        if (!e->name) {
            s = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        e->file = fi;
        st->nentries++;
    }
    free(dir);
    cJSON_Delete(root);
    return s;
}

ts_status ts_safetensors_open(const char *path, ts_safetensors **out, ts_error *err) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return ts_fail_errno(err, TS_EIO, "%s", path);
    ts_safetensors *st = calloc(1, sizeof *st);
    if (!st) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status s;
    int idx = 0;
    if (S_ISDIR(sb.st_mode)) {
        char *index = join_path(path, "model.safetensors.index.json");
        char *single = join_path(path, "model.safetensors");
        if (!index || !single) s = ts_fail(err, TS_ENOMEM, "out of memory");
        else if (access(index, R_OK) == 0) s = open_index(st, index, err);
        else if (access(single, R_OK) == 0) s = add_file(st, single, &idx, err);
        else
            s = ts_fail(err, TS_ENOTFOUND,
                        "%s: neither model.safetensors nor model.safetensors.index.json", path);
        free(index);
        free(single);
    } else if (has_suffix(path, ".json")) {
        s = open_index(st, path, err);
    } else {
        s = add_file(st, path, &idx, err);
    }
    /* A single file is mapped now so that a bad file fails at open. */
    if (s == TS_OK && st->nentries == 0 && st->nfiles == 1) s = file_map(&st->files[0], err);
    if (s != TS_OK) {
        ts_safetensors_close(st);
        return s;
    }
    *out = st;
    return TS_OK;
}

static ts_tensor *file_find(st_file *f, const char *name) {
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

static int index_lookup(const ts_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->nentries; i++)
        if (strcmp(st->entries[i].name, name) == 0) return st->entries[i].file;
    return -1;
}

int ts_safetensors_has(ts_safetensors *st, const char *name) {
    if (st->nentries) return index_lookup(st, name) >= 0;
    return st->nfiles == 1 && file_find(&st->files[0], name) != NULL;
}

ts_status ts_safetensors_find(ts_safetensors *st, const char *name, const ts_tensor **out,
                              ts_error *err) {
    *out = NULL;
    int fi = st->nentries ? index_lookup(st, name) : 0;
    if (fi < 0 || st->nfiles == 0) return ts_fail(err, TS_ENOTFOUND, "tensor '%s' not found", name);
    st_file *f = &st->files[fi];
    if (!f->map) {
        ts_status s = file_map(f, err);
        if (s != TS_OK) return s;
    }
    ts_tensor *t = file_find(f, name);
    if (!t) return ts_fail(err, TS_ENOTFOUND, "tensor '%s' not found in %s", name, f->path);
    *out = t;
    return TS_OK;
}

void ts_safetensors_close(ts_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->nfiles; i++) {
        file_unmap(&st->files[i]);
        free(st->files[i].path);
    }
    free(st->files);
    for (size_t i = 0; i < st->nentries; i++) free(st->entries[i].name);
    free(st->entries);
    free(st);
}
