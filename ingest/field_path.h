/* Field paths and templates of source mappings (docs/MANIFESTS.md).
 *
 * A path names values inside a raw JSON record: members separated by dots,
 * array steps in brackets: "question", "image.bytes", "texts[*].user",
 * "conversations[0].value", "[2]". "[*]" fans out over every element, so a
 * path yields zero or more values, in document order.
 *
 * A template is text with {path} or {path:0Nd} fields: "train2014/
 * COCO_train2014_{image_id:012d}.jpg". A field must yield exactly one string
 * or integer; :0Nd zero-pads an integer to N digits. */
#ifndef TS_INGEST_FIELD_PATH_H
#define TS_INGEST_FIELD_PATH_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

typedef struct ts_fpath ts_fpath;

/* TS_EINVAL with a message naming the offending character. */
ts_status ts_fpath_parse(const char *text, ts_fpath **out, ts_error *err);
void ts_fpath_free(ts_fpath *p);
const char *ts_fpath_text(const ts_fpath *p);
/* 1 when the path holds a [*] step (may yield several values). */
int ts_fpath_fans_out(const ts_fpath *p);

/* The steps of a path, for code that walks JSON itself (streamed
 * selections, join tables keeping only what the mapping reads). */
typedef enum ts_fstep_kind { TS_FSTEP_MEMBER, TS_FSTEP_INDEX, TS_FSTEP_ALL } ts_fstep_kind;
size_t ts_fpath_len(const ts_fpath *p);
/* Step k (< ts_fpath_len): its kind, and its member name or index. */
ts_fstep_kind ts_fpath_step(const ts_fpath *p, size_t k, const char **name, size_t *index);

/* The values a path yields in `root`. */
typedef struct ts_fvals {
    const cJSON **v;
    size_t n, cap;
} ts_fvals;
void ts_fvals_free(ts_fvals *vals);
/* Clears `vals`, then appends every match (none when a step is absent or of
 * the wrong type). Fails only when out of memory. */
ts_status ts_fpath_eval(const ts_fpath *p, const cJSON *root, ts_fvals *vals, ts_error *err);
/* The single value of a path without [*], or NULL. */
const cJSON *ts_fpath_get(const ts_fpath *p, const cJSON *root);

/* A scalar as text: strings as they are, integers in decimal, other numbers
 * with %.17g, booleans as true/false. Returns 0, or -1 for null, arrays and
 * objects. */
int ts_json_scalar_text(const cJSON *v, ts_buf *out, ts_error *err);

typedef struct ts_ftemplate ts_ftemplate;
ts_status ts_ftemplate_parse(const char *text, ts_ftemplate **out, ts_error *err);
void ts_ftemplate_free(ts_ftemplate *t);
/* Render into `out` (cleared first). TS_ENOTFOUND when a field is missing or
 * not a single scalar; the message names the field. */
/* The fields of a template, in order. */
size_t ts_ftemplate_nfields(const ts_ftemplate *t);
const ts_fpath *ts_ftemplate_field(const ts_ftemplate *t, size_t i);
ts_status ts_ftemplate_render(const ts_ftemplate *t, const cJSON *root, ts_buf *out, ts_error *err);

#endif
