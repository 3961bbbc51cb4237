/* Format detection and the per-format record readers behind records.h. */
#include "ingest/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/json.h"
#include "core/byte_source.h"
#include "ingest/parquet.h"
#include "ingest/tar_records.h"

#define REC_DEFAULT_MAX (256u << 20)
#define NO_BYTE (-3)

enum { JSON_START, JSON_ARRAY, JSON_STREAM, JSON_DONE };

struct ts_record_reader {
    char *path;
    ts_rec_format format;
    ts_rec_options opt;
    size_t max;
    uint64_t index; /* records returned so far */
    ts_parquet *pq;
    ts_line_reader *lines;   /* jsonl: plain, gzip or zstd (core) */
    ts_byte_source *src;     /* json, csv: plain, gzip or zstd */
    ts_tar_records *tar;
    uint64_t line;           /* current line number, 1-based */
    ts_buf tok;              /* current line / element / field */
    int json_state;          /* json: JSON_START ... JSON_DONE */
    int pending;             /* json: a byte read past a value, or NO_BYTE */
    char **header;           /* csv */
    size_t nheader;
    char **fields;
    size_t nfields, fields_cap;
};

const char *ts_rec_format_name(ts_rec_format f) {
    static const char *names[] = {"auto", "parquet", "jsonl", "json", "csv", "tsv", "tar"};
    return (unsigned)f <= TS_REC_TAR ? names[f] : "?";
}

ts_rec_format ts_rec_format_parse(const char *name) {
    for (int f = TS_REC_PARQUET; f <= TS_REC_TAR; f++)
        if (strcmp(name, ts_rec_format_name((ts_rec_format)f)) == 0) return (ts_rec_format)f;
    return TS_REC_AUTO;
}

ts_rec_format ts_record_reader_format(const ts_record_reader *r) { return r->format; }

/* The extension under a compression suffix: "a.jsonl.gz" -> ".jsonl". */
static const char *inner_ext(const char *path, char *buf, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(buf, cap, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && (!strcasecmp(dot, ".gz") || !strcasecmp(dot, ".zst") || !strcasecmp(dot, ".zstd"))) *dot = 0;
    dot = strrchr(buf, '.');
    return dot ? dot : "";
}

static ts_status detect(const char *path, ts_rec_format *out, ts_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ts_fail_errno(err, TS_EIO, "%s", path);
    char m[262] = {0};
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    if (n >= 4 && memcmp(m, "PAR1", 4) == 0) return *out = TS_REC_PARQUET, TS_OK;
    if ((n >= 262 && memcmp(m + 257, "ustar", 5) == 0) || (n >= 4 && memcmp(m, "PK\x03\x04", 4) == 0))
        return *out = TS_REC_TAR, TS_OK;
    char buf[256];
    const char *ext = inner_ext(path, buf, sizeof buf);
    if (!strcasecmp(ext, ".parquet")) *out = TS_REC_PARQUET;
    else if (!strcasecmp(ext, ".jsonl") || !strcasecmp(ext, ".ndjson")) *out = TS_REC_JSONL;
    else if (!strcasecmp(ext, ".json")) *out = TS_REC_JSON;
    else if (!strcasecmp(ext, ".csv")) *out = TS_REC_CSV;
    else if (!strcasecmp(ext, ".tsv") || !strcasecmp(ext, ".tab")) *out = TS_REC_TSV;
    else if (!strcasecmp(ext, ".tar") || !strcasecmp(ext, ".tgz") || !strcasecmp(ext, ".zip")) *out = TS_REC_TAR;
    else return ts_fail(err, TS_EUNSUPPORTED, "%s: cannot tell the format (use --format)", path);
    return TS_OK;
}

/* ---- JSON lines ---- */

static ts_status jsonl_next(ts_record_reader *r, cJSON **out, ts_error *err) {
    for (;;) {
        const char *line;
        size_t len;
        ts_status st = ts_line_reader_next(r->lines, &line, &len, err);
        if (st == TS_ENOTFOUND) return st;
        if (st) return ts_error_context(err, "%s: line %llu: ", r->path, (unsigned long long)r->line + 1);
        r->line++;
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
        if (i == len) continue;
        st = ts_json_parse(line, len, out, err);
        if (st) return ts_error_context(err, "%s: line %llu: ", r->path, (unsigned long long)r->line);
        return TS_OK;
    }
}

/* ---- JSON: an array streamed element by element, or a sequence of values ---- */

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int next_nonspace(ts_record_reader *r, ts_error *err) {
    int c;
    while ((c = ts_byte_source_getc(r->src, err)) >= 0 && is_space(c)) {}
    return c;
}

/* Collect one JSON value starting with byte c into r->tok; *after is the first
 * byte after it that is not part of it (or -1). */
static ts_status collect_value(ts_record_reader *r, int c, int *after, ts_error *err) {
    ts_buf_reset(&r->tok);
    int depth = 0, in_str = 0, esc = 0;
    int scalar = c != '{' && c != '[' && c != '"';
    for (;;) {
        if (c == -2) return TS_EFORMAT;
        if (c == -1) {
            if (depth || in_str) return ts_fail(err, TS_EFORMAT, "unexpected end of input inside a value");
            *after = -1;
            return TS_OK;
        }
        if (!in_str && depth == 0 && r->tok.len > 0 &&
            (scalar ? (is_space(c) || c == ',' || c == ']') : 1)) {
            *after = c;
            return TS_OK;
        }
        if (r->tok.len >= r->max) return ts_fail(err, TS_ELIMIT, "value longer than %zu bytes", r->max);
        uint8_t ch = (uint8_t)c;
        if (ts_buf_append(&r->tok, &ch, 1, err)) return TS_ENOMEM;
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) return ts_fail(err, TS_EFORMAT, "unbalanced '%c'", c);
        }
        if (!scalar && depth == 0 && !in_str) { /* the closing byte of a container or string */
            *after = next_nonspace(r, err);
            if (*after == -2) return TS_EFORMAT;
            return TS_OK;
        }
        c = ts_byte_source_getc(r->src, err);
    }
}

/* The next byte that is not whitespace, taking a pushed-back byte first. */
static int json_peek(ts_record_reader *r, ts_error *err) {
    int c = r->pending;
    r->pending = NO_BYTE;
    if (c != NO_BYTE && !is_space(c)) return c;
    return next_nonspace(r, err);
}

static ts_status json_next(ts_record_reader *r, cJSON **out, ts_error *err) {
    if (r->json_state == JSON_DONE) return TS_ENOTFOUND;
    int c = json_peek(r, err);
    if (r->json_state == JSON_START && c == '[') {
        r->json_state = JSON_ARRAY;
        c = next_nonspace(r, err);
        if (c == ']') return r->json_state = JSON_DONE, TS_ENOTFOUND;
    } else if (r->json_state == JSON_START) {
        r->json_state = JSON_STREAM;
    }
    if (c == -2) return ts_error_context(err, "%s: ", r->path);
    if (c == -1) {
        if (r->json_state == JSON_ARRAY)
            return ts_fail(err, TS_EFORMAT, "%s: array not closed after element %llu", r->path,
                           (unsigned long long)r->index);
        return r->json_state = JSON_DONE, TS_ENOTFOUND;
    }
    int after = -1;
    ts_status st = collect_value(r, c, &after, err);
    if (!st) st = ts_json_parse((const char *)r->tok.data, r->tok.len, out, err);
    if (st) return ts_error_context(err, "%s: element %llu (byte %llu): ", r->path, (unsigned long long)r->index,
                                    (unsigned long long)ts_byte_source_offset(r->src));
    if (r->json_state == JSON_STREAM) {
        r->pending = after; /* the start of the next value, whitespace or the end */
        return TS_OK;
    }
    if (is_space(after)) after = next_nonspace(r, err);
    if (after == ']') {
        r->json_state = JSON_DONE;
    } else if (after != ',') {
        cJSON_Delete(*out);
        *out = NULL;
        return ts_fail(err, TS_EFORMAT, "%s: expected ',' or ']' after element %llu", r->path,
                       (unsigned long long)r->index);
    }
    return TS_OK;
}

/* ---- CSV / TSV (RFC 4180) ---- */

static ts_status csv_add_field(ts_record_reader *r, ts_error *err) {
    if (r->nfields == r->fields_cap) {
        size_t cap = r->fields_cap ? r->fields_cap * 2 : 16;
        char **f = realloc(r->fields, cap * sizeof *f);
        if (!f) return ts_fail(err, TS_ENOMEM, "out of memory");
        r->fields = f, r->fields_cap = cap;
    }
    char *s = malloc(r->tok.len + 1);
    if (!s) return ts_fail(err, TS_ENOMEM, "out of memory");
    if (r->tok.len) memcpy(s, r->tok.data, r->tok.len);
    s[r->tok.len] = 0;
    r->fields[r->nfields++] = s;
    ts_buf_reset(&r->tok);
    return TS_OK;
}

static void csv_clear(ts_record_reader *r) {
    for (size_t i = 0; i < r->nfields; i++) free(r->fields[i]);
    r->nfields = 0;
}

/* One record into r->fields; TS_ENOTFOUND at the end of input. */
static ts_status csv_record(ts_record_reader *r, ts_error *err) {
    int delim = r->format == TS_REC_TSV ? '\t' : ',';
    csv_clear(r);
    ts_buf_reset(&r->tok);
    int c = ts_byte_source_getc(r->src, err);
    if (c == -2) return TS_EFORMAT;
    if (c == -1) return TS_ENOTFOUND;
    r->line++;
    size_t total = 0;
    int quoted = 0, after_quote = 0, at_start = 1;
    for (;; c = ts_byte_source_getc(r->src, err)) {
        if (c == -2) return TS_EFORMAT;
        if (++total > r->max) return ts_fail(err, TS_ELIMIT, "record longer than %zu bytes", r->max);
        if (quoted) {
            if (c == -1) return ts_fail(err, TS_EFORMAT, "quoted field not closed at end of input");
            if (c == '"') {
                quoted = 0, after_quote = 1;
                continue;
            }
            if (c == '\n') r->line++;
        } else {
            if (c == '"' && (at_start || after_quote)) { /* opening quote, or "" inside a quoted field */
                if (after_quote) {
                    uint8_t q = '"';
                    if (ts_buf_append(&r->tok, &q, 1, err)) return TS_ENOMEM;
                }
                quoted = 1, after_quote = 0, at_start = 0;
                continue;
            }
            if (c == -1 || c == '\n' || c == delim) {
                if (c == '\n' && r->tok.len && r->tok.data[r->tok.len - 1] == '\r' && !after_quote) r->tok.len--;
                if (csv_add_field(r, err)) return TS_ENOMEM;
                if (c != delim) return TS_OK;
                at_start = 1, after_quote = 0;
                continue;
            }
            if (after_quote && c == '\r') continue; /* "...",\r\n */
            if (after_quote) return ts_fail(err, TS_EFORMAT, "character after a closing quote");
        }
        at_start = 0;
        uint8_t ch = (uint8_t)c;
        if (ts_buf_append(&r->tok, &ch, 1, err)) return TS_ENOMEM;
    }
}

static ts_status csv_next(ts_record_reader *r, cJSON **out, ts_error *err) {
    ts_status st;
    if (!r->header) {
        st = csv_record(r, err);
        if (st == TS_ENOTFOUND) return st;
        if (st) return ts_error_context(err, "%s: header: ", r->path);
        r->header = r->fields, r->nheader = r->nfields;
        r->fields = NULL, r->nfields = r->fields_cap = 0;
    }
    uint64_t line = r->line + 1;
    st = csv_record(r, err);
    if (st == TS_ENOTFOUND) return st;
    if (!st && r->nfields == 1 && r->fields[0][0] == 0) return csv_next(r, out, err); /* blank line */
    if (!st && r->nfields != r->nheader)
        st = ts_fail(err, TS_EFORMAT, "%zu fields where the header has %zu", r->nfields, r->nheader);
    if (st) return ts_error_context(err, "%s: record %llu (line %llu): ", r->path, (unsigned long long)r->index + 1,
                                    (unsigned long long)line);
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj && i < r->nfields; i++)
        if (!cJSON_AddStringToObject(obj, r->header[i], r->fields[i])) {
            cJSON_Delete(obj);
            obj = NULL;
        }
    if (!obj) return ts_fail(err, TS_ENOMEM, "out of memory");
    *out = obj;
    return TS_OK;
}

/* ---- the reader ---- */

ts_status ts_record_reader_open(ts_record_reader **out, const char *path, const ts_rec_options *opt,
                                ts_error *err) {
    *out = NULL;
    ts_record_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    if (opt) r->opt = *opt;
    r->max = r->opt.max_record_bytes ? r->opt.max_record_bytes : REC_DEFAULT_MAX;
    r->format = r->opt.format;
    r->pending = NO_BYTE;
    ts_status st = TS_OK;
    if (r->format == TS_REC_AUTO) st = detect(path, &r->format, err);
    if (!st && r->format == TS_REC_PARQUET) {
        ts_pq_options po = {r->opt.max_row_group_bytes};
        st = ts_parquet_open(&r->pq, path, &po, err);
        if (!st && r->opt.columns) st = ts_parquet_select(r->pq, r->opt.columns, r->opt.ncolumns, err);
    } else if (!st && r->format == TS_REC_JSONL) {
        st = ts_line_reader_open(&r->lines, path, err);
    } else if (!st && r->format == TS_REC_TAR) {
        st = ts_tar_records_open(&r->tar, path, r->max, err);
    } else if (!st) {
        st = ts_byte_source_open(&r->src, path, err);
    }
    if (st) {
        ts_record_reader_close(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

/* Keep only the requested keys, in the requested order. */
static ts_status project(ts_record_reader *r, cJSON **rec, ts_error *err) {
    if (!r->opt.columns || r->format == TS_REC_PARQUET) return TS_OK;
    cJSON *in = *rec, *obj = cJSON_CreateObject();
    if (!obj) return ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->opt.ncolumns; i++) {
        cJSON *v = cJSON_IsObject(in) ? cJSON_DetachItemFromObjectCaseSensitive(in, r->opt.columns[i]) : NULL;
        cJSON_AddItemToObject(obj, r->opt.columns[i], v ? v : cJSON_CreateNull());
    }
    cJSON_Delete(in);
    *rec = obj;
    return TS_OK;
}

ts_status ts_record_reader_next(ts_record_reader *r, cJSON **record, ts_error *err) {
    *record = NULL;
    ts_status st;
    switch (r->format) {
    case TS_REC_PARQUET: {
        const ts_pq_value *row;
        st = ts_parquet_next(r->pq, &row, err);
        if (!st && !(*record = ts_pq_row_to_json(r->pq, row))) st = ts_fail(err, TS_ENOMEM, "out of memory");
        break;
    }
    case TS_REC_JSONL: st = jsonl_next(r, record, err); break;
    case TS_REC_JSON: st = json_next(r, record, err); break;
    case TS_REC_TAR: st = ts_tar_records_next(r->tar, record, err); break;
    default: st = csv_next(r, record, err); break;
    }
    if (!st) st = project(r, record, err);
    if (!st) r->index++;
    return st;
}

ts_status ts_record_reader_count(ts_record_reader *r, uint64_t *records, uint64_t *value_bytes,
                                 ts_error *err) {
    if (r->format == TS_REC_PARQUET) return ts_parquet_scan(r->pq, records, value_bytes, err);
    for (;;) {
        cJSON *rec;
        ts_status st = ts_record_reader_next(r, &rec, err);
        if (st == TS_ENOTFOUND) return TS_OK;
        if (st) return st;
        cJSON_Delete(rec);
        (*records)++;
    }
}

void ts_record_reader_close(ts_record_reader *r) {
    if (!r) return;
    ts_parquet_close(r->pq);
    ts_line_reader_close(r->lines);
    ts_byte_source_close(r->src);
    ts_tar_records_close(r->tar);
    csv_clear(r);
    free(r->fields);
    for (size_t i = 0; i < r->nheader; i++) free(r->header[i]);
    free(r->header);
    ts_buf_free(&r->tok);
    free(r->path);
    free(r);
}
