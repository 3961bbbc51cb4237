/* tessera ingest: a source manifest in, an Energon dataset out. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/log.h"
#include "ingest/ingest.h"

static const char usage[] =
    "usage: tessera ingest MANIFEST -o DIR [options]\n"
    "\n"
    "Read the source MANIFEST describes (docs/MANIFESTS.md), download its\n"
    "records' image URLs, decode-check every image, drop exact duplicate images\n"
    "and texts, and write an Energon dataset to DIR (docs/INGEST.md). Every raw\n"
    "record is kept or dropped with one reason: DIR/stats/drops.jsonl has a line\n"
    "per drop, DIR/stats/summary.json and DIR/stats/ingest.json the totals.\n"
    "Prints one JSON line per finished shard, then the ingest summary.\n"
    "Re-running on DIR resumes an interrupted run, or retries the records an\n"
    "earlier run dropped with a retryable download outcome.\n"
    "\n"
    "  -o, --output DIR         the dataset folder (required)\n"
    "      --jobs N             decode-check threads (default: CPU count)\n"
    "      --image-check MODE   decode (default): full decode of every image; structure:\n"
    "                           JPEGs get a marker walk only (catches truncation and bad\n"
    "                           headers, not corrupted scan data), other formats decode\n"
    "      --max-records N      only the first N raw records\n"
    "      --local              read the manifest's local test copies\n"
    "      --cache DIR          downloaded source inputs (default DIR/cache)\n"
    "      --dedup-index FILE   cross-run dedup index: loaded if present, saved at the end\n"
    "      --keep-case          texts differing only in case are not duplicates\n"
    "      --shard-size BYTES   shard size target (default 1000000000)\n"
    "      --prefix NAME        shard name prefix (default shard)\n"
    "      --val-every N, --test-every N  every Nth shard goes to val / test\n"
    "      --batch-urls N       image URLs per download batch (default 4 x concurrency)\n"
    "  -j, --concurrency N      transfers in flight (default 64)\n"
    "      --per-host N         transfers in flight per host (default 16)\n"
    "      --connect-timeout MS (default 10000)\n"
    "      --timeout MS         per attempt (default 60000)\n"
    "      --deadline MS        per URL, all attempts and waits (default 180000)\n"
    "      --low-speed B, --low-speed-time S  abort below B bytes/s for S s (1024, 10)\n"
    "      --attempts N         tries per URL (default 3)\n"
    "      --backoff MS         first retry delay before jitter (default 500)\n"
    "      --retry-after-max MS longest Retry-After honoured (default 60000)\n"
    "      --max-redirects N    (default 5)\n"
    "      --max-size BYTES     largest image kept (default 67108864)\n"
    "      --no-robots          ignore X-Robots-Tag opt-outs\n"
    "      --user-agent S, --cacert FILE\n"
    "\n"
    "Exit status: 0 done (drops are not failures), 2 usage error, 3 fatal error\n"
    "(DIR is left resumable).\n";

static int run_ingest(int argc, char **argv);

TS_COMMAND(ingest, "ingest", "source manifest -> downloaded, checked, deduplicated Energon dataset", usage,
           run_ingest)

enum { OPT_JOBS = 256, OPT_MAX_RECORDS, OPT_LOCAL, OPT_CACHE, OPT_DEDUP, OPT_KEEP_CASE, OPT_SHARD, OPT_PREFIX,
       OPT_VAL, OPT_TEST, OPT_BATCH, OPT_PER_HOST, OPT_CONNECT, OPT_TIMEOUT, OPT_DEADLINE, OPT_LOW_SPEED,
       OPT_LOW_TIME, OPT_ATTEMPTS, OPT_BACKOFF, OPT_RA_MAX, OPT_REDIRS, OPT_MAX_SIZE, OPT_NO_ROBOTS, OPT_UA,
       OPT_CACERT, OPT_CHECK };

static int run_ingest(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"jobs", required_argument, 0, OPT_JOBS},
        {"max-records", required_argument, 0, OPT_MAX_RECORDS}, {"local", no_argument, 0, OPT_LOCAL},
        {"cache", required_argument, 0, OPT_CACHE}, {"dedup-index", required_argument, 0, OPT_DEDUP},
        {"keep-case", no_argument, 0, OPT_KEEP_CASE}, {"shard-size", required_argument, 0, OPT_SHARD},
        {"prefix", required_argument, 0, OPT_PREFIX}, {"val-every", required_argument, 0, OPT_VAL},
        {"test-every", required_argument, 0, OPT_TEST}, {"batch-urls", required_argument, 0, OPT_BATCH},
        {"concurrency", required_argument, 0, 'j'}, {"per-host", required_argument, 0, OPT_PER_HOST},
        {"connect-timeout", required_argument, 0, OPT_CONNECT}, {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"deadline", required_argument, 0, OPT_DEADLINE}, {"low-speed", required_argument, 0, OPT_LOW_SPEED},
        {"low-speed-time", required_argument, 0, OPT_LOW_TIME}, {"attempts", required_argument, 0, OPT_ATTEMPTS},
        {"backoff", required_argument, 0, OPT_BACKOFF}, {"retry-after-max", required_argument, 0, OPT_RA_MAX},
        {"max-redirects", required_argument, 0, OPT_REDIRS}, {"max-size", required_argument, 0, OPT_MAX_SIZE},
        {"no-robots", no_argument, 0, OPT_NO_ROBOTS}, {"user-agent", required_argument, 0, OPT_UA},
        {"cacert", required_argument, 0, OPT_CACERT}, {"image-check", required_argument, 0, OPT_CHECK},
        {0, 0, 0, 0}};
    const ts_command *self = &ts_command_ingest;
    ts_ingest_options o;
    ts_ingest_options_default(&o);
    ts_download_options *d = &o.download;
    const char *out = NULL;
    long v;
    int c, idx = 0;
    optind = 1;
#define NUM(min, max, dst)                                                                         \
    do {                                                                                           \
        if (!ts_parse_long(optarg, (min), (max), &v))                                              \
            return ts_command_usage_error(self, "bad value '%s' for %s", optarg, argv[optind - 1]); \
        dst = v;                                                                                   \
    } while (0)
    while ((c = getopt_long(argc, argv, "o:j:", longopts, &idx)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_JOBS: NUM(1, 1024, o.jobs); break;
        case OPT_MAX_RECORDS: NUM(1, LONG_MAX, o.max_records); break;
        case OPT_LOCAL: o.use_local = 1; break;
        case OPT_CACHE: o.cache_dir = optarg; break;
        case OPT_DEDUP: o.dedup_index = optarg; break;
        case OPT_KEEP_CASE: o.dedup.casefold = 0; break;
        case OPT_SHARD: NUM(4096, LONG_MAX, o.shard_bytes); break;
        case OPT_PREFIX: o.prefix = optarg; break;
        case OPT_VAL: NUM(0, 1000000, o.val_every); break;
        case OPT_TEST: NUM(0, 1000000, o.test_every); break;
        case OPT_BATCH: NUM(1, 1000000, o.batch_urls); break;
        case 'j': NUM(1, 100000, d->max_concurrency); break;
        case OPT_PER_HOST: NUM(1, 100000, d->max_per_host); break;
        case OPT_CONNECT: NUM(1, 86400000, d->connect_timeout_ms); break;
        case OPT_TIMEOUT: NUM(1, 86400000, d->attempt_timeout_ms); break;
        case OPT_DEADLINE: NUM(1, 86400000, d->url_deadline_ms); break;
        case OPT_LOW_SPEED: NUM(0, 1L << 40, d->low_speed_bytes); break;
        case OPT_LOW_TIME: NUM(0, 86400, d->low_speed_time_s); break;
        case OPT_ATTEMPTS: NUM(1, 100, d->max_attempts); break;
        case OPT_BACKOFF: NUM(0, 86400000, d->backoff_base_ms); break;
        case OPT_RA_MAX: NUM(0, 86400000, d->retry_after_cap_ms); break;
        case OPT_REDIRS: NUM(0, 100, d->max_redirects); break;
        case OPT_MAX_SIZE: NUM(1, LONG_MAX, d->max_body_bytes); break;
        case OPT_NO_ROBOTS: d->honour_robots = 0; break;
        case OPT_UA: d->user_agent = optarg; break;
        case OPT_CACERT: d->ca_file = optarg; break;
        case OPT_CHECK:
            if (!strcmp(optarg, "decode")) o.image_check = TS_INGEST_CHECK_DECODE;
            else if (!strcmp(optarg, "structure")) o.image_check = TS_INGEST_CHECK_STRUCTURE;
            else return ts_command_usage_error(self, "--image-check is decode or structure, not '%s'", optarg);
            break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
#undef NUM
    if (!out) return ts_command_usage_error(self, "-o DIR is required");
    if (optind != argc - 1) return ts_command_usage_error(self, "expected one MANIFEST");
    o.report = stdout;
    ts_ingest_stats s;
    ts_error err = {0};
    if (ts_ingest_run(argv[optind], out, &o, &s, &err) != TS_OK) {
        ts_error_log("ingest: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    fflush(stdout);
    ts_info("ingest: %llu records, %llu written, %llu dropped, %llu shards (pass %llu%s) in %.1f s",
            (unsigned long long)s.records_in, (unsigned long long)s.written, (unsigned long long)s.dropped,
            (unsigned long long)s.shards, (unsigned long long)s.pass, s.resumed ? ", resumed" : "", s.seconds);
    return TS_EXIT_OK;
}
