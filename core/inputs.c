#include "inputs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"

#define MAX_DEPTH 64

typedef struct dir_level {
    char *path;
    struct dirent **names;
    int count, next;
} dir_level;

struct ts_inputs {
    char *const *paths;
    int npaths, next_path;
    ts_inputs_options opts;
    dir_level dirs[MAX_DEPTH];
    int depth;
    struct archive *ar;
    char ar_path[1024];
};

static const char *const archive_suffixes[] = {".tar", ".tgz", ".tar.gz", ".tar.zst", ".zip", NULL};

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int ts_inputs_is_archive(const char *name) {
    for (int i = 0; archive_suffixes[i]; i++)
        if (ends_with(name, archive_suffixes[i])) return 1;
    return 0;
}

ts_status ts_inputs_open(ts_inputs **out, char *const *paths, int npaths, const ts_inputs_options *opts,
                         ts_error *err) {
    ts_inputs *in = calloc(1, sizeof *in);
    if (!in) return ts_fail(err, TS_ENOMEM, "out of memory");
    in->paths = paths;
    in->npaths = npaths;
    if (opts) in->opts = *opts;
    if (!in->opts.max_item_bytes) in->opts.max_item_bytes = (size_t)256 << 20;
    *out = in;
    return TS_OK;
}

/* item->name = a + "/" + b (b may be NULL), truncated to fit. */
static void set_name(ts_input_item *item, const char *a, const char *b) {
    size_t cap = sizeof item->name - 1, n = 0;
    const char *parts[3] = {a, b ? "/" : NULL, b};
    for (int i = 0; i < 3; i++) {
        if (!parts[i]) continue;
        size_t m = strlen(parts[i]);
        if (m > cap - n) m = cap - n;
        memcpy(item->name + n, parts[i], m);
        n += m;
    }
    item->name[n] = '\0';
    const char *slash = strrchr(item->name, '/');
    item->base = slash && slash[1] ? slash + 1 : item->name;
}

static void close_archive(ts_inputs *in) {
    if (!in->ar) return;
    archive_read_free(in->ar);
    in->ar = NULL;
}

static ts_status open_archive(ts_inputs *in, const char *path, ts_error *err) {
    in->ar = archive_read_new();
    if (!in->ar) return ts_fail(err, TS_ENOMEM, "out of memory");
    archive_read_support_filter_all(in->ar);
    archive_read_support_format_tar(in->ar);
    archive_read_support_format_zip(in->ar);
    snprintf(in->ar_path, sizeof in->ar_path, "%s", path);
    if (archive_read_open_filename(in->ar, path, 1 << 16) != ARCHIVE_OK) {
        ts_status st = ts_fail(err, TS_EFORMAT, "%s: cannot read archive: %s", path,
                               archive_error_string(in->ar));
        close_archive(in);
        return st;
    }
    return TS_OK;
}

/* Next accepted member of the open archive; TS_ENOTFOUND when it ends. */
static ts_status next_member(ts_inputs *in, ts_input_item *item, ts_buf *data, ts_error *err) {
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in->ar, &e);
        if (r == ARCHIVE_EOF) {
            close_archive(in);
            return TS_ENOTFOUND;
        }
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            set_name(item, in->ar_path, NULL);
            ts_status st = ts_fail(err, TS_EFORMAT, "%s: damaged archive: %s", in->ar_path,
                                   archive_error_string(in->ar));
            close_archive(in); /* a damaged stream cannot be resynchronized */
            return st;
        }
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        const char *member = archive_entry_pathname(e);
        if (!member || (in->opts.filter && !in->opts.filter(member))) continue;
        set_name(item, in->ar_path, member);
        la_int64_t size = archive_entry_size(e);
        if (archive_entry_size_is_set(e) && size > (la_int64_t)in->opts.max_item_bytes)
            return ts_fail(err, TS_ELIMIT, "%s: %lld bytes, over the %zu-byte limit", item->name,
                           (long long)size, in->opts.max_item_bytes);
        ts_buf_reset(data);
        for (;;) {
            ts_status st = ts_buf_reserve(data, 1 << 16, err);
            if (st) return st;
            la_ssize_t n = archive_read_data(in->ar, data->data + data->len, data->cap - data->len);
            if (n == 0) break;
            if (n < 0) {
                st = ts_fail(err, TS_EFORMAT, "%s: damaged archive member: %s", item->name,
                             archive_error_string(in->ar));
                close_archive(in);
                return st;
            }
            data->len += (size_t)n;
            if (data->len > in->opts.max_item_bytes)
                return ts_fail(err, TS_ELIMIT, "%s: over the %zu-byte limit", item->name,
                               in->opts.max_item_bytes);
        }
        return TS_OK;
    }
}

static int skip_dot(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Compare names bytewise, independent of the locale. */
static int byte_order(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static ts_status push_dir(ts_inputs *in, const char *path, ts_error *err) {
    if (in->depth == MAX_DEPTH) return ts_fail(err, TS_ELIMIT, "%s: directories nested too deep", path);
    dir_level *d = &in->dirs[in->depth];
    memset(d, 0, sizeof *d);
    d->count = scandir(path, &d->names, skip_dot, byte_order);
    if (d->count < 0) return ts_fail_errno(err, TS_EIO, "%s: cannot list directory", path);
    d->path = strdup(path);
    if (!d->path) {
        for (int i = 0; i < d->count; i++) free(d->names[i]);
        free(d->names);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    in->depth++;
    return TS_OK;
}

static void pop_dir(ts_inputs *in) {
    dir_level *d = &in->dirs[--in->depth];
    for (int i = d->next; i < d->count; i++) free(d->names[i]);
    free(d->names);
    free(d->path);
}

static ts_status read_file_item(ts_inputs *in, const char *path, ts_input_item *item, ts_buf *data,
                                ts_error *err) {
    set_name(item, path, NULL);
    ts_buf_reset(data);
    return ts_read_file(path, in->opts.max_item_bytes, data, err);
}

/* A path named by the user, or found in a directory (`from_dir`). */
static ts_status visit_path(ts_inputs *in, const char *path, int from_dir, ts_input_item *item,
                            ts_buf *data, ts_error *err, int *yielded) {
    *yielded = 0;
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) != 0) {
        set_name(item, path, NULL);
        *yielded = 1;
        return ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
    }
    if (strcmp(path, "-") != 0 && S_ISDIR(st.st_mode)) {
        ts_status s = push_dir(in, path, err);
        if (s) {
            set_name(item, path, NULL);
            *yielded = 1;
        }
        return s;
    }
    if (in->opts.expand_archives && ts_inputs_is_archive(path)) {
        ts_status s = open_archive(in, path, err);
        if (s) {
            set_name(item, path, NULL);
            *yielded = 1;
        }
        return s;
    }
    if (from_dir && in->opts.filter && !in->opts.filter(path)) return TS_OK;
    *yielded = 1;
    return read_file_item(in, path, item, data, err);
}

ts_status ts_inputs_next(ts_inputs *in, ts_input_item *item, ts_buf *data, ts_error *err) {
    for (;;) {
        if (in->ar) {
            ts_status st = next_member(in, item, data, err);
            if (st != TS_ENOTFOUND) return st;
            continue;
        }
        int yielded = 0;
        ts_status st = TS_OK;
        if (in->depth > 0) {
            dir_level *d = &in->dirs[in->depth - 1];
            if (d->next == d->count) {
                pop_dir(in);
                continue;
            }
            struct dirent *ent = d->names[d->next++];
            char path[4096];
            int n = snprintf(path, sizeof path, "%s/%s", d->path, ent->d_name);
            free(ent);
            if (n < 0 || (size_t)n >= sizeof path) {
                set_name(item, d->path, NULL);
                return ts_fail(err, TS_ELIMIT, "%s: a name in this directory makes too long a path", d->path);
            }
            st = visit_path(in, path, 1, item, data, err, &yielded);
        } else if (in->next_path < in->npaths) {
            st = visit_path(in, in->paths[in->next_path++], 0, item, data, err, &yielded);
        } else {
            return TS_ENOTFOUND;
        }
        if (yielded || st) return st;
    }
}

void ts_inputs_close(ts_inputs *in) {
    if (!in) return;
    close_archive(in);
    while (in->depth > 0) pop_dir(in);
    free(in);
}
