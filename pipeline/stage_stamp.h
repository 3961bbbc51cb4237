/* Stage skipping by content hash (docs/BUILD.md): the machinery `tessera
 * build` uses to decide whether a stage's outputs are still good.
 *
 * Key. A stage's key is the xxh3-128 of a canonical text: one "name=value"
 * line per input, in the order the stage adds them, starting with the stage
 * name and the tool version (core/version.h). Inputs are the hashes of what
 * the stage reads (source manifest hash, the output digest of the stages
 * before it, the tokenizer file's hash) and every parameter that shapes its
 * bytes. The text itself is kept in the stamp, so a re-run can say which
 * input changed.
 *
 * Outputs. The files a stage wrote, relative to the build root, each with
 * its size and xxh3-64; their digest (xxh3-128 over "path bytes xxh3" lines
 * in listing order) is what later stages take as their input hash. Next to
 * the hash, each output keeps the identity the file had when it was hashed:
 * mtime (ns), inode and device.
 *
 * Stamps. ROOT/.stamps/<stage>.json, written atomically after the stage's
 * outputs are complete: {"stage", "version", "key", "inputs": [lines],
 * "outputs": [{"path", "bytes", "xxh3", "mtime_ns", "inode", "device"}],
 * "seconds", "info": {...}} (the last three output fields are decimal
 * strings: they exceed a JSON double; stamps without them are read, their
 * outputs re-hashed). A stage is skipped when its stamp holds the same key
 * and every listed output is still the file that was hashed: by default a
 * file whose size, mtime, inode and device all equal the stamp's is trusted
 * without being read; any difference, or TS_STAMP_REHASH, re-reads and
 * re-hashes it, and the stage is valid only if size and xxh3 still match
 * (the stamp is then refreshed with the files' new identity, so the next
 * check is cheap again). Before a stage runs, ROOT/.stamps/<stage>.started
 * records the key it runs with: after a crash, a re-run with the same key may
 * resume the stage's partial work; with another key it must start clean.
 *
 * Stage names: [A-Za-z0-9_.-]{1,127} ("ingest.coco", "pack"). */
#ifndef TS_PIPELINE_STAGE_STAMP_H
#define TS_PIPELINE_STAGE_STAMP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"

typedef struct cJSON cJSON;

/* ---- keys ---- */

typedef struct ts_stage_key {
    ts_buf text; /* "name=value\n" lines */
} ts_stage_key;

/* Starts the text with "stage=<stage>" and "version=<TS_VERSION>". */
ts_status ts_stage_key_init(ts_stage_key *k, const char *stage, ts_error *err);
/* One input line. Names are [a-z0-9_.-]+; values must hold no newline. */
ts_status ts_stage_key_add(ts_stage_key *k, const char *name, const char *value, ts_error *err);
ts_status ts_stage_key_add_u64(ts_stage_key *k, const char *name, uint64_t value, ts_error *err);
ts_status ts_stage_key_add_f64(ts_stage_key *k, const char *name, double value, ts_error *err);
ts_status ts_stage_key_add_hash(ts_stage_key *k, const char *name, ts_hash128 value, ts_error *err);
ts_hash128 ts_stage_key_digest(const ts_stage_key *k);
void ts_stage_key_free(ts_stage_key *k);

/* xxh3-64 of a whole file, streamed (a tokenizer.json, a downloaded input). */
ts_status ts_file_xxh3_64(const char *path, uint64_t *out, uint64_t *bytes, ts_error *err);

/* ---- outputs ---- */

typedef struct ts_stage_output {
    char *path; /* relative to the build root */
    uint64_t bytes;
    uint64_t xxh3;
    /* The file as it was when hashed; has_stat 0: unknown (an old stamp, or
     * a file whose mtime could not be told apart from a later write). */
    int has_stat;
    int64_t mtime_ns;
    uint64_t inode, device;
} ts_stage_output;

/* Hash the file at `path` into o's bytes and xxh3 and take its identity
 * (o->path untouched). Safe against a write racing the hash: the file must
 * look the same before and after it is read (else it is read again, then an
 * error), and an identity is kept only once the clock that stamps mtimes
 * has moved past the file's mtime, so any later write shows as a new mtime
 * (a file modified in the current tick is hashed again after the tick). */
ts_status ts_stage_output_measure(const char *path, ts_stage_output *o, ts_error *err);

typedef struct ts_stage_outputs {
    ts_stage_output *v;
    size_t n, cap;
} ts_stage_outputs;

/* Hash ROOT/rel and append it. */
ts_status ts_stage_outputs_add_file(ts_stage_outputs *o, const char *root, const char *rel, ts_error *err);
/* Append every regular file below ROOT/rel_dir, names in byte order at each
 * level, leaving out writer temporaries ("*.tmp-<pid>") and the names that
 * `skip` accepts (it sees the path relative to root; NULL skips nothing). */
typedef int (*ts_stage_skip_fn)(const char *rel_path);
ts_status ts_stage_outputs_add_tree(ts_stage_outputs *o, const char *root, const char *rel_dir,
                                    ts_stage_skip_fn skip, ts_error *err);
/* The same listing, reusing the records of `known` (a previous listing, e.g.
 * a stamp's): a file it lists with the same size, mtime, inode and device is
 * taken from it unread, unless `rehash`; any other is hashed. counts[0] +=
 * files reused, counts[1] += files hashed, counts[2] += bytes hashed. */
ts_status ts_stage_outputs_add_tree_known(ts_stage_outputs *o, const char *root, const char *rel_dir,
                                          const ts_stage_outputs *known, int rehash, uint64_t counts[3],
                                          ts_error *err);
/* Append a record already measured (path copied), without an identity. */
ts_status ts_stage_outputs_push(ts_stage_outputs *o, const char *rel, uint64_t bytes, uint64_t xxh3,
                                ts_error *err);
/* Append a copy of m (path copied), identity included. */
ts_status ts_stage_outputs_push_output(ts_stage_outputs *o, const ts_stage_output *m, ts_error *err);
ts_hash128 ts_stage_outputs_digest(const ts_stage_outputs *o);
void ts_stage_outputs_free(ts_stage_outputs *o);

/* ---- stamps ---- */

/* Record that `stage` starts with `key` (atomic write of the .started file).
 * *resumable = 1 when an earlier, unfinished run of the stage had the same
 * key (its partial outputs may be continued), 0 otherwise. */
ts_status ts_stamp_begin(const char *root, const char *stage, const ts_stage_key *key, int *resumable,
                         ts_error *err);

/* Write the stamp (atomically) and remove the .started file. `info` (may be
 * NULL) is copied into the stamp: counts the build needs when it later skips
 * the stage. */
ts_status ts_stamp_write(const char *root, const char *stage, const ts_stage_key *key,
                         const ts_stage_outputs *outputs, double seconds, const cJSON *info, ts_error *err);

/* How outputs are checked: trust a file whose size, mtime, inode and device
 * match the stamp (re-hash the others), or re-hash every file. */
typedef enum ts_stamp_mode { TS_STAMP_TRUST_STAT = 0, TS_STAMP_REHASH } ts_stamp_mode;

/* What a check found. */
typedef struct ts_stamp_check {
    int valid;              /* 1: same key, every output verified */
    char why[512];          /* when not valid: "no stamp", "input changed: seed=...", "output changed: path" */
    ts_stage_outputs outputs; /* the stamp's outputs (when valid) */
    cJSON *info;            /* the stamp's info object (when valid; owned, free with cJSON_Delete) */
    double seconds;         /* the stamped run's seconds */
    uint64_t trusted;       /* outputs trusted on their size, mtime, inode and device */
    uint64_t rehashed, rehashed_bytes; /* outputs read and hashed, and their bytes */
} ts_stamp_check;

/* Check the stamp of `stage` against `key`. Returns TS_OK whether or not it
 * is valid (see c->valid); an error only for I/O failures other than a
 * missing or unreadable stamp, which simply make it invalid. A valid stamp
 * whose outputs had to be re-hashed and matched gets their new identity
 * written back (a failure to write it is only logged). */
ts_status ts_stamp_verify(const char *root, const char *stage, const ts_stage_key *key, ts_stamp_mode mode,
                          ts_stamp_check *c, ts_error *err);
void ts_stamp_check_free(ts_stamp_check *c);

/* The outputs a stamp lists, unchecked (empty when there is no readable
 * stamp): a previous listing to reuse. */
ts_status ts_stamp_load_outputs(const char *root, const char *stage, ts_stage_outputs *out, ts_error *err);

/* Remove the stamp (so a forced or failed stage reruns). Missing is fine. */
void ts_stamp_remove(const char *root, const char *stage);

/* Remove a file tree (rm -rf), for a stage that restarts clean. Missing is
 * fine. Refuses paths that are empty, "/" or hold "..". */
ts_status ts_remove_tree(const char *path, ts_error *err);

#endif
