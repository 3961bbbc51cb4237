/* Opening a file, projection, row groups one at a time, and row assembly
 * from repetition/definition levels (the Dremel record shredding undone). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/parquet_internal.h"

#define PQ_DEFAULT_CAP (UINT64_C(1) << 30)
#define PQ_MAX_FOOTER (UINT64_C(256) << 20)

/* A selected leaf and the path from its top-level column down to it. */
typedef struct pq_sel_leaf {
    int leaf;
    size_t top;                 /* index among the selected columns */
    size_t depth;
    const ts_pq_node **path;    /* path[0] is the top-level node, path[depth-1] the leaf */
    size_t *child_index;        /* child_index[i]: position of path[i+1] in path[i] */
} pq_sel_leaf;

struct ts_parquet {
    char *path;
    int fd;
    uint64_t file_size, data_end;
    pq_meta meta;
    uint64_t cap;
    const ts_pq_node **sel;
    size_t nsel;
    pq_sel_leaf *leaves;
    size_t nleaves;
    pq_column *cols;   /* one per selected leaf */
    uint8_t **raw;     /* chunk bytes per selected leaf */
    size_t *raw_cap;
    int started;
    int rg;            /* current row group */
    int64_t rg_row, rg_rows;
    ts_pq_value *row;
    pq_arena row_arena;
    int cursor[256];   /* element index per repetition level, during assembly */
};

static ts_status read_at(ts_parquet *pq, void *buf, size_t n, uint64_t off, ts_error *err) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = pread(pq->fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return ts_fail_errno(err, TS_EIO, "%s: read at %llu", pq->path, (unsigned long long)off);
        if (got == 0) return ts_fail(err, TS_EFORMAT, "%s: file shorter than expected", pq->path);
        p += got, n -= (size_t)got, off += (uint64_t)got;
    }
    return TS_OK;
}

static void free_selection(ts_parquet *pq) {
    for (size_t i = 0; i < pq->nleaves; i++) {
        free(pq->leaves[i].path);
        free(pq->leaves[i].child_index);
        pq_column_free(&pq->cols[i]);
        free(pq->raw[i]);
    }
    free(pq->leaves);
    free(pq->cols);
    free(pq->raw);
    free(pq->raw_cap);
    free(pq->sel);
    free(pq->row);
    pq->leaves = NULL, pq->cols = NULL, pq->raw = NULL, pq->raw_cap = NULL;
    pq->sel = NULL, pq->row = NULL;
    pq->nleaves = pq->nsel = 0;
}

static ts_status add_leaves(ts_parquet *pq, const ts_pq_node *n, size_t top, ts_error *err) {
    if (n->physical != TS_PQ_GROUP) {
        pq_sel_leaf *l = &pq->leaves[pq->nleaves];
        memset(l, 0, sizeof *l);
        l->leaf = n->leaf;
        l->top = top;
        for (const ts_pq_node *p = n; p->parent; p = p->parent) l->depth++;
        l->path = calloc(l->depth, sizeof *l->path);
        l->child_index = calloc(l->depth, sizeof *l->child_index);
        if (!l->path || !l->child_index) {
            free(l->path), free(l->child_index);
            return ts_fail(err, TS_ENOMEM, "out of memory");
        }
        size_t i = l->depth;
        for (const ts_pq_node *p = n; p->parent; p = p->parent) l->path[--i] = p;
        for (i = 0; i + 1 < l->depth; i++)
            for (size_t c = 0; c < l->path[i]->nchildren; c++)
                if (l->path[i]->children[c] == l->path[i + 1]) l->child_index[i] = c;
        pq->cols[pq->nleaves].leaf = n;
        pq->nleaves++;
        return TS_OK;
    }
    for (size_t c = 0; c < n->nchildren; c++) {
        ts_status st = add_leaves(pq, n->children[c], top, err);
        if (st) return st;
    }
    return TS_OK;
}

ts_status ts_parquet_select(ts_parquet *pq, const char *const *names, size_t n, ts_error *err) {
    if (pq->started) return ts_fail(err, TS_EINVAL, "%s: columns must be selected before reading", pq->path);
    const ts_pq_node *root = &pq->meta.nodes[0];
    free_selection(pq);
    size_t count = names ? n : root->nchildren;
    pq->sel = calloc(count ? count : 1, sizeof *pq->sel);
    pq->row = calloc(count ? count : 1, sizeof *pq->row);
    size_t nl = pq->meta.nleaves ? pq->meta.nleaves : 1;
    if (names) nl *= count ? count : 1; /* a column may be named twice */
    pq->leaves = calloc(nl, sizeof *pq->leaves);
    pq->cols = calloc(nl, sizeof *pq->cols);
    pq->raw = calloc(nl, sizeof *pq->raw);
    pq->raw_cap = calloc(nl, sizeof *pq->raw_cap);
    if (!pq->sel || !pq->row || !pq->leaves || !pq->cols || !pq->raw || !pq->raw_cap) {
        free_selection(pq);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        const ts_pq_node *node = NULL;
        if (!names) {
            node = root->children[i];
        } else {
            for (size_t c = 0; c < root->nchildren && !node; c++)
                if (strcmp(root->children[c]->name, names[i]) == 0) node = root->children[c];
            if (!node) {
                ts_status st = ts_fail(err, TS_ENOTFOUND, "%s: no column named \"%s\"", pq->path, names[i]);
                free_selection(pq);
                return st;
            }
        }
        pq->sel[pq->nsel++] = node;
        ts_status st = add_leaves(pq, node, i, err);
        if (st) {
            free_selection(pq);
            return st;
        }
    }
    return TS_OK;
}

size_t ts_parquet_num_selected(const ts_parquet *pq) { return pq->nsel; }
const ts_pq_node *ts_parquet_selected(const ts_parquet *pq, size_t i) {
    return i < pq->nsel ? pq->sel[i] : NULL;
}
int64_t ts_parquet_num_rows(const ts_parquet *pq) { return pq->meta.num_rows; }
int ts_parquet_num_row_groups(const ts_parquet *pq) { return pq->meta.nrow_groups; }
const ts_pq_node *ts_parquet_schema(const ts_parquet *pq) { return &pq->meta.nodes[0]; }

ts_status ts_parquet_open(ts_parquet **out, const char *path, const ts_pq_options *opt,
                          ts_error *err) {
    *out = NULL;
    ts_parquet *pq = calloc(1, sizeof *pq);
    if (!pq || !(pq->path = strdup(path))) {
        free(pq);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    pq->cap = opt && opt->max_row_group_bytes ? opt->max_row_group_bytes : PQ_DEFAULT_CAP;
    pq->fd = open(path, O_RDONLY | O_CLOEXEC);
    ts_status st = TS_OK;
    struct stat sb;
    uint8_t tail[8], head[4];
    uint8_t *footer = NULL;
    if (pq->fd < 0) {
        st = ts_fail_errno(err, TS_EIO, "%s", path);
        goto fail;
    }
    if (fstat(pq->fd, &sb) != 0) {
        st = ts_fail_errno(err, TS_EIO, "%s", path);
        goto fail;
    }
    pq->file_size = (uint64_t)sb.st_size;
    if (pq->file_size < 12) {
        st = ts_fail(err, TS_EFORMAT, "%s: %llu bytes is too short for a Parquet file", path,
                     (unsigned long long)pq->file_size);
        goto fail;
    }
    if ((st = read_at(pq, head, 4, 0, err)) || (st = read_at(pq, tail, 8, pq->file_size - 8, err)))
        goto fail;
    if (memcmp(tail + 4, "PARE", 4) == 0) {
        st = ts_fail(err, TS_EUNSUPPORTED, "%s: encrypted Parquet footers are not supported", path);
        goto fail;
    }
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0) {
        st = ts_fail(err, TS_EFORMAT, "%s: not a Parquet file (bad magic %s)", path,
                     memcmp(head, "PAR1", 4) != 0 ? "at the start" : "at the end");
        goto fail;
    }
    uint32_t flen;
    memcpy(&flen, tail, 4);
    if (flen > pq->file_size - 12) {
        st = ts_fail(err, TS_EFORMAT, "%s: footer length %u exceeds the file (%llu bytes)", path, flen,
                     (unsigned long long)pq->file_size);
        goto fail;
    }
    if (flen > PQ_MAX_FOOTER) {
        st = ts_fail(err, TS_ELIMIT, "%s: footer of %u bytes is above the %llu-byte limit", path, flen,
                     (unsigned long long)PQ_MAX_FOOTER);
        goto fail;
    }
    pq->data_end = pq->file_size - 8 - flen;
    footer = malloc(flen ? flen : 1);
    if (!footer) {
        st = ts_fail(err, TS_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = read_at(pq, footer, flen, pq->data_end, err))) goto fail;
    st = pq_meta_parse(footer, flen, &pq->meta, err);
    free(footer);
    footer = NULL;
    if (st) {
        ts_error_context(err, "%s: footer: ", path);
        pq->meta.nodes = NULL;
        goto fail;
    }
    if ((st = ts_parquet_select(pq, NULL, 0, err))) goto fail;
    *out = pq;
    return TS_OK;
fail:
    free(footer);
    ts_parquet_close(pq);
    return st;
}

void ts_parquet_close(ts_parquet *pq) {
    if (!pq) return;
    free_selection(pq);
    if (pq->meta.nodes) pq_meta_free(&pq->meta);
    pq_arena_free(&pq->row_arena);
    if (pq->fd >= 0) close(pq->fd);
    free(pq->path);
    free(pq);
}

/* Read and decode the selected column chunks of row group g. */
static ts_status load_row_group(ts_parquet *pq, int g, ts_error *err) {
    const pq_row_group *rg = &pq->meta.row_groups[g];
    if (rg->num_rows < 0)
        return ts_fail(err, TS_EFORMAT, "%s: row group %d: num_rows %lld", pq->path, g, (long long)rg->num_rows);
    uint64_t total = 0;
    for (size_t i = 0; i < pq->nleaves; i++) {
        const pq_chunk_meta *cm = &rg->chunks[pq->leaves[i].leaf];
        if (cm->total_compressed > 0) total += (uint64_t)cm->total_compressed;
    }
    if (total > pq->cap)
        return ts_fail(err, TS_ELIMIT,
                       "%s: row group %d: the selected column chunks take %llu bytes, above the cap of "
                       "%llu (max_row_group_bytes)",
                       pq->path, g, (unsigned long long)total, (unsigned long long)pq->cap);
    uint64_t decoded = 0; /* by the columns before this one: they share the cap */
    for (size_t i = 0; i < pq->nleaves; i++) {
        int leaf = pq->leaves[i].leaf;
        const pq_chunk_meta *cm = &rg->chunks[leaf];
        pq_column *col = &pq->cols[i];
        const char *cpath = pq->meta.leaf_paths[leaf];
        int64_t start = cm->data_page_offset;
        if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start)
            start = cm->dictionary_page_offset;
        ts_status st = TS_OK;
        if (cm->type != (int)col->leaf->physical)
            st = ts_fail(err, TS_EFORMAT, "chunk type %d differs from the schema's %d", cm->type,
                         (int)col->leaf->physical);
        else if (start < 4 || cm->total_compressed < 0 || cm->num_values < 0 ||
                 (uint64_t)start > pq->data_end || (uint64_t)cm->total_compressed > pq->data_end - (uint64_t)start)
            st = ts_fail(err, TS_EFORMAT, "chunk at offset %lld of %lld bytes lies outside the data",
                         (long long)start, (long long)cm->total_compressed);
        size_t len = (size_t)cm->total_compressed;
        if (!st && len > pq->raw_cap[i]) {
            uint8_t *b = realloc(pq->raw[i], len);
            if (!b) st = ts_fail(err, TS_ENOMEM, "out of memory");
            else pq->raw[i] = b, pq->raw_cap[i] = len;
        }
        if (!st) st = read_at(pq, pq->raw[i], len, (uint64_t)start, err);
        if (!st) {
            pq_column_reset(col);
            col->cap = pq->cap - decoded;
            st = pq_column_decode(col, cm, pq->raw[i], len, start, err);
            decoded += col->decoded_bytes;
            if (!st && decoded > pq->cap)
                st = ts_fail(err, TS_ELIMIT, "decoded column chunks exceed the row group cap of %llu bytes",
                             (unsigned long long)pq->cap);
        }
        if (!st && !col->leaf->max_rep && col->nlevels != (uint64_t)rg->num_rows)
            st = ts_fail(err, TS_EFORMAT, "%zu values for %lld rows", col->nlevels, (long long)rg->num_rows);
        if (st) return ts_error_context(err, "%s: row group %d: column %s: ", pq->path, g, cpath);
    }
    pq->rg_rows = rg->num_rows;
    pq->rg_row = 0;
    return TS_OK;
}

static void set_scalar(ts_pq_value *v, const pq_column *col, size_t idx) {
    const void *base = col->values;
    switch (col->leaf->physical) {
    case TS_PQ_BOOLEAN: v->kind = TS_PQ_V_BOOL, v->u.b = ((const uint8_t *)base)[idx]; break;
    case TS_PQ_INT32: v->kind = TS_PQ_V_INT32, v->u.i32 = ((const int32_t *)base)[idx]; break;
    case TS_PQ_INT64: v->kind = TS_PQ_V_INT64, v->u.i64 = ((const int64_t *)base)[idx]; break;
    case TS_PQ_FLOAT: v->kind = TS_PQ_V_FLOAT, v->u.f = ((const float *)base)[idx]; break;
    case TS_PQ_DOUBLE: v->kind = TS_PQ_V_DOUBLE, v->u.d = ((const double *)base)[idx]; break;
    default: {
        const pq_bytes *b = &((const pq_bytes *)base)[idx];
        v->kind = TS_PQ_V_BYTES, v->u.bytes = b->p, v->n = b->len;
    }
    }
}

/* Items arrays grow by doubling inside the row arena; capacity is implied by n. */
static ts_pq_value *append_item(ts_parquet *pq, ts_pq_value *list, ts_error *err) {
    uint32_t n = list->n;
    if (n == UINT32_MAX) {
        ts_fail(err, TS_ELIMIT, "list longer than %u items", n);
        return NULL;
    }
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        size_t cap = n ? (size_t)n * 2 : 4;
        ts_pq_value *items = pq_arena_alloc(&pq->row_arena, cap * sizeof *items);
        if (!items) {
            ts_fail(err, TS_ENOMEM, "out of memory");
            return NULL;
        }
        if (n) memcpy(items, list->u.items, n * sizeof *items);
        list->u.items = items;
    }
    ts_pq_value *v = &list->u.items[n];
    memset(v, 0, sizeof *v);
    list->n = n + 1;
    return v;
}

static ts_status make_group(ts_parquet *pq, ts_pq_value *v, const ts_pq_node *node, ts_error *err) {
    if (v->kind == TS_PQ_V_GROUP) return TS_OK;
    ts_pq_value *items = pq_arena_alloc(&pq->row_arena, (node->nchildren ? node->nchildren : 1) * sizeof *items);
    if (!items) return ts_fail(err, TS_ENOMEM, "out of memory");
    memset(items, 0, node->nchildren * sizeof *items);
    v->kind = TS_PQ_V_GROUP;
    v->n = (uint32_t)node->nchildren;
    v->u.items = items;
    return TS_OK;
}

/* Place one (rep, def, value) triplet of a leaf into the row's value tree. */
static ts_status insert(ts_parquet *pq, const pq_sel_leaf *l, ts_pq_value *slot, int r, int d,
                        pq_column *col, ts_error *err) {
    for (size_t i = 0; i < l->depth; i++) {
        const ts_pq_node *node = l->path[i];
        if (node->repetition == TS_PQ_REPEATED) {
            if (slot->kind != TS_PQ_V_LIST) slot->kind = TS_PQ_V_LIST, slot->n = 0, slot->u.items = NULL;
            if (d < node->max_def) return TS_OK; /* an empty list */
            int L = node->max_rep;
            int idx;
            if (L >= r) idx = pq->cursor[L] = L == r ? pq->cursor[L] + 1 : 0;
            else idx = pq->cursor[L];
            if (idx < 0 || (uint32_t)idx > slot->n)
                return ts_fail(err, TS_EFORMAT, "repetition level %d has no list to continue", r);
            slot = (uint32_t)idx == slot->n ? append_item(pq, slot, err) : &slot->u.items[idx];
            if (!slot) return err ? err->code : TS_ENOMEM;
        } else if (node->repetition == TS_PQ_OPTIONAL && d < node->max_def) {
            return TS_OK; /* stays NULL */
        }
        if (node->physical == TS_PQ_GROUP) {
            if (make_group(pq, slot, node, err)) return TS_ENOMEM;
            slot = &slot->u.items[l->child_index[i]];
        } else {
            if (col->value_pos >= col->nvalues)
                return ts_fail(err, TS_EFORMAT, "more defined levels than values");
            set_scalar(slot, col, col->value_pos++);
        }
    }
    return TS_OK;
}

static ts_status assemble_leaf(ts_parquet *pq, size_t li, ts_error *err) {
    pq_sel_leaf *l = &pq->leaves[li];
    pq_column *col = &pq->cols[li];
    const ts_pq_node *leaf = col->leaf;
    ts_pq_value *slot = &pq->row[l->top];
    if (col->level_pos >= col->nlevels)
        return ts_fail(err, TS_EFORMAT, "column has fewer rows than the row group");
    if (!leaf->max_rep && l->depth == 1) { /* a flat column: one level per row */
        size_t pos = col->level_pos++;
        if (leaf->max_def && col->def[pos] < leaf->max_def) return TS_OK;
        if (col->value_pos >= col->nvalues) return ts_fail(err, TS_EFORMAT, "more defined levels than values");
        set_scalar(slot, col, col->value_pos++);
        return TS_OK;
    }
    if ((size_t)leaf->max_rep >= sizeof pq->cursor / sizeof pq->cursor[0])
        return ts_fail(err, TS_EUNSUPPORTED, "lists nested %d deep", leaf->max_rep);
    for (int i = 0; i <= leaf->max_rep; i++) pq->cursor[i] = -1;
    for (int first = 1; col->level_pos < col->nlevels; first = 0) {
        size_t pos = col->level_pos;
        int r = leaf->max_rep ? col->rep[pos] : 0;
        if (!first && r == 0) break;
        if (first && r != 0) return ts_fail(err, TS_EFORMAT, "row starts with repetition level %d", r);
        int d = leaf->max_def ? col->def[pos] : 0;
        ts_status st = insert(pq, l, slot, r, d, col, err);
        if (st) return st;
        col->level_pos++;
        if (!leaf->max_rep) break;
    }
    return TS_OK;
}

static ts_status finish_row_group(ts_parquet *pq, ts_error *err) {
    for (size_t i = 0; i < pq->nleaves; i++)
        if (pq->cols[i].level_pos != pq->cols[i].nlevels)
            return ts_fail(err, TS_EFORMAT, "%s: row group %d: column %s has more values than rows",
                           pq->path, pq->rg, pq->meta.leaf_paths[pq->leaves[i].leaf]);
    return TS_OK;
}

static ts_status advance(ts_parquet *pq, ts_error *err) {
    if (!pq->started) pq->started = 1, pq->rg = -1;
    while (pq->rg < 0 || pq->rg_row >= pq->rg_rows) {
        if (pq->rg >= 0 && finish_row_group(pq, err)) return TS_EFORMAT;
        if (pq->rg + 1 >= pq->meta.nrow_groups) {
            pq->rg = pq->meta.nrow_groups;
            pq->rg_row = pq->rg_rows = 0;
            return TS_ENOTFOUND;
        }
        pq->rg++;
        ts_status st = load_row_group(pq, pq->rg, err);
        if (st) return st;
    }
    return TS_OK;
}

ts_status ts_parquet_next(ts_parquet *pq, const ts_pq_value **values, ts_error *err) {
    ts_status st = advance(pq, err);
    if (st) return st;
    pq_arena_reset(&pq->row_arena);
    memset(pq->row, 0, pq->nsel * sizeof *pq->row);
    for (size_t i = 0; i < pq->nleaves; i++) {
        st = assemble_leaf(pq, i, err);
        if (st)
            return ts_error_context(err, "%s: row group %d: row %lld: column %s: ", pq->path, pq->rg,
                                    (long long)pq->rg_row, pq->meta.leaf_paths[pq->leaves[i].leaf]);
    }
    pq->rg_row++;
    *values = pq->row;
    return TS_OK;
}

ts_status ts_parquet_scan(ts_parquet *pq, uint64_t *rows, uint64_t *value_bytes, ts_error *err) {
    for (;;) {
        ts_status st = advance(pq, err);
        if (st == TS_ENOTFOUND) return TS_OK;
        if (st) return st;
        for (size_t i = 0; i < pq->nleaves; i++) {
            pq_column *col = &pq->cols[i];
            if (col->leaf->physical == TS_PQ_BYTE_ARRAY) {
                const pq_bytes *b = col->values;
                uint64_t sum = 0;
                for (size_t k = 0; k < col->nvalues; k++) sum += b[k].len;
                *value_bytes += sum;
            } else {
                size_t sz = col->leaf->physical == TS_PQ_INT96                  ? 12
                            : col->leaf->physical == TS_PQ_FIXED_LEN_BYTE_ARRAY ? (size_t)col->leaf->type_length
                                                                                : col->value_size;
                *value_bytes += (uint64_t)sz * col->nvalues;
            }
            col->level_pos = col->nlevels;
        }
        *rows += (uint64_t)(pq->rg_rows - pq->rg_row);
        pq->rg_row = pq->rg_rows;
    }
}
