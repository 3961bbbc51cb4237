/* Internals shared by the source files (manifest loader, mapping, reader). */
#ifndef TS_INGEST_SOURCE_INTERNAL_H
#define TS_INGEST_SOURCE_INTERNAL_H

#include <cjson/cJSON.h>

#include "ingest/field_path.h"
#include "ingest/records.h"
#include "ingest/source.h"

typedef enum src_role { SRC_RECORDS = 0, SRC_TABLE, SRC_IMAGES } src_role;
/* Input formats: the record formats, plus zip (image archive or container of
 * a member) and dir (a folder of images). */
typedef enum src_format { SRC_FMT_RECORDS = 0, SRC_FMT_ZIP, SRC_FMT_DIR } src_format;

typedef struct src_input {
    src_role role;
    char *name;     /* required for tables and image archives */
    char *url;      /* remote, or NULL */
    char *path;     /* local (resolved against the manifest's folder), or NULL */
    int64_t size;   /* -1: unknown */
    char *sha256;   /* NULL: unknown */
    src_format kind;
    ts_rec_format rec_format; /* kind == SRC_FMT_RECORDS */
    char *member;   /* a file inside this zip holds the data */
    ts_fpath *select; /* records/rows are the elements (or members) of this node of one JSON document */
    int auth;       /* the URL's host is one of the manifest's auth hosts: the token goes with it */
    int select_root;  /* "select": "" -- the document itself */
    char *jpath;    /* "$.inputs[2]" for messages */
} src_input;

typedef enum img_kind { IMG_BYTES = 0, IMG_URL, IMG_FILE, IMG_MEMBER } img_kind;

/* A field given either as a path or as a template (a string with '{'). */
typedef struct src_field {
    ts_fpath *path;
    ts_ftemplate *tmpl;
    char *text; /* as written */
} src_field;

typedef struct src_image {
    img_kind kind;
    src_field from;
    char *archive;   /* IMG_MEMBER: name of an images input */
    int optional;    /* absent field: no image instead of a drop */
} src_image;

typedef enum turns_kind { TURNS_NONE = 0, TURNS_LIST, TURNS_PAIRS, TURNS_PARALLEL } turns_kind;

typedef struct src_role_map {
    char *from;
    ts_sample_role to;
} src_role_map;

typedef struct src_turns {
    turns_kind kind;
    ts_fpath *list;     /* TURNS_LIST / TURNS_PAIRS: the array of turn objects */
    char *role_key, *content_key; /* TURNS_LIST */
    src_role_map *roles;
    size_t n_roles;
    char *user_key, *assistant_key; /* TURNS_PAIRS */
    ts_fpath *user, *assistant;     /* TURNS_PARALLEL: strings or parallel arrays */
    char *system;       /* literal system turn prepended, or NULL */
} src_turns;

typedef enum answers_rule { ANSWERS_AS_IS = 0, ANSWERS_COUNT } answers_rule;

typedef struct src_join {
    char *table;        /* name of a table input */
    ts_fpath *key;      /* in each table row */
    ts_fpath *on;       /* in the record */
    char *as;           /* member added to the record */
    int many;           /* all matching rows (array, table order) or exactly one */
    int required;       /* no match: drop (missing_join) */
} src_join;

typedef struct src_mapping {
    src_field key;      /* optional */
    src_image *images;
    size_t n_images;
    int url_images;     /* the images are URLs (never mixed with carried ones) */
    src_field text;     /* caption / OCR / plain text */
    ts_fpath *question; /* VQA */
    ts_fpath *answers, *answer_weights;
    answers_rule rule;
    src_turns turns;
    src_field url, row, license;
    src_join *joins;
    size_t n_joins;
    size_t max_image_bytes;
} src_mapping;

struct ts_source {
    char *manifest_path;
    char *dir;          /* the manifest's folder */
    char *name, *license, *homepage, *citation;
    ts_sample_stage stage;
    ts_sample_task task;
    src_input *inputs;  /* public */
    size_t n_inputs;
    src_input *local;   /* test copies */
    size_t n_local;
    src_mapping map;
    char *auth_env;     /* "auth.bearer_env", or NULL: no input is authenticated */
    char **auth_hosts;
    size_t n_auth_hosts;
    ts_hash128 hash;
};

struct ts_zip;

/* What mapping one record needs besides the record: the opened archives
 * and the place of the record (ingest/source_reader.c fills it). */
typedef struct src_map_ctx {
    const ts_source *src;
    const char *records_dir;  /* folder of the current records file ("file" images) */
    const char *file_label;   /* basename of the current records file */
    uint64_t file_index;      /* the record's position in that file */
    uint64_t ordinal;
    const char *location;
    struct ts_zip **zips;     /* per mapping image: the zip archive, or NULL */
    const char **dirs;        /* per mapping image: the folder archive, or NULL */
    /* scratch, reused across records */
    ts_buf b1, b2;
    ts_fvals vals, vals2;
    /* outputs besides the sample */
    char **urls;
    size_t n_urls, cap_urls;
    ts_buf message;
    const char *drop_reason;
} src_map_ctx;

/* Map one raw record into `s`. TS_OK either with ctx->drop_reason NULL (the
 * sample and ctx->urls are filled) or with a drop reason and ctx->message;
 * another status is fatal (out of memory, an archive read failing with I/O). */
ts_status src_map_record(src_map_ctx *ctx, const cJSON *rec, ts_sample *s, ts_error *err);
void src_map_ctx_free(src_map_ctx *ctx);

/* The "$.mapping" field lookups in check_refs name inputs; this finds one by
 * name in a list (-1 when absent). */
long src_find_input(const src_input *ins, size_t n, const char *name);

/* "$.auth" (docs/MANIFESTS.md, Gated sources): checks it, keeps the
 * variable name and hosts in `s` and marks the url inputs on those hosts;
 * the inputs must be parsed first. */
ts_status src_auth_parse(const char *file, const cJSON *auth, ts_source *s, ts_error *err);
/* The options to download input `in` with: `base` (NULL: defaults) with the
 * bearer token from the environment when `in` is authenticated, none
 * otherwise. A missing, empty or malformed token is TS_EINVAL naming the
 * variable (never its value). `out` refers to the environment's string. */
ts_status src_auth_download_options(const ts_source *s, const src_input *in, const ts_download_options *base,
                                    ts_download_options *out, ts_error *err);

void src_field_free(src_field *f);
/* Value of a field (path or template) as text into `out`; TS_ENOTFOUND when
 * missing, TS_EFORMAT when not a scalar. */
ts_status src_field_text(const src_field *f, const cJSON *rec, ts_buf *out, ts_error *err);

#endif
