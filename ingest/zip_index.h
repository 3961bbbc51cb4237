/* Random access to the members of a zip archive by name, for image archives
 * of many GB (COCO train2017.zip: 118k members, 18 GB) that a join reads in
 * record order, not archive order. libarchive reads zips front to back and
 * cannot seek to a named member, so this reads the central directory once
 * (end-of-central-directory record, zip64 aware) and keeps, per member, its
 * name, method, sizes, CRC-32 and local header offset; a member read seeks
 * there, inflates (stored or deflate, zlib) and checks size and CRC-32.
 *
 * Memory: about 48 bytes + the name length per member (COCO train2017: ~8 MB).
 * Reads are positioned (pread), so one index serves several threads. */
#ifndef TS_INGEST_ZIP_INDEX_H
#define TS_INGEST_ZIP_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

typedef struct ts_zip ts_zip;

/* TS_EFORMAT for no zip / a corrupt central directory, TS_EUNSUPPORTED for
 * multi-disk archives and encrypted members are refused at read time. */
ts_status ts_zip_open(const char *path, ts_zip **out, ts_error *err);
void ts_zip_close(ts_zip *z);

size_t ts_zip_count(const ts_zip *z);
/* Name and uncompressed size of member i, in central-directory order. */
const char *ts_zip_name(const ts_zip *z, size_t i);
uint64_t ts_zip_size(const ts_zip *z, size_t i);
/* Index of the member called `name` (exact, byte for byte); -1 when absent. */
long ts_zip_find(const ts_zip *z, const char *name);

/* Append member i's uncompressed bytes to `out`. TS_ELIMIT above max_bytes
 * (0: 1 GiB); TS_EUNSUPPORTED for methods other than stored/deflate or
 * encrypted members; TS_EFORMAT/TS_ECHECKSUM for corrupt or truncated data.
 * Messages name the archive and the member. */
ts_status ts_zip_read(const ts_zip *z, size_t i, size_t max_bytes, ts_buf *out, ts_error *err);

#endif
