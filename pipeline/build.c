/* `tessera build`: the stage runner and the order of the stages (build.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "core/pool.h"
#include "pipeline/build_internal.h"

void ts_build_options_default(ts_build_options *o) {
    memset(o, 0, sizeof *o);
}

static const struct {
    const char *name;
    int level;
} force_names[] = {{"all", LEVEL_INGEST},  {"ingest", LEVEL_INGEST}, {"prepare", LEVEL_PREPARE},
                   {"mix", LEVEL_MIX},     {"pack", LEVEL_PACK},     {"export", LEVEL_EXPORT}};

static int force_level(const char *name) {
    if (!name) return LEVEL_NONE;
    for (size_t i = 0; i < sizeof force_names / sizeof force_names[0]; i++)
        if (strcmp(name, force_names[i].name) == 0) return force_names[i].level;
    return -1;
}

int ts_build_force_check(const char *name) {
    return force_level(name) < 0 ? -1 : 0;
}

double build_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void build_path(const build_ctx *b, const char *rel, char *out, size_t n) {
    snprintf(out, n, "%s/%s", b->root, rel);
}

void build_stage_free(build_stage *s) {
    ts_stage_key_free(&s->key);
    ts_stage_outputs_free(&s->outputs);
    cJSON_Delete(s->info);
    s->info = NULL;
}

static ts_status report_stage(build_ctx *b, const build_stage *s, ts_error *err) {
    if (!b->o->report) return TS_OK;
    cJSON *o = cJSON_CreateObject();
    if (!o) return ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_AddStringToObject(o, "stage", s->name);
    cJSON_AddStringToObject(o, "status", s->ran ? "ran" : "skipped");
    if (s->ran) cJSON_AddStringToObject(o, "why", s->why);
    cJSON_AddNumberToObject(o, "seconds", s->seconds);
    /* What checking its stamp cost: outputs trusted unread, outputs re-hashed. */
    cJSON_AddNumberToObject(o, "trusted_files", (double)s->trusted);
    cJSON_AddNumberToObject(o, "rehashed_files", (double)s->rehashed);
    cJSON_AddNumberToObject(o, "rehashed_bytes", (double)s->rehashed_bytes);
    if (s->info) cJSON_AddItemToObject(o, "info", cJSON_Duplicate(s->info, 1));
    ts_status st = ts_json_write_line(b->o->report, o, err);
    cJSON_Delete(o);
    return st;
}

static ts_status clean(build_ctx *b, const char *rel, ts_error *err) {
    char path[4096];
    build_path(b, rel, path, sizeof path);
    return ts_remove_tree(path, err);
}

/* The stage whose repaired outputs this key reads, if any: its digest is in
 * the key text. */
static const char *repaired_input(const build_ctx *b, const build_stage *s, char *name, size_t n) {
    const char *p = (const char *)b->repaired.data, *end = p + b->repaired.len;
    const char *key = (const char *)s->key.text.data;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char hex[33];
        memcpy(hex, p, 32);
        hex[32] = 0;
        if (key && strstr(key, hex)) {
            snprintf(name, n, "%.*s", (int)(nl - p - 33), p + 33);
            return name;
        }
        p = nl + 1;
    }
    return NULL;
}

ts_status build_stage_run(build_ctx *b, build_stage *s, const char *clean_rel, int may_resume, build_stage_fn fn,
                          void *arg, ts_error *err) {
    b->stage_no++;
    ts_status st = TS_OK;
    int forced = s->level >= b->force_level;
    char upstream[200];
    if (!forced && repaired_input(b, s, upstream, sizeof upstream)) {
        forced = 1;
        snprintf(s->why, sizeof s->why, "%s was rebuilt: its outputs had changed since this stage read them",
                 upstream);
    }
    if (!forced) {
        ts_stamp_check c;
        ts_stamp_mode mode = b->o->verify ? TS_STAMP_REHASH : TS_STAMP_TRUST_STAT;
        if ((st = ts_stamp_verify(b->root, s->name, &s->key, mode, &c, err))) return st;
        s->trusted = c.trusted;
        s->rehashed = c.rehashed;
        s->rehashed_bytes = c.rehashed_bytes;
        b->trusted += c.trusted;
        b->rehashed += c.rehashed;
        b->rehashed_bytes += c.rehashed_bytes;
        if (c.valid) {
            s->outputs = c.outputs;
            s->info = c.info;
            c.outputs = (ts_stage_outputs){0};
            c.info = NULL;
            s->stamped_seconds = c.seconds;
            ts_stamp_check_free(&c);
            ts_info("build: [%u/%u] %s: up to date", b->stage_no, b->n_stages, s->name);
            return report_stage(b, s, err);
        }
        snprintf(s->why, sizeof s->why, "%s", c.why);
        ts_stamp_check_free(&c);
    } else if (!s->why[0]) {
        snprintf(s->why, sizeof s->why, "forced");
    }
    /* From here the old outputs are being replaced: drop the stamp first so
     * a crash can never leave it vouching for half-new outputs. */
    ts_stamp_remove(b->root, s->name);
    int resumable = 0;
    if ((st = ts_stamp_begin(b->root, s->name, &s->key, &resumable, err))) return st;
    int resume = may_resume && resumable && !forced;
    if (!resume && clean_rel && (st = clean(b, clean_rel, err))) return st;
    if (ts_log_enabled(TS_LOG_WARN))
        fprintf(stderr, "build: [%u/%u] %s%s (%s)\n", b->stage_no, b->n_stages, s->name, resume ? ": resuming" : "",
                s->why);
    double t0 = build_now();
    st = fn(b, s, arg, resume, err);
    if (st) return ts_error_context(err, "%s", s->name);
    s->ran = 1;
    s->seconds = s->stamped_seconds = build_now() - t0;
    if ((st = ts_stamp_write(b->root, s->name, &s->key, &s->outputs, s->seconds, s->info, err))) return st;
    if (strncmp(s->why, "output changed", 14) == 0) {
        char hex[33];
        ts_hash128_hex(build_data_digest(s), hex);
        if ((st = ts_buf_printf(&b->repaired, err, "%s %s\n", hex, s->name))) return st;
    }
    return report_stage(b, s, err);
}

/* The tokenizer: --tokenizer, else the recipe's output.tokenizer when it
 * names a file relative to the recipe's folder. */
static ts_status resolve_tokenizer(build_ctx *b, ts_error *err) {
    const char *given = b->o->tokenizer;
    char buf[4096];
    if (!given) {
        const char *t = b->recipe->tokenizer;
        if (!t || !*t)
            return ts_fail(err, TS_EINVAL, "%s: no output.tokenizer; give --tokenizer tokenizer.json", b->o->recipe);
        if (t[0] == '/') {
            snprintf(buf, sizeof buf, "%s", t);
        } else {
            const char *slash = strrchr(b->o->recipe, '/');
            int dl = slash ? (int)(slash - b->o->recipe) : 1;
            snprintf(buf, sizeof buf, "%.*s/%s", dl, slash ? b->o->recipe : ".", t);
        }
        if (access(buf, R_OK) != 0)
            return ts_fail(err, TS_EINVAL, "%s: output.tokenizer \"%s\" is not a file; give --tokenizer tokenizer.json",
                           b->o->recipe, t);
        given = buf;
    }
    if (!(b->tokenizer_path = strdup(given))) return ts_fail(err, TS_ENOMEM, "out of memory");
    return ts_file_xxh3_64(given, &b->tokenizer_xxh3, &b->tokenizer_bytes, err);
}

/* A writer's temporary ("<name>.tmp-<pid>", core/writer.c) that a killed
 * run left behind. Only called under the build lock, when no writer of this
 * folder can be running. */
static int remove_stale_temporary(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    const char *mark = type == FTW_F ? strstr(path + ftw->base, ".tmp-") : NULL;
    if (!mark || !mark[5]) return 0;
    for (const char *p = mark + 5; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    if (unlink(path) == 0) ts_log(TS_LOG_INFO, "removed %s, left by an interrupted run", path);
    return 0;
}

/* One build per folder at a time: DIR/.lock, held (flock) until the process
 * exits, however it exits. Holding it, the build clears what killed runs
 * left half-written. */
static ts_status lock_root(build_ctx *b, ts_error *err) {
    char path[4096];
    build_path(b, ".lock", path, sizeof path);
    b->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (b->lock_fd < 0) return ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
    if (flock(b->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? ts_fail(err, TS_EINVAL, "%s: another build is running in this folder", b->root)
                                    : ts_fail_errno(err, TS_EIO, "%s: cannot lock", path);
    nftw(b->root, remove_stale_temporary, 16, FTW_PHYS);
    return TS_OK;
}

static ts_status setup(build_ctx *b, ts_error *err) {
    const ts_build_options *o = b->o;
    if (!o->recipe || !o->out_dir || !*o->out_dir) return ts_fail(err, TS_EINVAL, "build: a recipe and -o DIR are needed");
    if ((b->force_level = force_level(o->force)) < 0)
        return ts_fail(err, TS_EINVAL, "build: --force takes ingest, prepare, mix, pack, export or all, not \"%s\"",
                       o->force);
    b->threads = o->jobs > 0 ? o->jobs : ts_cpu_count();
    ts_status st = ts_recipe_load(o->recipe, &b->recipe, err);
    if (st) return st;
    if ((st = ts_mkdirs(o->out_dir, err))) return st;
    if (!(b->root = strdup(o->out_dir))) return ts_fail(err, TS_ENOMEM, "out of memory");
    if ((st = lock_root(b, err))) return st;
    if ((st = resolve_tokenizer(b, err))) return st;
    b->n_src = b->recipe->n_sources;
    if (!(b->src = calloc(b->n_src ? b->n_src : 1, sizeof *b->src))) return ts_fail(err, TS_ENOMEM, "out of memory");
    unsigned text_only = 0;
    for (size_t i = 0; i < b->n_src; i++) {
        build_source *s = &b->src[i];
        s->rs = &b->recipe->sources[i];
        if ((st = ts_recipe_check_manifest(s->rs, err))) return ts_error_context(err, "%s", b->recipe->path);
        if ((st = ts_source_load(s->rs->manifest_path, &s->src, err))) return st;
        s->text_only = ts_source_stage(s->src) == TS_STAGE_TEXT;
        text_only += (unsigned)s->text_only;
        snprintf(s->energon_rel, sizeof s->energon_rel, "energon/%s", s->rs->energon);
        snprintf(s->prepared_rel, sizeof s->prepared_rel, "prepared/%s", s->rs->name);
    }
    b->n_stages = (unsigned)(2 * b->n_src) + 3 + text_only;
    return TS_OK;
}

static void teardown(build_ctx *b) {
    for (size_t i = 0; b->src && i < b->n_src; i++) {
        build_stage_free(&b->src[i].ingest);
        build_stage_free(&b->src[i].prepare);
        build_stage_free(&b->src[i].megatron);
        ts_source_free(b->src[i].src);
    }
    free(b->src);
    build_stage_free(&b->mix);
    build_stage_free(&b->pack);
    build_stage_free(&b->export_energon);
    ts_tokenizer_free(b->tok);
    ts_recipe_free(b->recipe);
    free(b->tokenizer_path);
    free(b->root);
    ts_buf_free(&b->repaired);
    if (b->lock_fd >= 0) close(b->lock_fd); /* releases the lock */
}

static void count_stage(const build_stage *s, ts_build_stats *st) {
    if (!s->name[0]) return;
    st->stages++;
    if (s->ran) st->ran++;
    else st->skipped++;
}

ts_status ts_build_run(const ts_build_options *o, ts_build_stats *stats, ts_error *err) {
    build_ctx b;
    memset(&b, 0, sizeof b);
    b.lock_fd = -1;
    b.o = o;
    b.started = build_now();
    ts_build_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    ts_status st = setup(&b, err);
    for (size_t i = 0; i < b.n_src && !st; i++) st = build_ingest(&b, &b.src[i], err);
    for (size_t i = 0; i < b.n_src && !st; i++) st = build_prepare(&b, &b.src[i], err);
    if (!st) st = build_mix(&b, err);
    if (!st) st = build_pack(&b, err);
    if (!st) st = build_export_energon(&b, err);
    for (size_t i = 0; i < b.n_src && !st; i++)
        if (b.src[i].text_only) st = build_export_megatron(&b, &b.src[i], err);
    if (!st) {
        for (size_t i = 0; i < b.n_src; i++) {
            count_stage(&b.src[i].ingest, stats);
            count_stage(&b.src[i].prepare, stats);
            count_stage(&b.src[i].megatron, stats);
        }
        count_stage(&b.mix, stats);
        count_stage(&b.pack, stats);
        count_stage(&b.export_energon, stats);
        stats->samples = (uint64_t)ts_json_num(b.pack.info, "samples", 0);
        stats->sequences = (uint64_t)ts_json_num(b.pack.info, "sequences", 0);
        stats->tokens = (uint64_t)ts_json_num(b.pack.info, "tokens", 0);
        stats->trusted_files = b.trusted;
        stats->rehashed_files = b.rehashed;
        stats->rehashed_bytes = b.rehashed_bytes;
        stats->seconds = build_now() - b.started;
        st = build_write_manifest(&b, err);
    }
    teardown(&b);
    return st;
}
