#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

ts_status ts_read_file(const char *path, size_t max_bytes, ts_buf *out, ts_error *err) {
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return ts_fail(err, TS_EINVAL, "%s: is a directory", path);
    }
    size_t start = out->len;
    ts_status rc = TS_OK;
    for (;;) {
        if ((rc = ts_buf_reserve(out, 1 << 16, err))) break;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = ts_fail_errno(err, TS_EIO, "%s: read failed", path);
            break;
        }
        if (n == 0) break;
        out->len += (size_t)n;
        if (out->len - start > max_bytes) {
            rc = ts_fail(err, TS_ELIMIT, "%s: larger than the limit of %zu bytes", path, max_bytes);
            break;
        }
    }
    if (fd != STDIN_FILENO) close(fd);
    if (rc) out->len = start;
    return rc;
}

ts_status ts_mkdirs(const char *path, ts_error *err) {
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return ts_fail(err, TS_EINVAL, "bad directory path '%s'", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return ts_fail_errno(err, TS_EIO, "%s: cannot create directory", tmp);
        tmp[i] = saved;
    }
    return TS_OK;
}
