/* One JSON document read as a stream of the elements of one array (or the
 * members of one object) inside it, named by a field path: VQAv2's
 * {"info": ..., "questions": [...]} read question by question, never the
 * whole document in memory. What lies outside the selected node is scanned
 * past, not parsed; only the elements are parsed (with cJSON), one at a time.
 * The file may be plain, gzip or zstd (core/byte_source.h). */
#ifndef TS_INGEST_JSON_SELECT_H
#define TS_INGEST_JSON_SELECT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "ingest/field_path.h"

typedef struct ts_json_select ts_json_select;

/* Open `path` and move to the node `select` names (member and [N] steps, no
 * [*]; NULL: the document itself). The node must be an array or an object:
 * else TS_EFORMAT naming the file and the path. An element longer than
 * max_element_bytes (0: 256 MiB) fails with TS_ELIMIT. */
ts_status ts_json_select_open(ts_json_select **out, const char *path, const ts_fpath *select,
                              size_t max_element_bytes, ts_error *err);
/* 1 when the selected node is an object (elements are its members). */
int ts_json_select_is_object(const ts_json_select *s);
/* The next element (the caller frees it) and, for an object, its member
 * name in *name (valid until the next call; NULL for an array).
 * TS_ENOTFOUND after the last; TS_EFORMAT naming the element and byte when
 * the document is not valid JSON there. */
ts_status ts_json_select_next(ts_json_select *s, cJSON **value, const char **name, ts_error *err);
void ts_json_select_close(ts_json_select *s);

#endif
