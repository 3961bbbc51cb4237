/* The .nv-meta files of an Energon dataset (docs/ENERGON.md):
 *  split.yaml      split_parts {train, val, test} + exclude []
 *  dataset.yaml    sample_type + field_map, or sample_loader/part_filter
 *  sample_loader.py  only with the loader form
 *  .info.json, .info.yaml  shard_counts (the .yaml last: it marks completion)
 * Shard names are [A-Za-z0-9_-] + ".tar", plain YAML scalars. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/io.h"
#include "energon_internal.h"

ts_status ts_energon_write_text(const char *path, const char *text, size_t n, ts_error *err) {
    ts_writer *w;
    ts_status st = ts_writer_open(&w, path, err);
    if (st) return st;
    if ((st = ts_writer_write(w, text, n, err))) {
        ts_writer_abort(w);
        return st;
    }
    return ts_writer_commit(w, err);
}

static ts_status write_buf(const char *dir, const char *name, const ts_buf *b, ts_error *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.nv-meta/%s", dir, name) >= (int)sizeof path)
        return ts_fail(err, TS_EINVAL, "%s: path too long", dir);
    return ts_energon_write_text(path, b->len ? (const char *)b->data : "", b->len, err);
}

static ts_status split_yaml(ts_buf *b, const ts_energon_shard_info *shards, size_t n, ts_error *err) {
    static const char *const names[3] = {"train", "val", "test"};
    ts_status st = ts_buf_printf(b, err, "split_parts:\n");
    for (int part = 0; part < 3 && !st; part++) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++) count += shards[i].split == part;
        st = ts_buf_printf(b, err, "  %s:%s\n", names[part], count ? "" : " []");
        for (size_t i = 0; i < n && !st; i++)
            if (shards[i].split == part) st = ts_buf_printf(b, err, "  - %s\n", shards[i].name);
    }
    return st ? st : ts_buf_printf(b, err, "exclude: []\n");
}

static ts_status info_yaml(ts_buf *b, const ts_energon_shard_info *shards, size_t n, ts_error *err) {
    ts_status st = ts_buf_printf(b, err, "shard_counts:%s\n", n ? "" : " {}");
    for (size_t i = 0; i < n && !st; i++)
        st = ts_buf_printf(b, err, "  %s: %llu\n", shards[i].name, (unsigned long long)shards[i].count);
    return st;
}

static ts_status info_json(ts_buf *b, const ts_energon_shard_info *shards, size_t n, ts_error *err) {
    ts_status st = ts_buf_printf(b, err, "{\"shard_counts\": {");
    for (size_t i = 0; i < n && !st; i++)
        st = ts_buf_printf(b, err, "%s\"%s\": %llu", i ? ", " : "", shards[i].name,
                           (unsigned long long)shards[i].count);
    return st ? st : ts_buf_printf(b, err, "}}\n");
}

/* The one image extension used, or NULL when none or several. */
static const char *single_ext(unsigned exts) {
    static const ts_image_format all[] = {TS_FMT_JPEG, TS_FMT_PNG, TS_FMT_WEBP, TS_FMT_GIF};
    const char *found = NULL;
    for (size_t i = 0; i < 4; i++)
        if (exts & (1u << all[i])) {
            if (found) return NULL;
            found = ts_image_extension(all[i]);
        }
    return found;
}

/* Field maps (webdataset part -> sample field), one image part name. */
static ts_status field_map(ts_buf *b, ts_energon_type type, const char *ext, ts_error *err) {
    switch (type) {
    case TS_ENERGON_CAPTION:
        return ts_buf_printf(b, err, "field_map:\n  image: %s\n  caption: txt\n", ext);
    case TS_ENERGON_OCR:
        return ts_buf_printf(b, err, "field_map:\n  image: %s\n  text: txt\n", ext);
    case TS_ENERGON_VQA:
        return ts_buf_printf(b, err,
                             "field_map:\n  image: %s\n  context: json[question]\n  answers: json[answers]\n"
                             "  answer_weights: json[answer_weights]\n",
                             ext);
    default: return ts_fail(err, TS_EINVAL, "no field map for this type");
    }
}

/* sample_loader.py: used for interleaved samples (a field map cannot build a
 * list of images) and for single-image types whose image parts use more than
 * one extension (a field map names one part). */
static const char loader_head[] =
    "# Written by tessera (docs/ENERGON.md). Energon's legacy custom sample loader:\n"
    "# `raw` maps part names to decoded parts (images as PIL, .json parsed, .txt str).\n"
    "IMAGE_PARTS = (\"jpg\", \"png\", \"webp\", \"gif\")\n"
    "\n"
    "\n"
    "def _image(raw):\n"
    "    for part in IMAGE_PARTS:\n"
    "        if part in raw:\n"
    "            return raw[part]\n"
    "    raise KeyError(\"no image part in sample \" + str(raw.get(\"__key__\")))\n"
    "\n"
    "\n"
    "def part_filter(part):\n"
    "    return True\n"
    "\n"
    "\n"
    "def sample_loader(raw):\n";

static const char *loader_body(ts_energon_type type) {
    switch (type) {
    case TS_ENERGON_CAPTION: return "    return dict(image=_image(raw), caption=raw[\"txt\"])\n";
    case TS_ENERGON_OCR: return "    return dict(image=_image(raw), text=raw[\"txt\"])\n";
    case TS_ENERGON_VQA:
        return "    meta = raw[\"json\"]\n"
               "    return dict(\n"
               "        image=_image(raw),\n"
               "        context=meta[\"question\"],\n"
               "        answers=meta[\"answers\"],\n"
               "        answer_weights=meta[\"answer_weights\"],\n"
               "    )\n";
    default:
        return "    meta = raw[\"json\"]\n"
               "    return dict(images=[raw[name] for name in meta[\"images\"]], texts=meta[\"conversations\"])\n";
    }
}

ts_status ts_energon_write_meta(const char *dir, ts_energon_type type, unsigned image_exts,
                                const ts_energon_shard_info *shards, size_t n, ts_error *err) {
    ts_buf b = TS_BUF_INIT;
    ts_status st = split_yaml(&b, shards, n, err);
    if (!st) st = write_buf(dir, "split.yaml", &b, err);

    const char *ext = type == TS_ENERGON_INTERLEAVED ? NULL : single_ext(image_exts);
    /* An empty single-image dataset still gets a field map (jpg). */
    if (type != TS_ENERGON_INTERLEAVED && image_exts == 0) ext = "jpg";
    ts_buf_reset(&b);
    if (!st)
        st = ts_buf_printf(&b, err, "sample_type:\n  __module__: megatron.energon\n  __class__: %s\n",
                           ts_energon_sample_class(type));
    if (!st && ext) st = field_map(&b, type, ext, err);
    if (!st && !ext)
        st = ts_buf_printf(&b, err, "sample_loader: sample_loader.py:sample_loader\n"
                                    "part_filter: sample_loader.py:part_filter\n");
    if (!st) st = write_buf(dir, "dataset.yaml", &b, err);
    if (!st && !ext) {
        ts_buf_reset(&b);
        st = ts_buf_printf(&b, err, "%s%s", loader_head, loader_body(type));
        if (!st) st = write_buf(dir, "sample_loader.py", &b, err);
    }

    ts_buf_reset(&b);
    if (!st) st = info_json(&b, shards, n, err);
    if (!st) st = write_buf(dir, ".info.json", &b, err);
    ts_buf_reset(&b);
    if (!st) st = info_yaml(&b, shards, n, err);
    if (!st) st = write_buf(dir, ".info.yaml", &b, err);
    ts_buf_free(&b);
    return st;
}
