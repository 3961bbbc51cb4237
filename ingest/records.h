/* Raw records of a source file, in file order, as JSON objects: the reader
 * behind `tessera cat` and the front of the ingest stage.
 *
 * Formats (TS_REC_AUTO picks one from the magic bytes and the extension):
 *   parquet  one object per row (ingest/parquet.h, JSON form in docs/PARQUET.md)
 *   jsonl    one JSON value per non-blank line (.jsonl/.ndjson; plain, .gz, .zst)
 *   json     a top-level array streamed element by element, or a sequence of
 *            top-level values (plain, .gz, .zst)
 *   csv/tsv  RFC 4180: the first record is the header; every value is a string
 *   tar      tar (any libarchive filter: .gz, .zst, ...) or zip; members grouped
 *            into WebDataset samples {"__key__": "a/000017", "jpg": <base64>,
 *            "txt": "..."}: text members (valid UTF-8) as strings, others base64
 *
 * With columns set, each record holds exactly those keys in that order (null
 * where absent); for parquet only those columns are read at all. */
#ifndef TS_INGEST_RECORDS_H
#define TS_INGEST_RECORDS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum ts_rec_format {
    TS_REC_AUTO = 0,
    TS_REC_PARQUET,
    TS_REC_JSONL,
    TS_REC_JSON,
    TS_REC_CSV,
    TS_REC_TSV,
    TS_REC_TAR,
} ts_rec_format;

typedef struct ts_rec_options {
    ts_rec_format format;
    const char *const *columns; /* NULL: all */
    size_t ncolumns;
    size_t max_record_bytes;    /* one JSON line/element, CSV record or tar member; 0: 256 MiB */
    uint64_t max_row_group_bytes; /* parquet, see ts_pq_options; 0: default */
} ts_rec_options;

typedef struct ts_record_reader ts_record_reader;

ts_status ts_record_reader_open(ts_record_reader **out, const char *path, const ts_rec_options *opt,
                                ts_error *err);
/* Next record (caller frees with cJSON_Delete); TS_ENOTFOUND at the end.
 * Errors name the file and the line, element, record or row. */
ts_status ts_record_reader_next(ts_record_reader *r, cJSON **record, ts_error *err);
/* Count the remaining records; for parquet this decodes every value of the
 * selected columns without building JSON (ts_parquet_scan), and adds the
 * decoded value bytes to *value_bytes (0 for the other formats). */
ts_status ts_record_reader_count(ts_record_reader *r, uint64_t *records, uint64_t *value_bytes,
                                 ts_error *err);
ts_rec_format ts_record_reader_format(const ts_record_reader *r);
const char *ts_rec_format_name(ts_rec_format f);
/* "parquet", "jsonl", ... -> format; TS_REC_AUTO for an unknown name. */
ts_rec_format ts_rec_format_parse(const char *name);
void ts_record_reader_close(ts_record_reader *r);

#endif
