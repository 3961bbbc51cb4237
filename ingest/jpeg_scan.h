/* A structural check of a JPEG without decoding it: the marker segments
 * are walked (lengths within the data, a frame header before the first
 * scan, each scan's entropy-coded bytes followed by a marker) up to the EOI
 * marker. It catches truncation (no EOI), a missing or malformed frame
 * header, segments that run past the end and images over a pixel limit. It
 * does not decode the entropy-coded data, so corrupted bytes inside a scan
 * pass; the full decode check (tiler/decode.h) catches those. */
#ifndef TS_INGEST_JPEG_SCAN_H
#define TS_INGEST_JPEG_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* TS_OK for a well-formed JPEG; TS_EFORMAT naming what is wrong (and the
 * byte offset), TS_ELIMIT when width x height exceeds max_pixels (0: no
 * limit). */
ts_status ts_jpeg_scan(const uint8_t *data, size_t len, uint64_t max_pixels, ts_error *err);

#endif
