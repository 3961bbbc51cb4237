/* tessera tile: images -> NVLM dynamic high-resolution tiles. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/hash.h"
#include "core/log.h"
#include "tiler/tile_run.h"

static const char usage[] =
    "usage: tessera tile [options] INPUT... [-o OUT.tiles] [--png DIR]\n"
    "\n"
    "Tile images with the NVLM/InternVL dynamic high-resolution rule. INPUT is an\n"
    "image file, a directory (searched recursively for .jpg .jpeg .png .webp .gif)\n"
    "or an archive (.tar, .tgz, .tar.gz, .tar.zst, .zip, e.g. WebDataset shards).\n"
    "Prints one JSON line per image on stdout; with neither -o nor --png that\n"
    "report is the only output (a validation pass).\n"
    "\n"
    "  -o, --output FILE      write a tile shard (docs/FORMATS.md)\n"
    "      --png DIR          write each tile as DIR/<input basename>.<k>.png\n"
    "      --tile-size N      tile edge in pixels (default 448)\n"
    "      --max-tiles N      most grid tiles (default 6)\n"
    "      --min-tiles N      fewest grid tiles (default 1)\n"
    "      --no-thumbnail     no global thumbnail after multi-tile grids\n"
    "      --dtype T          shard payload: uint8 (RGB, default), float32, float16,\n"
    "                         bfloat16\n"
    "                         (normalized CHW with the InternViT mean/std)\n"
    "      --fast             JPEG: decode with DCT scaling, then resize exactly\n"
    "      --exif-orientation apply EXIF orientation (Pillow's convert('RGB') does not)\n"
    "      --alpha-white      composite alpha over white (default: drop alpha)\n"
    "      --max-pixels N     refuse larger images (default 178956970)\n"
    "      --zstd-level N     shard compression level (default 1)\n"
    "  -j, --threads N        worker threads (default: all CPUs)\n"
    "\n"
    "Exit status: 0 all images tiled, 1 some failed (see their JSON lines),\n"
    "2 usage error, 3 nothing could be written.\n";

static int run_tile(int argc, char **argv);

TS_COMMAND(tile, "tile", "tile images (NVLM dynamic high resolution) into a tile shard or PNGs", usage,
           run_tile)

enum { OPT_PNG = 256, OPT_TILE_SIZE, OPT_MAX_TILES, OPT_MIN_TILES, OPT_NO_THUMB, OPT_DTYPE, OPT_FAST,
       OPT_EXIF, OPT_ALPHA, OPT_MAX_PIXELS, OPT_ZSTD };

static int parse_dtype(const char *s, ts_pixel_dtype *out) {
    static const ts_pixel_dtype all[] = {TS_PIXEL_U8, TS_PIXEL_F32, TS_PIXEL_F16, TS_PIXEL_BF16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, ts_pixel_dtype_name(all[i]))) {
            *out = all[i];
            return 1;
        }
    return 0;
}

static int run_tile(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},      {"png", required_argument, 0, OPT_PNG},
        {"tile-size", required_argument, 0, OPT_TILE_SIZE},
        {"max-tiles", required_argument, 0, OPT_MAX_TILES},
        {"min-tiles", required_argument, 0, OPT_MIN_TILES},
        {"no-thumbnail", no_argument, 0, OPT_NO_THUMB}, {"dtype", required_argument, 0, OPT_DTYPE},
        {"fast", no_argument, 0, OPT_FAST},         {"exif-orientation", no_argument, 0, OPT_EXIF},
        {"alpha-white", no_argument, 0, OPT_ALPHA}, {"max-pixels", required_argument, 0, OPT_MAX_PIXELS},
        {"zstd-level", required_argument, 0, OPT_ZSTD}, {"threads", required_argument, 0, 'j'},
        {0, 0, 0, 0}};
    const ts_command *self = &ts_command_tile;
    ts_tile_run_options o;
    ts_tile_run_options_default(&o);
    o.report = stdout;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:j:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.shard_path = optarg; break;
        case OPT_PNG: o.png_dir = optarg; break;
        case OPT_TILE_SIZE:
            if (!ts_parse_long(optarg, 14, 4096, &v)) return ts_command_usage_error(self, "bad --tile-size");
            o.tiler.tile_size = (int)v;
            break;
        case OPT_MAX_TILES:
            if (!ts_parse_long(optarg, 1, 64, &v)) return ts_command_usage_error(self, "bad --max-tiles");
            o.tiler.max_tiles = (int)v;
            break;
        case OPT_MIN_TILES:
            if (!ts_parse_long(optarg, 1, 64, &v)) return ts_command_usage_error(self, "bad --min-tiles");
            o.tiler.min_tiles = (int)v;
            break;
        case OPT_NO_THUMB: o.tiler.thumbnail = 0; break;
        case OPT_DTYPE:
            if (!parse_dtype(optarg, &o.dtype)) return ts_command_usage_error(self, "bad --dtype '%s'", optarg);
            break;
        case OPT_FAST: o.fast = 1; break;
        case OPT_EXIF: o.decode.apply_exif_orientation = 1; break;
        case OPT_ALPHA: o.decode.alpha_on_white = 1; break;
        case OPT_MAX_PIXELS:
            if (!ts_parse_long(optarg, 1, 1L << 40, &v)) return ts_command_usage_error(self, "bad --max-pixels");
            o.decode.max_pixels = (uint64_t)v;
            break;
        case OPT_ZSTD:
            if (!ts_parse_long(optarg, 1, 19, &v)) return ts_command_usage_error(self, "bad --zstd-level");
            o.zstd_level = (int)v;
            break;
        case 'j':
            if (!ts_parse_long(optarg, 1, 1024, &v)) return ts_command_usage_error(self, "bad --threads");
            o.threads = (int)v;
            break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (optind == argc) return ts_command_usage_error(self, "no INPUT given");

    ts_tile_run_stats stats;
    ts_error err;
    ts_error_clear(&err);
    ts_status st = ts_tile_run(argv + optind, argc - optind, &o, &stats, &err);
    fflush(stdout);
    if (st) {
        ts_error_log("tile: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    ts_info("tile: %llu images tiled, %llu failed, %llu tiles", (unsigned long long)stats.images_ok,
            (unsigned long long)stats.images_failed, (unsigned long long)stats.tiles);
    if (o.shard_path) {
        char hex[17];
        ts_hash64_hex(stats.shard_xxh3, hex);
        ts_info("tile: wrote %s (%llu bytes, xxh3 %s)", o.shard_path, (unsigned long long)stats.shard_bytes, hex);
    }
    return stats.images_failed ? TS_EXIT_PARTIAL : TS_EXIT_OK;
}
