/* A minimal writer of uncompressed POSIX ustar archives, the container of
 * WebDataset/Energon shards. Members are regular files with fixed metadata
 * (mode 0644, uid/gid 0, mtime 0, no owner names) so the same members give
 * byte-identical tars. Names must fit the 100-byte ustar name field (no
 * prefix split, no PAX/GNU extensions), so a member's first header block is
 * always the block at its offset.
 *
 * Layout: per member a 512-byte header then the data zero-padded to 512;
 * the archive ends with two zero blocks. Written through the core atomic
 * writer: nothing appears under the final name until ts_tar_commit(). */
#ifndef TS_INGEST_TAR_WRITER_H
#define TS_INGEST_TAR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define TS_TAR_BLOCK 512u
#define TS_TAR_NAME_MAX 100u
/* 11 octal digits in the size field. */
#define TS_TAR_MEMBER_MAX ((uint64_t)077777777777)

typedef struct ts_tar_writer ts_tar_writer;

ts_status ts_tar_open(ts_tar_writer **out, const char *path, ts_error *err);
/* Append one regular-file member. */
ts_status ts_tar_add(ts_tar_writer *t, const char *name, const void *data, size_t n, ts_error *err);
/* Offset of the next member's header = end of the data written so far. */
uint64_t ts_tar_offset(const ts_tar_writer *t);
/* Bytes a member of `n` data bytes takes (header + padded data). */
uint64_t ts_tar_member_size(uint64_t n);
/* Write the end-of-archive blocks and commit. *size and *xxh3 (either may be
 * NULL) receive the archive's final size and xxh3-64. Frees `t`. */
ts_status ts_tar_commit(ts_tar_writer *t, uint64_t *size, uint64_t *xxh3, ts_error *err);
/* Drop the temporary file and free. NULL is fine. */
void ts_tar_abort(ts_tar_writer *t);

#endif
