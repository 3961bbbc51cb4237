/* Zip central-directory index and member reads: see zip_index.h. Layout
 * facts from PKWARE's APPNOTE.TXT (sections 4.3.6-4.3.16, 4.5.3). */
#include "ingest/zip_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EOCD_LEN 22
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define DEFAULT_MAX ((size_t)1 << 30)

typedef struct zip_member {
    size_t name_off; /* into names */
    uint16_t method, flags;
    uint32_t crc;
    uint64_t csize, usize, local_off;
} zip_member;

struct ts_zip {
    char *path;
    int fd;
    uint64_t file_size;
    zip_member *m;
    size_t n;
    char *names;
    size_t *sorted; /* member indexes ordered by name */
};

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static ts_status read_at(const ts_zip *z, uint64_t off, void *buf, size_t n, ts_error *err) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(z->fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return ts_fail_errno(err, TS_EIO, "%s: read at %llu", z->path, (unsigned long long)off);
        if (got == 0) return ts_fail(err, TS_EFORMAT, "%s: truncated at %llu", z->path, (unsigned long long)(off + done));
        done += (size_t)got;
    }
    return TS_OK;
}

void ts_zip_close(ts_zip *z) {
    if (!z) return;
    if (z->fd >= 0) close(z->fd);
    free(z->path);
    free(z->m);
    free(z->names);
    free(z->sorted);
    free(z);
}

/* Locate the end-of-central-directory record; fill the directory's place. */
static ts_status find_directory(ts_zip *z, uint64_t *cd_off, uint64_t *cd_size, uint64_t *entries,
                                ts_error *err) {
    if (z->file_size < EOCD_LEN) return ts_fail(err, TS_EFORMAT, "%s: too short for a zip", z->path);
    size_t tail = (size_t)(z->file_size < 65535 + EOCD_LEN ? z->file_size : 65535 + EOCD_LEN);
    uint8_t *buf = malloc(tail);
    if (!buf) return ts_fail(err, TS_ENOMEM, "out of memory");
    uint64_t base = z->file_size - tail;
    ts_status st = read_at(z, base, buf, tail, err);
    long at = -1;
    for (long i = (long)tail - EOCD_LEN; !st && i >= 0; i--)
        if (ts_get_u32le(buf + i) == SIG_EOCD && (size_t)i + EOCD_LEN + u16(buf + i + 20) == tail) {
            at = i;
            break;
        }
    if (!st && at < 0) st = ts_fail(err, TS_EFORMAT, "%s: no end-of-central-directory record (not a zip, or truncated)", z->path);
    if (st) {
        free(buf);
        return st;
    }
    const uint8_t *e = buf + at;
    if (u16(e + 4) != 0 || u16(e + 6) != 0 || u16(e + 8) != u16(e + 10)) {
        free(buf);
        return ts_fail(err, TS_EUNSUPPORTED, "%s: multi-disk zip archives are not supported", z->path);
    }
    *entries = u16(e + 10);
    *cd_size = ts_get_u32le(e + 12);
    *cd_off = ts_get_u32le(e + 16);
    uint64_t eocd_pos = base + (uint64_t)at;
    free(buf);
    if (eocd_pos >= 20) {
        uint8_t loc[20];
        if ((st = read_at(z, eocd_pos - 20, loc, 20, err))) return st;
        if (ts_get_u32le(loc) == SIG_LOCATOR64) {
            uint64_t off64 = ts_get_u64le(loc + 8);
            uint8_t r[56];
            if (off64 > z->file_size - 56)
                return ts_fail(err, TS_EFORMAT, "%s: zip64 end record offset %llu outside the file", z->path,
                               (unsigned long long)off64);
            if ((st = read_at(z, off64, r, 56, err))) return st;
            if (ts_get_u32le(r) != SIG_EOCD64) return ts_fail(err, TS_EFORMAT, "%s: bad zip64 end record", z->path);
            *entries = ts_get_u64le(r + 32);
            *cd_size = ts_get_u64le(r + 40);
            *cd_off = ts_get_u64le(r + 48);
        }
    }
    if (*cd_off > z->file_size || *cd_size > z->file_size - *cd_off)
        return ts_fail(err, TS_EFORMAT, "%s: central directory outside the file (truncated zip?)", z->path);
    if (*entries > *cd_size / CENTRAL_LEN)
        return ts_fail(err, TS_EFORMAT, "%s: %llu entries cannot fit a %llu-byte central directory", z->path,
                       (unsigned long long)*entries, (unsigned long long)*cd_size);
    return TS_OK;
}

/* Apply the zip64 extended-information extra field (id 0x0001). */
static ts_status zip64_extra(const ts_zip *z, const uint8_t *x, size_t xlen, zip_member *m, int need_u, int need_c,
                             int need_o, ts_error *err) {
    size_t i = 0;
    while (i + 4 <= xlen) {
        uint16_t id = u16(x + i), len = u16(x + i + 2);
        if (i + 4 + len > xlen) break;
        if (id == 1) {
            const uint8_t *p = x + i + 4;
            size_t k = 0;
            if (need_u) { if (k + 8 > len) goto bad; m->usize = ts_get_u64le(p + k); k += 8; }
            if (need_c) { if (k + 8 > len) goto bad; m->csize = ts_get_u64le(p + k); k += 8; }
            if (need_o) { if (k + 8 > len) goto bad; m->local_off = ts_get_u64le(p + k); k += 8; }
            return TS_OK;
        }
        i += 4 + (size_t)len;
    }
    if (!need_u && !need_c && !need_o) return TS_OK;
bad:
    return ts_fail(err, TS_EFORMAT, "%s: member %zu: zip64 sizes missing from its extra field", z->path, z->n);
}

static int by_name(const void *a, const void *b, void *ctx) {
    const ts_zip *z = ctx;
    int c = strcmp(z->names + z->m[*(const size_t *)a].name_off, z->names + z->m[*(const size_t *)b].name_off);
    if (c) return c;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1; /* first of equal names wins */
}

static ts_status read_directory(ts_zip *z, uint64_t cd_off, uint64_t cd_size, uint64_t entries, ts_error *err) {
    uint8_t *cd = malloc(cd_size ? (size_t)cd_size : 1);
    z->m = calloc(entries ? (size_t)entries : 1, sizeof *z->m);
    z->names = malloc(cd_size ? (size_t)cd_size : 1); /* names are shorter than the directory */
    z->sorted = malloc((entries ? (size_t)entries : 1) * sizeof *z->sorted);
    if (!cd || !z->m || !z->names || !z->sorted) {
        free(cd);
        return ts_fail(err, TS_ENOMEM, "out of memory for a %llu-entry zip directory", (unsigned long long)entries);
    }
    ts_status st = read_at(z, cd_off, cd, (size_t)cd_size, err);
    size_t pos = 0, names_len = 0;
    for (uint64_t i = 0; !st && i < entries; i++) {
        const uint8_t *h = cd + pos;
        if (pos + CENTRAL_LEN > cd_size || ts_get_u32le(h) != SIG_CENTRAL) {
            st = ts_fail(err, TS_EFORMAT, "%s: central directory entry %llu is corrupt", z->path, (unsigned long long)i);
            break;
        }
        size_t nlen = u16(h + 28), xlen = u16(h + 30), clen = u16(h + 32);
        if (pos + CENTRAL_LEN + nlen + xlen + clen > cd_size) {
            st = ts_fail(err, TS_EFORMAT, "%s: central directory entry %llu overruns the directory", z->path,
                         (unsigned long long)i);
            break;
        }
        zip_member *m = &z->m[z->n];
        m->flags = u16(h + 8);
        m->method = u16(h + 10);
        m->crc = ts_get_u32le(h + 16);
        m->csize = ts_get_u32le(h + 20);
        m->usize = ts_get_u32le(h + 24);
        m->local_off = ts_get_u32le(h + 42);
        st = zip64_extra(z, h + CENTRAL_LEN + nlen, xlen, m, m->usize == 0xFFFFFFFFu, m->csize == 0xFFFFFFFFu,
                         m->local_off == 0xFFFFFFFFu, err);
        if (st) break;
        if (memchr(h + CENTRAL_LEN, 0, nlen)) {
            st = ts_fail(err, TS_EFORMAT, "%s: member %llu has a NUL in its name", z->path, (unsigned long long)i);
            break;
        }
        m->name_off = names_len;
        memcpy(z->names + names_len, h + CENTRAL_LEN, nlen);
        names_len += nlen;
        z->names[names_len++] = 0;
        z->sorted[z->n] = z->n;
        z->n++;
        pos += CENTRAL_LEN + nlen + xlen + clen;
    }
    free(cd);
    if (st) return st;
    qsort_r(z->sorted, z->n, sizeof *z->sorted, by_name, z);
    return TS_OK;
}

ts_status ts_zip_open(const char *path, ts_zip **out, ts_error *err) {
    *out = NULL;
    ts_zip *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path))) {
        free(z);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (z->fd < 0 || fstat(z->fd, &sb) != 0) {
        ts_status st = ts_fail_errno(err, TS_EIO, "%s", path);
        ts_zip_close(z);
        return st;
    }
    z->file_size = (uint64_t)sb.st_size;
    uint64_t cd_off = 0, cd_size = 0, entries = 0;
    ts_status st = find_directory(z, &cd_off, &cd_size, &entries, err);
    if (!st) st = read_directory(z, cd_off, cd_size, entries, err);
    if (st) {
        ts_zip_close(z);
        return st;
    }
    *out = z;
    return TS_OK;
}

size_t ts_zip_count(const ts_zip *z) { return z->n; }
const char *ts_zip_name(const ts_zip *z, size_t i) { return z->names + z->m[i].name_off; }
uint64_t ts_zip_size(const ts_zip *z, size_t i) { return z->m[i].usize; }

long ts_zip_find(const ts_zip *z, const char *name) {
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(z->names + z->m[z->sorted[mid]].name_off, name);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < z->n && strcmp(z->names + z->m[z->sorted[lo]].name_off, name) == 0) return (long)z->sorted[lo];
    return -1;
}

static ts_status inflate_into(const ts_zip *z, const char *name, const uint8_t *src, uint64_t n, uint8_t *dst,
                              uint64_t usize, ts_error *err) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return ts_fail(err, TS_ENOMEM, "out of memory (zlib)");
    s.next_in = (Bytef *)src;
    s.avail_in = (uInt)n;
    s.next_out = dst;
    s.avail_out = (uInt)usize;
    int rc = inflate(&s, Z_FINISH);
    uint64_t produced = s.total_out;
    inflateEnd(&s);
    if (rc != Z_STREAM_END || produced != usize)
        return ts_fail(err, TS_EFORMAT, "%s: %s: deflate data is corrupt (%s, %llu of %llu bytes)", z->path, name,
                       rc == Z_STREAM_END ? "wrong size" : (s.msg ? s.msg : "truncated"),
                       (unsigned long long)produced, (unsigned long long)usize);
    return TS_OK;
}

ts_status ts_zip_read(const ts_zip *z, size_t i, size_t max_bytes, ts_buf *out, ts_error *err) {
    const zip_member *m = &z->m[i];
    const char *name = ts_zip_name(z, i);
    if (!max_bytes) max_bytes = DEFAULT_MAX;
    if (m->flags & 1) return ts_fail(err, TS_EUNSUPPORTED, "%s: %s: encrypted members are not supported", z->path, name);
    if (m->method != 0 && m->method != 8)
        return ts_fail(err, TS_EUNSUPPORTED, "%s: %s: compression method %u (only stored and deflate)", z->path, name,
                       m->method);
    if (m->usize > max_bytes || m->csize > max_bytes || m->csize > UINT32_MAX || m->usize > UINT32_MAX)
        return ts_fail(err, TS_ELIMIT, "%s: %s: %llu bytes, over the %zu-byte limit", z->path, name,
                       (unsigned long long)m->usize, max_bytes);
    uint8_t lh[LOCAL_LEN];
    if (m->local_off > z->file_size || z->file_size - m->local_off < LOCAL_LEN)
        return ts_fail(err, TS_EFORMAT, "%s: %s: local header outside the file", z->path, name);
    ts_status st = read_at(z, m->local_off, lh, LOCAL_LEN, err);
    if (st) return ts_error_context(err, "%s: ", name);
    if (ts_get_u32le(lh) != SIG_LOCAL) return ts_fail(err, TS_EFORMAT, "%s: %s: bad local header", z->path, name);
    uint64_t data_off = m->local_off + LOCAL_LEN + u16(lh + 26) + u16(lh + 28);
    if (data_off > z->file_size || z->file_size - data_off < m->csize)
        return ts_fail(err, TS_EFORMAT, "%s: %s: data runs past the end of the file (truncated zip?)", z->path, name);
    if ((st = ts_buf_reserve(out, (size_t)m->usize + 1, err))) return st;
    uint8_t *dst = out->data + out->len;
    if (m->method == 0) {
        if (m->csize != m->usize)
            return ts_fail(err, TS_EFORMAT, "%s: %s: stored member with different sizes", z->path, name);
        if ((st = read_at(z, data_off, dst, (size_t)m->usize, err))) return ts_error_context(err, "%s: ", name);
    } else {
        uint8_t *src = malloc(m->csize ? (size_t)m->csize : 1);
        if (!src) return ts_fail(err, TS_ENOMEM, "out of memory");
        st = read_at(z, data_off, src, (size_t)m->csize, err);
        if (!st) st = inflate_into(z, name, src, m->csize, dst, m->usize, err);
        free(src);
        if (st) return st;
    }
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), dst, (uInt)m->usize);
    if (crc != m->crc)
        return ts_fail(err, TS_ECHECKSUM, "%s: %s: CRC-32 %08x, the directory says %08x", z->path, name, crc, m->crc);
    out->len += (size_t)m->usize;
    return TS_OK;
}
