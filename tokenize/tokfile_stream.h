/* Sequential reader of the tokenized-sample file (tokfile.h, docs/TOKENIZER.md)
 * for consumers that stream it front to back in bounded memory (the Megatron
 * export): only the current record is held, never the whole file.
 *
 * The same checks as ts_tokfile_load, spread over the pass: magic, version
 * and index bounds at open; each record must start at its index entry and fit
 * before the index; the xxh3-64 of every byte before the footer is verified
 * when the last record has been returned, so a consumer learns of a
 * corrupt file at the latest from the call that would report the end
 * (it must then discard what it made, e.g. abort its atomic writers). */
#ifndef TS_TOKENIZE_TOKFILE_STREAM_H
#define TS_TOKENIZE_TOKFILE_STREAM_H

#include "tokenize/tokfile.h"

typedef struct ts_tokfile_stream ts_tokfile_stream;

ts_status ts_tokfile_stream_open(const char *path, ts_tokfile_stream **out, ts_error *err);
uint64_t ts_tokfile_stream_records(const ts_tokfile_stream *s);
/* The next record (pointers valid until the next call). TS_ENOTFOUND after
 * the last record, once the index and the checksum have been verified. */
ts_status ts_tokfile_stream_next(ts_tokfile_stream *s, ts_tokfile_record *r, ts_error *err);
void ts_tokfile_stream_close(ts_tokfile_stream *s);

#endif
