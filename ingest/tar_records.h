/* WebDataset-style samples from tar (plain, .gz, .zst, ...) and zip archives
 * via libarchive: consecutive members whose names share a key (the path up to
 * the first dot of the file name) form one record
 *   {"__key__": "dir/000017", "jpg": "<base64>", "txt": "a caption"}
 * Member values are strings when they are valid UTF-8 text, base64 otherwise.
 * Internal to records.c. */
#ifndef TS_INGEST_TAR_RECORDS_H
#define TS_INGEST_TAR_RECORDS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/error.h"

typedef struct ts_tar_records ts_tar_records;

ts_status ts_tar_records_open(ts_tar_records **out, const char *path, size_t max_member_bytes,
                              ts_error *err);
/* Next sample; TS_ENOTFOUND at the end. Errors name the archive and member. */
ts_status ts_tar_records_next(ts_tar_records *t, cJSON **out, ts_error *err);
void ts_tar_records_close(ts_tar_records *t);

#endif
