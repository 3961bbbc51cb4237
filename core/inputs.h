/* Named byte blobs from the paths a user gives: regular files, directories
 * (walked recursively in byte order of names, so runs are reproducible) and
 * archives that libarchive reads (tar, tar.gz/tgz, tar.zst, zip), whose
 * members come in archive order. One item is in memory at a time.
 *
 * Paths named directly are always yielded. Inside directories and archives
 * only names accepted by the caller's filter are (e.g. image extensions, so a
 * WebDataset's .txt/.json parts are left to other stages). */
#ifndef TS_CORE_INPUTS_H
#define TS_CORE_INPUTS_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

typedef int (*ts_inputs_filter)(const char *name);

typedef struct ts_inputs_options {
    size_t max_item_bytes;   /* larger items fail with TS_ELIMIT; 0 = 256 MiB */
    ts_inputs_filter filter; /* NULL accepts everything */
    int expand_archives;     /* open .tar/.tgz/.tar.gz/.tar.zst/.zip as archives */
} ts_inputs_options;

typedef struct ts_input_item {
    char name[1024];    /* "dir/a.jpg", or "shard.tar/000123.jpg" for a member */
    const char *base;   /* points into name: the last path component */
} ts_input_item;

typedef struct ts_inputs ts_inputs;

ts_status ts_inputs_open(ts_inputs **out, char *const *paths, int npaths, const ts_inputs_options *opts,
                         ts_error *err);
/* Next item: its bytes replace `data`'s contents. Returns TS_OK, or
 * TS_ENOTFOUND at the end, or an error for this item alone (unreadable
 * file, oversized member, damaged archive: item->name says which), after
 * which iteration can go on. */
ts_status ts_inputs_next(ts_inputs *in, ts_input_item *item, ts_buf *data, ts_error *err);
void ts_inputs_close(ts_inputs *in);

/* 1 when the name ends with an archive suffix that ts_inputs expands. */
int ts_inputs_is_archive(const char *name);

#endif
