/* The download journal: append-only JSONL of settled URLs, so a re-run skips
 * what is done and retries only retryable failures. In memory it is a set of
 * xxh3-128(url) -> last outcome (17 bytes a URL, open addressing). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/io.h"
#include "core/json.h"
#include "ingest/download.h"

typedef struct slot {
    ts_hash128 key;
    uint8_t used, outcome;
} slot;

struct ts_journal {
    char *path;
    FILE *f;
    slot *slots;
    size_t cap, count;
    size_t sync_every, unsynced;
};

static slot *find_slot(slot *slots, size_t cap, ts_hash128 k) {
    size_t i = (size_t)(k.lo & (cap - 1));
    while (slots[i].used && !ts_hash128_equal(slots[i].key, k)) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static ts_status put(ts_journal *j, const char *url, ts_outcome o, ts_error *err) {
    if ((j->count + 1) * 10 > j->cap * 7) {
        size_t ncap = j->cap ? j->cap * 2 : 1024;
        slot *ns = calloc(ncap, sizeof *ns);
        if (!ns) return ts_fail(err, TS_ENOMEM, "journal: out of memory at %zu URLs", j->count);
        for (size_t i = 0; i < j->cap; i++)
            if (j->slots[i].used) *find_slot(ns, ncap, j->slots[i].key) = j->slots[i];
        free(j->slots);
        j->slots = ns;
        j->cap = ncap;
    }
    ts_hash128 k = ts_xxh3_128(url, strlen(url));
    slot *s = find_slot(j->slots, j->cap, k);
    if (!s->used) j->count++;
    s->used = 1;
    s->key = k;
    s->outcome = (uint8_t)o;
    return TS_OK;
}

/* Load the lines of an existing journal. Only the last line may be torn (a
 * crash mid-append); a bad line elsewhere means the file is not a journal. */
static ts_status load(ts_journal *j, ts_error *err) {
    if (access(j->path, F_OK) != 0) return TS_OK;
    ts_line_reader *r;
    ts_status st = ts_line_reader_open(&r, j->path, err);
    if (st != TS_OK) return st;
    const char *line;
    size_t len;
    uint64_t bad_line = 0;
    while ((st = ts_line_reader_next(r, &line, &len, err)) == TS_OK) {
        if (bad_line) {
            st = ts_fail(err, TS_EFORMAT, "%s: line %llu: not a journal entry", j->path,
                         (unsigned long long)bad_line);
            break;
        }
        cJSON *obj = NULL;
        ts_outcome o;
        const char *url;
        if (len == 0) continue;
        if (ts_json_parse(line, len, &obj, NULL) != TS_OK || !(url = ts_json_str(obj, "url", NULL)) ||
            ts_outcome_parse(ts_json_str(obj, "outcome", ""), &o) != TS_OK) {
            bad_line = ts_line_reader_line_number(r);
            cJSON_Delete(obj);
            continue;
        }
        st = put(j, url, o, err);
        cJSON_Delete(obj);
        if (st != TS_OK) break;
    }
    ts_line_reader_close(r);
    if (st == TS_ENOTFOUND) st = TS_OK;
    return st;
}

/* A crash mid-append leaves a last line without its '\n' (load() skipped
 * it). Cut it off so the next append starts on a line of its own. */
static ts_status drop_torn_tail(int fd, const char *path, ts_error *err) {
    off_t end = lseek(fd, 0, SEEK_END), pos = end;
    char buf[4096];
    while (pos > 0) {
        size_t n = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
        if (pread(fd, buf, n, pos - (off_t)n) != (ssize_t)n) return ts_fail_errno(err, TS_EIO, "%s: read", path);
        size_t i = n;
        while (i > 0 && buf[i - 1] != '\n') i--;
        if (i > 0) {
            pos = pos - (off_t)n + (off_t)i;
            break;
        }
        pos -= (off_t)n;
    }
    if (pos != end && ftruncate(fd, pos) != 0) return ts_fail_errno(err, TS_EIO, "%s: truncate", path);
    return TS_OK;
}

ts_status ts_journal_open(ts_journal **out, const char *path, size_t sync_every, ts_error *err) {
    *out = NULL;
    ts_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return ts_fail(err, TS_ENOMEM, "journal: out of memory");
    }
    j->sync_every = sync_every ? sync_every : 1000;
    ts_status st = load(j, err);
    if (st == TS_OK) {
        int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) st = ts_fail_errno(err, TS_EIO, "%s: open journal", path);
        else {
            st = drop_torn_tail(fd, path, err);
            if (st == TS_OK && !(j->f = fdopen(fd, "a"))) st = ts_fail_errno(err, TS_EIO, "%s: fdopen", path);
            if (!j->f) close(fd);
        }
    }
    if (st != TS_OK) {
        ts_journal_close(j, NULL);
        return st;
    }
    *out = j;
    return TS_OK;
}

int ts_journal_lookup(const ts_journal *j, const char *url, ts_outcome *out) {
    if (!j->cap) return 0;
    slot *s = find_slot(j->slots, j->cap, ts_xxh3_128(url, strlen(url)));
    if (!s->used) return 0;
    *out = (ts_outcome)s->outcome;
    return 1;
}

int ts_journal_needs_fetch(const ts_journal *j, const char *url) {
    ts_outcome o;
    return !ts_journal_lookup(j, url, &o) || ts_outcome_is_retryable(o);
}

size_t ts_journal_count(const ts_journal *j) { return j->count; }

ts_status ts_journal_sync(ts_journal *j, ts_error *err) {
    if (fflush(j->f) != 0 || fsync(fileno(j->f)) != 0)
        return ts_fail_errno(err, TS_EIO, "%s: sync journal", j->path);
    j->unsynced = 0;
    return TS_OK;
}

ts_status ts_journal_append(ts_journal *j, const ts_download_result *r, ts_error *err) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "url", r->url) ||
        !cJSON_AddStringToObject(o, "outcome", ts_outcome_name(r->outcome)) ||
        !cJSON_AddNumberToObject(o, "http", (double)r->http_status) ||
        !cJSON_AddNumberToObject(o, "attempts", r->attempts) ||
        !cJSON_AddNumberToObject(o, "bytes", (double)r->bytes) ||
        !cJSON_AddNumberToObject(o, "time", (double)time(NULL))) {
        cJSON_Delete(o);
        return ts_fail(err, TS_ENOMEM, "journal: out of memory");
    }
    ts_status st = ts_json_write_line(j->f, o, err);
    cJSON_Delete(o);
    if (st != TS_OK) return ts_error_context(err, "%s", j->path);
    if ((st = put(j, r->url, r->outcome, err)) != TS_OK) return st;
    if (++j->unsynced >= j->sync_every) return ts_journal_sync(j, err);
    /* Each line reaches the kernel at once (a killed process loses none);
     * fsync, for power loss, goes in batches. */
    if (fflush(j->f) != 0) return ts_fail_errno(err, TS_EIO, "%s: write", j->path);
    return TS_OK;
}

ts_status ts_journal_close(ts_journal *j, ts_error *err) {
    if (!j) return TS_OK;
    ts_status st = TS_OK;
    if (j->f) {
        st = ts_journal_sync(j, err);
        if (fclose(j->f) != 0 && st == TS_OK) st = ts_fail_errno(err, TS_EIO, "%s: close", j->path);
    }
    free(j->slots);
    free(j->path);
    free(j);
    return st;
}
