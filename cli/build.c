/* tessera build: a blend recipe to packed shards and trainer exports, as one
 * pipeline with stage skipping (pipeline/build.h). Flags only. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/log.h"
#include "pipeline/build.h"

static const char USAGE[] =
    "usage: tessera build RECIPE -o DIR [-j N] [--local] [--force STAGE] [--verify] [--tokenizer FILE] [options]\n"
    "\n"
    "Build a blend recipe (docs/MIXING.md) end to end (docs/BUILD.md): for each\n"
    "source ingest -> prepare (tiles + tokens), then mix, pack, and the exports\n"
    "(Energon blend metadataset YAML; Megatron .bin/.idx for text-only sources).\n"
    "Stages whose inputs, parameters and tool version are unchanged, and whose\n"
    "outputs are still the files stamped, are skipped. After a crash, run it again.\n"
    "An output whose size, mtime, inode and device match its stamp is trusted\n"
    "without being read; any other is re-hashed (the stage reruns if it changed).\n"
    "\n"
    "  -o, --output DIR    the build folder (DIR/manifest.json lists every output)\n"
    "  -j, --jobs N        threads (default: all CPUs); outputs never depend on it\n"
    "      --local         read the sources' local test copies, not their public inputs\n"
    "      --force STAGE   redo STAGE and all after it: ingest, prepare, mix, pack, export, all\n"
    "      --verify        re-read and re-hash every stamped output, whatever its metadata\n"
    "                      (catches a change that kept size and mtime; costs a full read)\n"
    "      --tokenizer F   tokenizer.json (default: the recipe's output.tokenizer, as a\n"
    "                      path relative to the recipe)\n"
    "      --max-records N read at most N raw records per source (quick looks)\n"
    "      --shard-samples N  mixed samples per packed shard (default 1000000)\n"
    "\n"
    "stdout: one JSON line per stage ({\"stage\", \"status\": \"ran\"|\"skipped\",\n"
    "\"trusted_files\", \"rehashed_files\", \"rehashed_bytes\", ...}), then\n"
    "{\"summary\": \"build\", ...} with the totals. Progress and the stage being run: stderr.\n";

static int run_build(int argc, char **argv);

TS_COMMAND(build, "build", "recipe -> ingest, prepare, mix, pack, exports (skips unchanged stages)", USAGE, run_build)

static int run_build(int argc, char **argv) {
    ts_build_options o;
    ts_build_options_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (strncmp(a, "-j", 2) == 0 && a[2] >= '0' && a[2] <= '9') v = a + 2; /* -jN */
        if (TAKE("-o") || TAKE("--output")) o.out_dir = v;
        else if (v == a + 2 || TAKE("-j") || TAKE("--jobs")) {
            long x;
            if (!ts_parse_long(v, 0, 4096, &x)) return ts_command_usage_error(&ts_command_build, "bad -j %s", v);
            o.jobs = (int)x;
        } else if (TAKE("--force")) {
            if (ts_build_force_check(v) != 0) return ts_command_usage_error(&ts_command_build, "bad --force %s", v);
            o.force = v;
        } else if (TAKE("--tokenizer")) o.tokenizer = v;
        else if (TAKE("--shard-samples")) {
            long x;
            if (!ts_parse_long(v, 1, INT64_MAX, &x))
                return ts_command_usage_error(&ts_command_build, "bad --shard-samples %s", v);
            o.shard_samples = (uint64_t)x;
        }
        else if (TAKE("--max-records")) {
            long x;
            if (!ts_parse_long(v, 0, INT64_MAX, &x))
                return ts_command_usage_error(&ts_command_build, "bad --max-records %s", v);
            o.max_records = (uint64_t)x;
        } else if (strcmp(a, "--local") == 0) o.use_local = 1;
        else if (strcmp(a, "--verify") == 0) o.verify = 1;
        else if (a[0] == '-' && a[1]) return ts_command_usage_error(&ts_command_build, "unknown option %s", a);
        else if (!o.recipe) o.recipe = a;
        else return ts_command_usage_error(&ts_command_build, "one recipe only (extra: %s)", a);
#undef TAKE
    }
    if (!o.recipe || !o.out_dir) return ts_command_usage_error(&ts_command_build, "give RECIPE and -o DIR");
    o.report = stdout;
    ts_build_stats st;
    ts_error err;
    if (ts_build_run(&o, &st, &err) != TS_OK) {
        ts_error_log("build: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    ts_info("build: %u stages (%u ran, %u skipped), %llu samples -> %llu sequences, %.1f s; %s/manifest.json",
            st.stages, st.ran, st.skipped, (unsigned long long)st.samples, (unsigned long long)st.sequences,
            st.seconds, o.out_dir);
    ts_info("build: stamped outputs: %llu trusted, %llu re-hashed (%llu bytes)", (unsigned long long)st.trusted_files,
            (unsigned long long)st.rehashed_files, (unsigned long long)st.rehashed_bytes);
    return TS_EXIT_OK;
}
