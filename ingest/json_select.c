/* Streaming selection of one array or object in a JSON document: see
 * json_select.h. A small scanner finds value boundaries (strings, nesting)
 * without building anything; cJSON parses each selected element. */
#include "ingest/json_select.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/byte_source.h"
#include "core/json.h"

#define DEFAULT_MAX ((size_t)256 << 20)

enum { FIRST, AFTER, DONE };

struct ts_json_select {
    ts_byte_source *src;
    char *path;
    const uint8_t *blk;
    size_t pos, len;
    uint64_t blk_start; /* offset of blk[0] in the stream */
    size_t max;
    int is_object, state;
    uint64_t index; /* elements returned so far */
    ts_buf tok, name;
};

/* Next byte, -1 at the end, -2 on a read error (err filled). */
static int next_byte(ts_json_select *s, ts_error *err) {
    if (s->pos < s->len) return s->blk[s->pos++];
    s->blk_start += s->len;
    s->pos = s->len = 0;
    ts_status st = ts_byte_source_next(s->src, &s->blk, &s->len, err);
    if (st == TS_ENOTFOUND) return -1;
    if (st) return -2;
    return s->blk[s->pos++];
}

static uint64_t offset(const ts_json_select *s) { return s->blk_start + s->pos; }

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The next byte that is not whitespace (consumed). */
static int next_nonspace(ts_json_select *s, ts_error *err) {
    int c;
    while ((c = next_byte(s, err)) >= 0 && is_space(c)) {}
    return c;
}

static ts_status fail_at(ts_json_select *s, int c, const char *what, ts_error *err) {
    if (c == -2) return ts_error_context(err, "%s", s->path);
    return ts_fail(err, TS_EFORMAT, "%s: byte %llu: %s", s->path, (unsigned long long)offset(s),
                   c == -1 ? "unexpected end of the document" : what);
}

/* One JSON value starting with byte c (already consumed): its bytes are
 * appended to `out` (NULL: skipped). The byte after a scalar is left unread. */
static ts_status read_value(ts_json_select *s, int c, ts_buf *out, ts_error *err) {
    if (c < 0) return fail_at(s, c, "", err);
    uint8_t first = (uint8_t)c;
    if (out && ts_buf_append(out, &first, 1, err)) return TS_ENOMEM;
    if (c != '{' && c != '[' && c != '"') { /* a scalar: up to a delimiter */
        for (;;) {
            size_t start = s->pos;
            while (s->pos < s->len) {
                uint8_t b = s->blk[s->pos];
                if (is_space(b) || b == ',' || b == ']' || b == '}' || b == ':') break;
                s->pos++;
            }
            if (out && ts_buf_append(out, s->blk + start, s->pos - start, err)) return TS_ENOMEM;
            if (s->pos < s->len) return TS_OK;
            int n = next_byte(s, err);
            if (n == -1) return TS_OK;
            if (n == -2) return fail_at(s, n, "", err);
            s->pos--; /* look at it again in the loop */
        }
    }
    int depth = c == '"' ? 0 : 1, in_str = c == '"', esc = 0;
    for (;;) {
        size_t start = s->pos;
        while (s->pos < s->len) {
            uint8_t b = s->blk[s->pos++];
            if (in_str) {
                if (esc) esc = 0;
                else if (b == '\\') esc = 1;
                else if (b == '"') in_str = 0;
            } else if (b == '"') {
                in_str = 1;
            } else if (b == '{' || b == '[') {
                depth++;
            } else if (b == '}' || b == ']') {
                depth--;
            }
            if (!in_str && depth == 0) break;
        }
        if (out) {
            if (out->len + (s->pos - start) > s->max)
                return ts_fail(err, TS_ELIMIT, "%s: element %llu is longer than %zu bytes", s->path,
                               (unsigned long long)s->index, s->max);
            if (ts_buf_append(out, s->blk + start, s->pos - start, err)) return TS_ENOMEM;
        }
        if (!in_str && depth == 0) return TS_OK;
        int n = next_byte(s, err);
        if (n < 0) return fail_at(s, n, "", err);
        s->pos--;
    }
}

/* A member name (the opening quote consumed) into s->name, unescaped. */
static ts_status read_name(ts_json_select *s, ts_error *err) {
    ts_buf_reset(&s->tok);
    ts_status st = read_value(s, '"', &s->tok, err);
    if (st) return st;
    ts_buf_reset(&s->name);
    if (!memchr(s->tok.data, '\\', s->tok.len))
        return ts_buf_append(&s->name, s->tok.data + 1, s->tok.len - 2, err) || ts_buf_append(&s->name, "", 1, err)
                   ? TS_ENOMEM
                   : TS_OK;
    cJSON *j = NULL;
    if (ts_json_parse((const char *)s->tok.data, s->tok.len, &j, err)) return fail_at(s, 0, "bad member name", err);
    st = ts_buf_append(&s->name, j->valuestring, strlen(j->valuestring) + 1, err) ? TS_ENOMEM : TS_OK;
    cJSON_Delete(j);
    return st;
}

/* Inside an object (its '{' consumed): move past the ':' of the first member
 * called `want`; 0 when there is none. */
static ts_status find_member(ts_json_select *s, const char *want, int *found, ts_error *err) {
    *found = 0;
    int c = next_nonspace(s, err);
    if (c == '}') return TS_OK;
    for (;;) {
        if (c != '"') return fail_at(s, c, "expected a member name", err);
        ts_status st = read_name(s, err);
        if (st) return st;
        if ((c = next_nonspace(s, err)) != ':') return fail_at(s, c, "expected ':'", err);
        if (strcmp((const char *)s->name.data, want) == 0) return *found = 1, TS_OK;
        if ((st = read_value(s, next_nonspace(s, err), NULL, err))) return st;
        c = next_nonspace(s, err);
        if (c == '}') return TS_OK;
        if (c != ',') return fail_at(s, c, "expected ',' or '}'", err);
        c = next_nonspace(s, err);
    }
}

/* Inside an array (its '[' consumed): move to element `want`; 0 when the
 * array is shorter. */
static ts_status find_element(ts_json_select *s, size_t want, int *found, ts_error *err) {
    *found = 0;
    int c = next_nonspace(s, err);
    if (c == ']') return TS_OK;
    for (size_t i = 0;; i++) {
        if (i == want) {
            if (c >= 0) s->pos--; /* the element's first byte, read again by the caller */
            return *found = 1, TS_OK;
        }
        ts_status st = read_value(s, c, NULL, err);
        if (st) return st;
        c = next_nonspace(s, err);
        if (c == ']') return TS_OK;
        if (c != ',') return fail_at(s, c, "expected ',' or ']'", err);
        c = next_nonspace(s, err);
    }
}

static ts_status descend(ts_json_select *s, const ts_fpath *select, ts_error *err) {
    size_t n = select ? ts_fpath_len(select) : 0;
    /* a UTF-8 byte order mark is skipped (as cJSON does) */
    int c0 = next_byte(s, err);
    if (c0 == 0xEF && s->len - s->pos >= 2 && s->blk[s->pos] == 0xBB && s->blk[s->pos + 1] == 0xBF) s->pos += 2;
    else if (c0 >= 0) s->pos--;
    int found = 1;
    for (size_t k = 0; k < n && found; k++) {
        const char *name;
        size_t index;
        ts_fstep_kind kind = ts_fpath_step(select, k, &name, &index);
        int c = next_nonspace(s, err);
        if (c == -2) return fail_at(s, c, "", err);
        ts_status st = TS_OK;
        if (kind == TS_FSTEP_MEMBER && c == '{') st = find_member(s, name, &found, err);
        else if (kind == TS_FSTEP_INDEX && c == '[') st = find_element(s, index, &found, err);
        else found = 0;
        if (st) return st;
    }
    int c = found ? next_nonspace(s, err) : 0;
    if (c == -2) return fail_at(s, c, "", err);
    if (c != '[' && c != '{')
        return ts_fail(err, TS_EFORMAT, "\"select\" '%s' is not an array or object in %s",
                       select ? ts_fpath_text(select) : "", s->path);
    s->is_object = c == '{';
    return TS_OK;
}

ts_status ts_json_select_open(ts_json_select **out, const char *path, const ts_fpath *select,
                              size_t max_element_bytes, ts_error *err) {
    *out = NULL;
    ts_json_select *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    s->max = max_element_bytes ? max_element_bytes : DEFAULT_MAX;
    ts_status st = ts_byte_source_open(&s->src, path, err);
    if (!st) st = descend(s, select, err);
    if (st) {
        ts_json_select_close(s);
        return st;
    }
    *out = s;
    return TS_OK;
}

int ts_json_select_is_object(const ts_json_select *s) { return s->is_object; }

ts_status ts_json_select_next(ts_json_select *s, cJSON **value, const char **name, ts_error *err) {
    *value = NULL;
    if (name) *name = NULL;
    if (s->state == DONE) return TS_ENOTFOUND;
    char close = s->is_object ? '}' : ']';
    int c = next_nonspace(s, err);
    if (c == close) return s->state = DONE, TS_ENOTFOUND;
    if (s->state == AFTER) {
        if (c != ',') return fail_at(s, c, s->is_object ? "expected ',' or '}'" : "expected ',' or ']'", err);
        c = next_nonspace(s, err);
    }
    s->state = AFTER;
    if (s->is_object) {
        if (c != '"') return fail_at(s, c, "expected a member name", err);
        ts_status st = read_name(s, err);
        if (st) return st;
        if ((c = next_nonspace(s, err)) != ':') return fail_at(s, c, "expected ':'", err);
        c = next_nonspace(s, err);
    }
    ts_buf_reset(&s->tok);
    ts_status st = read_value(s, c, &s->tok, err);
    if (st) return st;
    if (ts_json_parse((const char *)s->tok.data, s->tok.len, value, err))
        return ts_error_context(err, "%s: element %llu (byte %llu)", s->path, (unsigned long long)s->index,
                                (unsigned long long)offset(s));
    s->index++;
    if (name && s->is_object) *name = (const char *)s->name.data;
    return TS_OK;
}

void ts_json_select_close(ts_json_select *s) {
    if (!s) return;
    ts_byte_source_close(s->src);
    ts_buf_free(&s->tok);
    ts_buf_free(&s->name);
    free(s->path);
    free(s);
}
