/* Reading back finished shards and cleaning up after a killed run, so that
 * the writer can continue a dataset (ts_energon_resume). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash_set.h"
#include "core/io.h"
#include "energon_internal.h"

static unsigned long long octal(const uint8_t *p, size_t n) {
    unsigned long long v = 0;
    size_t i = 0;
    while (i < n && p[i] == ' ') i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) v = v * 8 + (unsigned long long)(p[i] - '0');
    return v;
}

static unsigned ext_bit(const char *name) {
    const char *dot = strrchr(name, '.');
    static const ts_image_format all[] = {TS_FMT_JPEG, TS_FMT_PNG, TS_FMT_WEBP, TS_FMT_GIF};
    for (size_t i = 0; dot && i < 4; i++)
        if (!strcmp(dot + 1, ts_image_extension(all[i]))) return 1u << all[i];
    return 0;
}

ts_status ts_energon_scan_shard(const char *tar_path, struct ts_hash_set *keys, uint64_t *count,
                                unsigned *image_exts, uint64_t *size, ts_error *err) {
    char idx_path[4096];
    snprintf(idx_path, sizeof idx_path, "%s.idx", tar_path);
    ts_buf idx = {0};
    ts_status st = ts_read_file(idx_path, (size_t)1 << 32, &idx, err);
    if (st) return st;
    int fd = open(tar_path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        st = ts_fail_errno(err, TS_EIO, "%s", tar_path);
        goto out;
    }
    size_t n = idx.len / 8;
    if (idx.len % 8 || n < 1 || ts_get_u64le(idx.data + idx.len - 8) + 2 * TS_TAR_BLOCK != (uint64_t)sb.st_size) {
        st = ts_fail(err, TS_EFORMAT, "%s: .tar.idx does not match the shard", tar_path);
        goto out;
    }
    for (size_t k = 0; k + 1 < n && !st; k++) {
        uint64_t pos = ts_get_u64le(idx.data + 8 * k), end = ts_get_u64le(idx.data + 8 * (k + 1));
        int first = 1;
        while (pos < end) {
            uint8_t h[TS_TAR_BLOCK];
            if (pread(fd, h, sizeof h, (off_t)pos) != (ssize_t)sizeof h) {
                st = ts_fail(err, TS_EFORMAT, "%s: short read at offset %llu", tar_path, (unsigned long long)pos);
                break;
            }
            char name[TS_TAR_NAME_MAX + 1];
            memcpy(name, h, TS_TAR_NAME_MAX);
            name[TS_TAR_NAME_MAX] = 0;
            const char *dot = strchr(name, '.');
            if (!dot || dot == name) {
                st = ts_fail(err, TS_EFORMAT, "%s: member \"%s\" at %llu has no key", tar_path, name,
                             (unsigned long long)pos);
                break;
            }
            if (first) {
                int fresh = ts_hash_set_insert(keys, ts_xxh3_128(name, (size_t)(dot - name)));
                if (fresh <= 0) {
                    st = fresh < 0 ? ts_fail(err, TS_ENOMEM, "out of memory")
                                   : ts_fail(err, TS_EFORMAT, "%s: key %.*s appears twice", tar_path,
                                             (int)(dot - name), name);
                    break;
                }
                first = 0;
            }
            *image_exts |= ext_bit(name);
            pos += ts_tar_member_size(octal(h + 124, 12));
        }
        if (!st && pos != end)
            st = ts_fail(err, TS_EFORMAT, "%s: sample %zu overruns its .tar.idx entry", tar_path, k);
    }
    *count = n - 1;
    *size = (uint64_t)sb.st_size;
out:
    if (fd >= 0) close(fd);
    ts_buf_free(&idx);
    return st;
}

static ts_status remove_file(const char *path, ts_error *err) {
    if (unlink(path) && errno != ENOENT) return ts_fail_errno(err, TS_EIO, "cannot remove %s", path);
    return TS_OK;
}

/* Remove temporaries in `dir`, and with a prefix, numbered shards >= n_shards. */
static ts_status clean_one(const char *dir, const char *prefix, size_t n_shards, ts_error *err) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? TS_OK : ts_fail_errno(err, TS_EIO, "%s", dir);
    size_t plen = prefix ? strlen(prefix) : 0;
    ts_status st = TS_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        const char *name = e->d_name;
        int stale = strstr(name, ".tmp-") != NULL;
        if (!stale && prefix && !strncmp(name, prefix, plen) && name[plen] == '-') {
            char *end;
            unsigned long long i = strtoull(name + plen + 1, &end, 10);
            stale = end == name + plen + 7 && !strncmp(end, ".tar", 4) && i >= n_shards;
        }
        if (stale) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            st = remove_file(path, err);
        }
    }
    closedir(d);
    return st;
}

ts_status ts_energon_clean_dir(const char *dir, const char *prefix, size_t n_shards, ts_error *err) {
    char path[4096];
    ts_status st = clean_one(dir, prefix, n_shards, err);
    snprintf(path, sizeof path, "%s/stats", dir);
    if (!st) st = clean_one(path, prefix, n_shards, err);
    snprintf(path, sizeof path, "%s/.nv-meta", dir);
    if (!st) st = clean_one(path, NULL, 0, err);
    snprintf(path, sizeof path, "%s/.nv-meta/.info.yaml", dir);
    if (!st) st = remove_file(path, err);
    return st;
}
