/* tessera fetch: download a list of URLs (or one large file, resumably). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "ingest/body_writer.h"
#include "ingest/download.h"
#include "tiler/decode.h"

static const char usage[] =
    "usage: tessera fetch [options] URLS.txt [-o DIR]\n"
    "       tessera fetch --file URL -o PATH [--size N] [--sha256 HEX] [options]\n"
    "\n"
    "Download every URL of URLS.txt (one a line, '-' for stdin; blank lines and\n"
    "lines starting with '#' are skipped) over http, https or file. Prints one\n"
    "JSON line per URL on stdout, in input order: index (0-based line number),\n"
    "url, outcome (ok, dns,\n"
    "connect, tls, timeout, http_4xx, http_429, http_5xx, too_large, opt_out,\n"
    "not_image, decode, network, redirect, bad_url, checksum, io, other), http,\n"
    "final_url, content_type, bytes, attempts, seconds, message, file.\n"
    "With -o DIR each body is written to DIR/<index>.<jpg|png|webp|gif|bin>\n"
    "(9 digits). docs/DOWNLOAD.md describes the policy and outcomes.\n"
    "With --file, URL is fetched to PATH through PATH.part, resuming with Range.\n"
    "\n"
    "  -o, --output DIR|PATH    where bodies go\n"
    "  -j, --concurrency N      transfers in flight (default 64)\n"
    "      --per-host N         transfers in flight per host (default 16)\n"
    "      --connect-timeout MS (default 10000)\n"
    "      --timeout MS         per attempt (default 60000)\n"
    "      --deadline MS        per URL, all attempts and waits (default 180000)\n"
    "      --low-speed B        abort an attempt slower than B bytes/s ...\n"
    "      --low-speed-time S   ... for S seconds (defaults 1024, 10)\n"
    "      --attempts N         tries per URL (default 3)\n"
    "      --backoff MS         first retry delay before jitter (default 500)\n"
    "      --backoff-max MS     (default 30000)\n"
    "      --retry-after-max MS longest Retry-After honoured (default 60000)\n"
    "      --seed N             jitter seed (default 0)\n"
    "      --max-redirects N    (default 5)\n"
    "      --max-size BYTES     largest body kept (default 67108864)\n"
    "      --no-robots          ignore X-Robots-Tag opt-outs\n"
    "      --robots-token T     only user-agent-prefixed directives for T apply\n"
    "      --any-type           keep bodies that are not images\n"
    "      --decode             fully decode every image (decode outcome on failure)\n"
    "      --unordered          print lines as transfers finish\n"
    "      --journal FILE       skip URLs settled in FILE, append outcomes to it\n"
    "      --user-agent S       (default tessera/<version>)\n"
    "      --cacert FILE        CA bundle for https\n"
    "      --file URL           one large file, resumable (see above)\n"
    "      --size N, --sha256 HEX  expected size and digest of --file\n"
    "\n"
    "Exit status: 0 every URL ok, 1 some failed (see their lines), 2 usage\n"
    "error, 3 fatal error.\n";

static int run_fetch(int argc, char **argv);

TS_COMMAND(fetch, "fetch", "download URLs (images or large files) with retries and limits", usage,
           run_fetch)

typedef struct fetch_ctx {
    ts_line_reader *lines;
    const char *out_dir;
    ts_journal *journal;
    ts_body_writer *writer;
    uint64_t line_index;
    uint64_t skipped, ok, failed;
} fetch_ctx;

static int next_url(void *vctx, ts_download_item *item, ts_error *err) {
    fetch_ctx *c = vctx;
    const char *line;
    size_t len;
    for (;;) {
        ts_status st = ts_line_reader_next(c->lines, &line, &len, err);
        if (st == TS_ENOTFOUND) {
            ts_error_clear(err);
            return 0;
        }
        if (st != TS_OK) return 0;
        uint64_t index = c->line_index++;
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
        if (len == 0 || line[0] == '#') continue;
        if (c->journal && !ts_journal_needs_fetch(c->journal, line)) {
            c->skipped++;
            continue;
        }
        item->url = line;
        item->tag = index;
        return 1;
    }
}

static const char *extension(int fmt) {
    switch (fmt) {
    case TS_FMT_JPEG: return "jpg";
    case TS_FMT_PNG: return "png";
    case TS_FMT_WEBP: return "webp";
    case TS_FMT_GIF: return "gif";
    default: return "bin";
    }
}

static ts_status on_done(void *vctx, const ts_download_result *r, ts_error *err) {
    fetch_ctx *c = vctx;
    char path[4096] = "";
    ts_status st = TS_OK;
    if (r->outcome == TS_OUT_OK) c->ok++;
    else c->failed++;
    /* Files are written (and then journaled) by the writer threads; other
     * outcomes are journaled here. */
    if (r->outcome == TS_OUT_OK && c->out_dir) {
        snprintf(path, sizeof path, "%s/%09llu.%s", c->out_dir, (unsigned long long)r->tag,
                 extension(r->image_format));
        st = ts_body_writer_submit(c->writer, path, r->body, r, err);
    } else
        st = ts_body_writer_journal(c->writer, r, err);
    if (st != TS_OK) return st;
    cJSON *o = cJSON_CreateObject();
    if (!o) return ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "index", (double)r->tag);
    cJSON_AddStringToObject(o, "url", r->url);
    cJSON_AddStringToObject(o, "outcome", ts_outcome_name(r->outcome));
    cJSON_AddNumberToObject(o, "http", (double)r->http_status);
    cJSON_AddStringToObject(o, "final_url", r->final_url);
    if (r->content_type) cJSON_AddStringToObject(o, "content_type", r->content_type);
    else cJSON_AddNullToObject(o, "content_type");
    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(o, "attempts", r->attempts);
    cJSON_AddNumberToObject(o, "seconds", (double)(long long)(r->seconds * 1000 + 0.5) / 1000);
    cJSON_AddStringToObject(o, "message", r->message);
    if (path[0]) cJSON_AddStringToObject(o, "file", path);
    st = ts_json_write_line(stdout, o, err);
    cJSON_Delete(o);
    return st;
}

enum { OPT_PER_HOST = 256, OPT_CONNECT, OPT_TIMEOUT, OPT_DEADLINE, OPT_LOW_SPEED, OPT_LOW_TIME,
       OPT_ATTEMPTS, OPT_BACKOFF, OPT_BACKOFF_MAX, OPT_RA_MAX, OPT_SEED, OPT_REDIRS, OPT_MAX_SIZE,
       OPT_NO_ROBOTS, OPT_ROBOTS_TOKEN, OPT_ANY, OPT_DECODE, OPT_UNORDERED, OPT_JOURNAL, OPT_UA,
       OPT_CACERT, OPT_FILE, OPT_SIZE, OPT_SHA };

static int fetch_file(const ts_download_options *o, const char *url, const char *path, int64_t size,
                      const char *sha) {
    ts_error err = {0};
    ts_outcome out;
    ts_status st = ts_download_file(o, url, path, size, sha, &out, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "url", url);
    cJSON_AddStringToObject(j, "outcome", ts_outcome_name(out));
    cJSON_AddStringToObject(j, "message", st == TS_OK ? "" : err.msg);
    cJSON_AddStringToObject(j, "file", path);
    ts_json_write_line(stdout, j, NULL);
    cJSON_Delete(j);
    if (st != TS_OK) ts_error_log("fetch: %s", err.msg);
    return st == TS_OK ? TS_EXIT_OK : TS_EXIT_PARTIAL;
}

static int run_fetch(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"concurrency", required_argument, 0, 'j'},
        {"per-host", required_argument, 0, OPT_PER_HOST}, {"connect-timeout", required_argument, 0, OPT_CONNECT},
        {"timeout", required_argument, 0, OPT_TIMEOUT}, {"deadline", required_argument, 0, OPT_DEADLINE},
        {"low-speed", required_argument, 0, OPT_LOW_SPEED}, {"low-speed-time", required_argument, 0, OPT_LOW_TIME},
        {"attempts", required_argument, 0, OPT_ATTEMPTS}, {"backoff", required_argument, 0, OPT_BACKOFF},
        {"backoff-max", required_argument, 0, OPT_BACKOFF_MAX},
        {"retry-after-max", required_argument, 0, OPT_RA_MAX}, {"seed", required_argument, 0, OPT_SEED},
        {"max-redirects", required_argument, 0, OPT_REDIRS}, {"max-size", required_argument, 0, OPT_MAX_SIZE},
        {"no-robots", no_argument, 0, OPT_NO_ROBOTS}, {"robots-token", required_argument, 0, OPT_ROBOTS_TOKEN},
        {"any-type", no_argument, 0, OPT_ANY}, {"decode", no_argument, 0, OPT_DECODE},
        {"unordered", no_argument, 0, OPT_UNORDERED}, {"journal", required_argument, 0, OPT_JOURNAL},
        {"user-agent", required_argument, 0, OPT_UA}, {"cacert", required_argument, 0, OPT_CACERT},
        {"file", required_argument, 0, OPT_FILE}, {"size", required_argument, 0, OPT_SIZE},
        {"sha256", required_argument, 0, OPT_SHA}, {0, 0, 0, 0}};
    const ts_command *self = &ts_command_fetch;
    ts_download_options o;
    ts_download_options_default(&o);
    const char *out = NULL, *journal_path = NULL, *file_url = NULL, *sha = NULL;
    int64_t size = -1;
    long v;
    int c;
    optind = 1;
#define NUM(min, max, dst)                                                              \
    do {                                                                                \
        if (!ts_parse_long(optarg, (min), (max), &v))                                   \
            return ts_command_usage_error(self, "bad value '%s' for --%s", optarg,     \
                                          longopts[idx].name ? longopts[idx].name : "?"); \
        dst = v;                                                                        \
    } while (0)
    int idx = 0;
    while ((c = getopt_long(argc, argv, "o:j:", longopts, &idx)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'j': idx = 1; NUM(1, 100000, o.max_concurrency); break;
        case OPT_PER_HOST: NUM(1, 100000, o.max_per_host); break;
        case OPT_CONNECT: NUM(1, 86400000, o.connect_timeout_ms); break;
        case OPT_TIMEOUT: NUM(1, 86400000, o.attempt_timeout_ms); break;
        case OPT_DEADLINE: NUM(1, 86400000, o.url_deadline_ms); break;
        case OPT_LOW_SPEED: NUM(0, 1L << 40, o.low_speed_bytes); break;
        case OPT_LOW_TIME: NUM(0, 86400, o.low_speed_time_s); break;
        case OPT_ATTEMPTS: NUM(1, 100, o.max_attempts); break;
        case OPT_BACKOFF: NUM(0, 86400000, o.backoff_base_ms); break;
        case OPT_BACKOFF_MAX: NUM(0, 86400000, o.backoff_max_ms); break;
        case OPT_RA_MAX: NUM(0, 86400000, o.retry_after_cap_ms); break;
        case OPT_SEED: NUM(0, LONG_MAX, o.seed); break;
        case OPT_REDIRS: NUM(0, 100, o.max_redirects); break;
        case OPT_MAX_SIZE: NUM(1, LONG_MAX, o.max_body_bytes); break;
        case OPT_NO_ROBOTS: o.honour_robots = 0; break;
        case OPT_ROBOTS_TOKEN: o.robots_token = optarg; break;
        case OPT_ANY: o.expect_image = 0; break;
        case OPT_DECODE: o.validate = ts_download_validate_decode; break;
        case OPT_UNORDERED: o.ordered = 0; break;
        case OPT_JOURNAL: journal_path = optarg; break;
        case OPT_UA: o.user_agent = optarg; break;
        case OPT_CACERT: o.ca_file = optarg; break;
        case OPT_FILE: file_url = optarg; break;
        case OPT_SIZE: NUM(0, LONG_MAX, size); break;
        case OPT_SHA:
            if (strlen(optarg) != 64 || strspn(optarg, "0123456789abcdefABCDEF") != 64)
                return ts_command_usage_error(self, "--sha256 wants 64 hex digits");
            sha = optarg;
            break;
        default: return ts_command_usage_error(self, "unknown option");
        }
        idx = 0;
    }
#undef NUM
    if (file_url) {
        if (!out || optind != argc) return ts_command_usage_error(self, "--file URL needs -o PATH and no list");
        return fetch_file(&o, file_url, out, size, sha);
    }
    if (optind != argc - 1) return ts_command_usage_error(self, "expected one URL list");
    ts_error err = {0};
    fetch_ctx ctx = {.out_dir = out};
    int rc = TS_EXIT_OK;
    if (out && ts_mkdirs(out, &err) != TS_OK) goto fatal;
    if (journal_path && ts_journal_open(&ctx.journal, journal_path, 1000, &err) != TS_OK) goto fatal;
    if (ts_line_reader_open(&ctx.lines, argv[optind], &err) != TS_OK) goto fatal;
    if (ts_body_writer_open(&ctx.writer, 2, 64, ctx.journal, &err) != TS_OK) goto fatal;
    if (ts_download_run(&o, next_url, &ctx, on_done, &ctx, &err) != TS_OK) goto fatal;
    ts_line_reader_close(ctx.lines);
    ctx.lines = NULL;
    ts_body_writer *w = ctx.writer;
    ctx.writer = NULL;
    if (ts_body_writer_close(w, &err) != TS_OK) goto fatal;
    ts_journal *j = ctx.journal;
    ctx.journal = NULL;
    if (ts_journal_close(j, &err) != TS_OK) goto fatal;
    fflush(stdout);
    ts_info("fetch: %llu ok, %llu failed, %llu skipped (journal)", (unsigned long long)ctx.ok,
            (unsigned long long)ctx.failed, (unsigned long long)ctx.skipped);
    return ctx.failed ? TS_EXIT_PARTIAL : rc;
fatal:
    ts_error_log("fetch: %s", err.msg);
    if (ctx.lines) ts_line_reader_close(ctx.lines);
    ts_body_writer_close(ctx.writer, NULL);
    ts_journal_close(ctx.journal, NULL);
    return TS_EXIT_FATAL;
}
