/* The footer: FileMetaData -> schema tree (levels, logical types) and the
 * column chunk locations of every row group. */
#include <stdlib.h>
#include <string.h>

#include "ingest/parquet_internal.h"
#include "ingest/thrift_compact.h"

#define PQ_MAX_DEPTH 64

/* A SchemaElement as stored, before the tree is built. */
typedef struct pq_elem {
    int type; /* -1: absent (group) */
    int type_length;
    int repetition;
    char *name;
    int num_children;
    int converted; /* -1: absent */
    int scale, precision;
    ts_pq_logical logical;
    ts_pq_unit unit;
    int utc, bit_width, is_signed;
} pq_elem;

static ts_status read_name(tc_reader *r, int ft, char **out) {
    const uint8_t *s;
    uint32_t n;
    if (tc_binary(r, ft, &s, &n)) return TS_EFORMAT;
    free(*out);
    *out = malloc(n + 1u);
    if (!*out) return ts_fail(r->err, TS_ENOMEM, "out of memory");
    memcpy(*out, s, n);
    (*out)[n] = 0;
    return TS_OK;
}

/* Generic loop over the fields of a struct: calls `on_field` for each. */
typedef ts_status (*field_fn)(tc_reader *r, int ft, int id, void *ctx);

static ts_status read_struct(tc_reader *r, int type, field_fn fn, void *ctx) {
    if (tc_enter(r, type)) return TS_EFORMAT;
    int16_t last = 0;
    for (;;) {
        int ft, id;
        if (tc_field(r, &ft, &id, &last)) return TS_EFORMAT;
        if (ft == TC_STOP) break;
        ts_status st = fn(r, ft, id, ctx);
        if (st) return st;
    }
    tc_leave(r);
    return TS_OK;
}

static ts_status skip_field(tc_reader *r, int ft, int id, void *ctx) {
    (void)id, (void)ctx;
    return tc_skip(r, ft);
}

static ts_status time_unit_field(tc_reader *r, int ft, int id, void *ctx) {
    ts_pq_unit *u = ctx;
    if (id == 1) *u = TS_PQ_MILLIS;
    else if (id == 2) *u = TS_PQ_MICROS;
    else if (id == 3) *u = TS_PQ_NANOS;
    return read_struct(r, ft, skip_field, NULL);
}

static ts_status time_field(tc_reader *r, int ft, int id, void *ctx) {
    pq_elem *e = ctx;
    if (id == 1) return tc_bool(r, ft, &e->utc);
    if (id == 2) return read_struct(r, ft, time_unit_field, &e->unit);
    return tc_skip(r, ft);
}

static ts_status decimal_field(tc_reader *r, int ft, int id, void *ctx) {
    pq_elem *e = ctx;
    if (id == 1) return tc_i32(r, ft, &e->scale);
    if (id == 2) return tc_i32(r, ft, &e->precision);
    return tc_skip(r, ft);
}

static ts_status int_field(tc_reader *r, int ft, int id, void *ctx) {
    pq_elem *e = ctx;
    if (id == 1) return tc_i32(r, ft, &e->bit_width);
    if (id == 2) return tc_bool(r, ft, &e->is_signed);
    return tc_skip(r, ft);
}

static ts_status logical_field(tc_reader *r, int ft, int id, void *ctx) {
    pq_elem *e = ctx;
    static const ts_pq_logical by_id[] = {
        [1] = TS_PQ_L_STRING, [2] = TS_PQ_L_MAP,     [3] = TS_PQ_L_LIST,
        [4] = TS_PQ_L_ENUM,   [5] = TS_PQ_L_DECIMAL, [6] = TS_PQ_L_DATE,
        [7] = TS_PQ_L_TIME,   [8] = TS_PQ_L_TIMESTAMP, [10] = TS_PQ_L_INTEGER,
        [11] = TS_PQ_L_UNKNOWN, [12] = TS_PQ_L_JSON, [13] = TS_PQ_L_BSON,
        [14] = TS_PQ_L_UUID,  [15] = TS_PQ_L_FLOAT16,
    };
    if (id < 1 || id > 15 || by_id[id] == TS_PQ_L_NONE) return tc_skip(r, ft);
    e->logical = by_id[id];
    if (e->logical == TS_PQ_L_DECIMAL) return read_struct(r, ft, decimal_field, e);
    if (e->logical == TS_PQ_L_TIME || e->logical == TS_PQ_L_TIMESTAMP)
        return read_struct(r, ft, time_field, e);
    if (e->logical == TS_PQ_L_INTEGER) return read_struct(r, ft, int_field, e);
    return tc_skip(r, ft);
}

static ts_status elem_field(tc_reader *r, int ft, int id, void *ctx) {
    pq_elem *e = ctx;
    switch (id) {
    case 1: return tc_i32(r, ft, &e->type);
    case 2: return tc_i32(r, ft, &e->type_length);
    case 3: return tc_i32(r, ft, &e->repetition);
    case 4: return read_name(r, ft, &e->name);
    case 5: return tc_i32(r, ft, &e->num_children);
    case 6: return tc_i32(r, ft, &e->converted);
    case 7: return tc_i32(r, ft, &e->scale);
    case 8: return tc_i32(r, ft, &e->precision);
    case 10: return read_struct(r, ft, logical_field, e);
    default: return tc_skip(r, ft);
    }
}

/* The legacy converted type, used when no logical type is given. */
static void apply_converted(pq_elem *e) {
    if (e->logical != TS_PQ_L_NONE || e->converted < 0) return;
    switch (e->converted) {
    case 0: e->logical = TS_PQ_L_STRING; break;
    case 1: case 2: e->logical = TS_PQ_L_MAP; break;
    case 3: e->logical = TS_PQ_L_LIST; break;
    case 4: e->logical = TS_PQ_L_ENUM; break;
    case 5: e->logical = TS_PQ_L_DECIMAL; break;
    case 6: e->logical = TS_PQ_L_DATE; break;
    case 7: case 8:
        e->logical = TS_PQ_L_TIME, e->unit = e->converted == 7 ? TS_PQ_MILLIS : TS_PQ_MICROS;
        e->utc = 1;
        break;
    case 9: case 10:
        e->logical = TS_PQ_L_TIMESTAMP, e->unit = e->converted == 9 ? TS_PQ_MILLIS : TS_PQ_MICROS;
        e->utc = 1;
        break;
    case 11: case 12: case 13: case 14:
        e->logical = TS_PQ_L_INTEGER, e->is_signed = 0, e->bit_width = 8 << (e->converted - 11);
        break;
    case 15: case 16: case 17: case 18:
        e->logical = TS_PQ_L_INTEGER, e->is_signed = 1, e->bit_width = 8 << (e->converted - 15);
        break;
    case 19: e->logical = TS_PQ_L_JSON; break;
    case 20: e->logical = TS_PQ_L_BSON; break;
    case 21: e->logical = TS_PQ_L_INTERVAL; break;
    default: break;
    }
}

typedef struct list_ctx {
    pq_elem *elems;
    uint32_t n;
} list_ctx;

static ts_status chunk_meta_field(tc_reader *r, int ft, int id, void *ctx) {
    pq_chunk_meta *m = ctx;
    switch (id) {
    case 1: return tc_i32(r, ft, &m->type);
    case 4: return tc_i32(r, ft, &m->codec);
    case 5: return tc_i64(r, ft, &m->num_values);
    case 6: return tc_i64(r, ft, &m->total_uncompressed);
    case 7: return tc_i64(r, ft, &m->total_compressed);
    case 9: return tc_i64(r, ft, &m->data_page_offset);
    case 11: return tc_i64(r, ft, &m->dictionary_page_offset);
    default: return tc_skip(r, ft);
    }
}

typedef struct chunk_ctx {
    pq_chunk_meta *m;
    int has_meta, external;
} chunk_ctx;

static ts_status chunk_field(tc_reader *r, int ft, int id, void *ctx) {
    chunk_ctx *c = ctx;
    if (id == 1) {
        c->external = 1;
        return tc_skip(r, ft);
    }
    if (id == 3) {
        c->has_meta = 1;
        return read_struct(r, ft, chunk_meta_field, c->m);
    }
    return tc_skip(r, ft);
}

typedef struct rg_ctx {
    pq_row_group *rg;
    size_t nleaves;
    int index;
} rg_ctx;

static ts_status row_group_field(tc_reader *r, int ft, int id, void *ctx) {
    rg_ctx *c = ctx;
    if (id == 3) return tc_i64(r, ft, &c->rg->num_rows);
    if (id != 1) return tc_skip(r, ft);
    int et;
    uint32_t n;
    if (tc_list(r, ft, &et, &n)) return TS_EFORMAT;
    if (n != c->nleaves)
        return ts_fail(r->err, TS_EFORMAT, "row group %d has %u column chunks, schema has %zu leaves",
                       c->index, n, c->nleaves);
    c->rg->chunks = calloc(n ? n : 1, sizeof *c->rg->chunks);
    if (!c->rg->chunks) return ts_fail(r->err, TS_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        chunk_ctx cc = {&c->rg->chunks[i], 0, 0};
        if (read_struct(r, et, chunk_field, &cc)) return TS_EFORMAT;
        if (cc.external)
            return ts_fail(r->err, TS_EUNSUPPORTED,
                           "row group %d column %u lives in another file (file_path)", c->index, i);
        if (!cc.has_meta)
            return ts_fail(r->err, TS_EFORMAT, "row group %d column %u has no metadata", c->index, i);
    }
    return TS_OK;
}

typedef struct file_ctx {
    pq_meta *meta;
    list_ctx schema;
    int have_schema;
} file_ctx;

static ts_status file_field(tc_reader *r, int ft, int id, void *ctx) {
    file_ctx *c = ctx;
    pq_meta *m = c->meta;
    int et;
    uint32_t n;
    switch (id) {
    case 2:
        if (tc_list(r, ft, &et, &n)) return TS_EFORMAT;
        if (c->have_schema) return ts_fail(r->err, TS_EFORMAT, "schema given twice");
        c->have_schema = 1;
        c->schema.elems = calloc(n ? n : 1, sizeof *c->schema.elems);
        if (!c->schema.elems) return ts_fail(r->err, TS_ENOMEM, "out of memory");
        c->schema.n = n;
        for (uint32_t i = 0; i < n; i++) {
            pq_elem *e = &c->schema.elems[i];
            e->type = -1, e->converted = -1;
            if (read_struct(r, et, elem_field, e)) return TS_EFORMAT;
            apply_converted(e);
        }
        return TS_OK;
    case 3:
        return tc_i64(r, ft, &m->num_rows);
    case 4:
        if (!c->have_schema) return ts_fail(r->err, TS_EFORMAT, "row groups before the schema");
        if (tc_list(r, ft, &et, &n)) return TS_EFORMAT;
        if (m->row_groups) return ts_fail(r->err, TS_EFORMAT, "row groups given twice");
        m->row_groups = calloc(n ? n : 1, sizeof *m->row_groups);
        if (!m->row_groups) return ts_fail(r->err, TS_ENOMEM, "out of memory");
        m->nrow_groups = (int)n;
        if (!m->leaves) return ts_fail(r->err, TS_EFORMAT, "row groups before the schema tree");
        for (uint32_t i = 0; i < n; i++) {
            rg_ctx rc = {&m->row_groups[i], m->nleaves, (int)i};
            ts_status st = read_struct(r, et, row_group_field, &rc);
            if (st) return st;
            if (!m->row_groups[i].chunks)
                return ts_fail(r->err, TS_EFORMAT, "row group %u lists no column chunks", i);
        }
        return TS_OK;
    case 6:
        return read_name(r, ft, &m->created_by);
    default:
        return tc_skip(r, ft);
    }
}

/* Build nodes[*next...] as the subtree of element *next; depth-first. */
static ts_status build_tree(pq_meta *m, list_ctx *s, size_t *next, ts_pq_node *parent, int depth,
                            ts_error *err) {
    if (*next >= s->n) return ts_fail(err, TS_EFORMAT, "schema: fewer elements than num_children say");
    if (depth > PQ_MAX_DEPTH) return ts_fail(err, TS_EFORMAT, "schema: nested deeper than %d", PQ_MAX_DEPTH);
    size_t idx = (*next)++;
    pq_elem *e = &s->elems[idx];
    ts_pq_node *nd = &m->nodes[idx];
    nd->name = strdup(e->name ? e->name : "");
    if (!nd->name) return ts_fail(err, TS_ENOMEM, "out of memory");
    nd->parent = parent;
    nd->repetition = parent ? (ts_pq_repetition)e->repetition : TS_PQ_REQUIRED;
    if (nd->repetition < TS_PQ_REQUIRED || nd->repetition > TS_PQ_REPEATED)
        return ts_fail(err, TS_EFORMAT, "schema: column %s has repetition %d", nd->name, e->repetition);
    nd->logical = e->logical;
    nd->unit = e->unit, nd->utc = e->utc;
    nd->bit_width = e->bit_width, nd->is_signed = e->is_signed;
    nd->scale = e->scale, nd->precision = e->precision;
    nd->type_length = e->type_length;
    nd->max_def = (parent ? parent->max_def : 0) + (nd->repetition != TS_PQ_REQUIRED);
    nd->max_rep = (parent ? parent->max_rep : 0) + (nd->repetition == TS_PQ_REPEATED);
    nd->leaf = -1;
    if (e->num_children < 0 || (size_t)e->num_children > s->n - *next)
        return ts_fail(err, TS_EFORMAT, "schema: %s claims %d children", nd->name, e->num_children);
    if (e->num_children == 0 && parent) {
        if (e->type < TS_PQ_BOOLEAN || e->type > TS_PQ_FIXED_LEN_BYTE_ARRAY)
            return ts_fail(err, TS_EFORMAT, "schema: leaf %s has physical type %d", nd->name, e->type);
        if (e->type == TS_PQ_FIXED_LEN_BYTE_ARRAY && e->type_length <= 0)
            return ts_fail(err, TS_EFORMAT, "schema: %s has fixed length %d", nd->name, e->type_length);
        nd->physical = (ts_pq_physical)e->type;
        nd->leaf = (int)m->nleaves;
        m->leaves[m->nleaves++] = nd;
        return TS_OK;
    }
    nd->physical = TS_PQ_GROUP;
    nd->nchildren = (size_t)e->num_children;
    nd->children = calloc(nd->nchildren ? nd->nchildren : 1, sizeof *nd->children);
    if (!nd->children) return ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; i < nd->nchildren; i++) {
        nd->children[i] = &m->nodes[*next];
        ts_status st = build_tree(m, s, next, nd, depth + 1, err);
        if (st) return st;
    }
    return TS_OK;
}

static ts_status make_paths(pq_meta *m, ts_error *err) {
    m->leaf_paths = calloc(m->nleaves ? m->nleaves : 1, sizeof *m->leaf_paths);
    if (!m->leaf_paths) return ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->nleaves; i++) {
        size_t len = 0;
        for (const ts_pq_node *n = m->leaves[i]; n->parent; n = n->parent) len += strlen(n->name) + 1;
        len--; /* no dot before the first name */
        char *p = malloc(len + 1);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        p[len] = 0;
        size_t end = len;
        for (const ts_pq_node *n = m->leaves[i]; n->parent; n = n->parent) {
            size_t l = strlen(n->name);
            end -= l;
            memcpy(p + end, n->name, l);
            if (end) p[--end] = '.';
        }
        m->leaf_paths[i] = p;
    }
    return TS_OK;
}

/* The schema list is parsed inside the FileMetaData walk; the tree must be
 * built before the row groups (field 4) are read, which follow it. */
static ts_status file_field_building(tc_reader *r, int ft, int id, void *ctx) {
    file_ctx *c = ctx;
    ts_status st = file_field(r, ft, id, ctx);
    if (st || id != 2) return st;
    pq_meta *m = c->meta;
    if (c->schema.n == 0) return ts_fail(r->err, TS_EFORMAT, "schema is empty");
    m->nodes = calloc(c->schema.n, sizeof *m->nodes);
    m->leaves = calloc(c->schema.n, sizeof *m->leaves);
    if (!m->nodes || !m->leaves) return ts_fail(r->err, TS_ENOMEM, "out of memory");
    m->nnodes = c->schema.n;
    size_t next = 0;
    st = build_tree(m, &c->schema, &next, NULL, 0, r->err);
    if (st) return st;
    if (next != c->schema.n)
        return ts_fail(r->err, TS_EFORMAT, "schema: %zu elements outside the tree", c->schema.n - next);
    return make_paths(m, r->err);
}

ts_status pq_meta_parse(const uint8_t *data, size_t len, pq_meta *meta, ts_error *err) {
    memset(meta, 0, sizeof *meta);
    tc_reader r;
    tc_init(&r, data, len, err);
    file_ctx c = {meta, {NULL, 0}, 0};
    ts_status st = read_struct(&r, TC_STRUCT, file_field_building, &c);
    for (uint32_t i = 0; i < c.schema.n; i++) free(c.schema.elems[i].name);
    free(c.schema.elems);
    if (!st && !c.have_schema) st = ts_fail(err, TS_EFORMAT, "footer has no schema");
    if (!st && meta->num_rows < 0) st = ts_fail(err, TS_EFORMAT, "footer: num_rows %lld", (long long)meta->num_rows);
    if (st) {
        pq_meta_free(meta);
        return st;
    }
    return TS_OK;
}

void pq_meta_free(pq_meta *m) {
    for (size_t i = 0; i < m->nnodes; i++) {
        free((char *)m->nodes[i].name);
        free(m->nodes[i].children);
    }
    for (size_t i = 0; m->leaf_paths && i < m->nleaves; i++) free(m->leaf_paths[i]);
    free(m->leaf_paths);
    free(m->nodes);
    free(m->leaves);
    for (int i = 0; i < m->nrow_groups; i++) free(m->row_groups[i].chunks);
    free(m->row_groups);
    free(m->created_by);
    memset(m, 0, sizeof *m);
}
