/* Join tables in memory: the rows of a table input, read one at a time
 * (ingest/json_select.h), each cut down to what the mapping can read of it,
 * packed into one arena and indexed by key text with open addressing.
 *
 * What is kept. Every field path of the mapping (templates' fields, the
 * joins' "on" paths included) that starts with the join's "as" member names
 * the part of a row it reads: object members off those paths are dropped,
 * arrays keep all their elements, and where a path ends the whole value is
 * kept. Evaluating any of those paths on the cut row gives what it gives on
 * the full row, so the mapped samples are the same.
 *
 * Packed value: a tag byte, then null/false/true: nothing; integer (a
 * double that is integral, |x| <= 2^53, not -0): zigzag varint; other
 * number: the 8 bytes of the double; string: varint length + bytes; array:
 * varint count + elements; object: varint count + (varint name id + value)
 * per member, names interned once per table.
 *
 * Row: varint key length, key bytes, packed value, at row_off[row]. Slots
 * hold the first row of each key + 1 (0: empty); with "many", next[row]
 * links the later rows of the same key, newest first. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "ingest/json_select.h"
#include "ingest/source_internal.h"

enum { T_NULL, T_FALSE, T_TRUE, T_INT, T_DOUBLE, T_STRING, T_ARRAY, T_OBJECT };

typedef struct keep {
    int all;              /* a path ends here: the whole value */
    struct keep *elems;   /* [N] / [*] steps: what to keep of each element */
    char **names;         /* member steps */
    struct keep **kids;
    size_t n;
} keep;

struct src_join_table {
    int many;
    keep root;            /* of one row */
    ts_buf arena;
    uint64_t *row_off;
    uint32_t *next;       /* many only */
    size_t rows, cap_rows;
    uint32_t *slots;
    size_t cap_slots, keys;
    char **names;         /* interned member names, by id */
    size_t n_names, cap_names;
    uint32_t *name_slots;
    size_t cap_name_slots;
};

static ts_status oom(ts_error *err) { return ts_fail(err, TS_ENOMEM, "out of memory"); }

/* ---- what to keep ---- */

static void keep_free(keep *k) {
    if (!k) return;
    keep_free(k->elems);
    free(k->elems);
    for (size_t i = 0; i < k->n; i++) {
        free(k->names[i]);
        keep_free(k->kids[i]);
        free(k->kids[i]);
    }
    free(k->names);
    free(k->kids);
}

static keep *keep_member(keep *k, const char *name) {
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->names[i], name) == 0) return k->kids[i];
    char **names = realloc(k->names, (k->n + 1) * sizeof *names);
    if (names) k->names = names;
    keep **kids = realloc(k->kids, (k->n + 1) * sizeof *kids);
    if (kids) k->kids = kids;
    keep *kid = calloc(1, sizeof *kid);
    char *copy = strdup(name);
    if (!names || !kids || !kid || !copy) {
        free(kid);
        free(copy);
        return NULL;
    }
    k->names[k->n] = copy;
    k->kids[k->n++] = kid;
    return kid;
}

/* Mark what steps [from, len) of `p` read below `k`. */
static ts_status keep_path(keep *k, const ts_fpath *p, size_t from, ts_error *err) {
    for (size_t s = from; s < ts_fpath_len(p); s++) {
        if (k->all) return TS_OK;
        const char *name;
        if (ts_fpath_step(p, s, &name, NULL) == TS_FSTEP_MEMBER) {
            k = keep_member(k, name);
        } else {
            if (!k->elems) k->elems = calloc(1, sizeof *k->elems);
            k = k->elems;
        }
        if (!k) return oom(err);
    }
    k->all = 1;
    return TS_OK;
}

/* A mapping path: the part under the join's member `as` (and, with many,
 * under one row of that array). */
static ts_status keep_mapping_path(src_join_table *t, const char *as, const ts_fpath *p, ts_error *err) {
    const char *name;
    if (!p || !ts_fpath_len(p) || ts_fpath_step(p, 0, &name, NULL) != TS_FSTEP_MEMBER || strcmp(name, as) != 0)
        return TS_OK;
    if (!t->many) return keep_path(&t->root, p, 1, err);
    if (ts_fpath_len(p) == 1) return keep_path(&t->root, p, 1, err); /* the whole array: whole rows */
    if (ts_fpath_step(p, 1, NULL, NULL) == TS_FSTEP_MEMBER) return TS_OK; /* a member of an array: nothing */
    return keep_path(&t->root, p, 2, err);
}

static ts_status keep_field(src_join_table *t, const char *as, const src_field *f, ts_error *err) {
    ts_status st = keep_mapping_path(t, as, f->path, err);
    for (size_t i = 0; !st && f->tmpl && i < ts_ftemplate_nfields(f->tmpl); i++)
        st = keep_mapping_path(t, as, ts_ftemplate_field(f->tmpl, i), err);
    return st;
}

static ts_status keep_mapping(src_join_table *t, const src_mapping *m, const char *as, ts_error *err) {
    ts_status st = keep_field(t, as, &m->key, err);
    for (size_t i = 0; !st && i < m->n_images; i++) st = keep_field(t, as, &m->images[i].from, err);
    const src_field *fields[] = {&m->text, &m->url, &m->row, &m->license};
    for (size_t i = 0; !st && i < sizeof fields / sizeof *fields; i++) st = keep_field(t, as, fields[i], err);
    const ts_fpath *paths[] = {m->question, m->answers, m->answer_weights, m->turns.list, m->turns.user, m->turns.assistant};
    for (size_t i = 0; !st && i < sizeof paths / sizeof *paths; i++) st = keep_mapping_path(t, as, paths[i], err);
    for (size_t i = 0; !st && i < m->n_joins; i++) st = keep_mapping_path(t, as, m->joins[i].on, err);
    return st;
}

/* ---- interned member names ---- */

static ts_status name_id(src_join_table *t, const char *name, uint32_t *id, ts_error *err) {
    size_t len = strlen(name);
    if ((t->n_names + 1) * 4 > t->cap_name_slots * 3) {
        size_t cap = t->cap_name_slots ? t->cap_name_slots * 2 : 64;
        uint32_t *slots = calloc(cap, sizeof *slots);
        if (!slots) return oom(err);
        for (size_t i = 0; i < t->n_names; i++) {
            size_t h = (size_t)ts_xxh3_64(t->names[i], strlen(t->names[i])) & (cap - 1);
            while (slots[h]) h = (h + 1) & (cap - 1);
            slots[h] = (uint32_t)i + 1;
        }
        free(t->name_slots);
        t->name_slots = slots;
        t->cap_name_slots = cap;
    }
    size_t h = (size_t)ts_xxh3_64(name, len) & (t->cap_name_slots - 1);
    for (; t->name_slots[h]; h = (h + 1) & (t->cap_name_slots - 1))
        if (strcmp(t->names[t->name_slots[h] - 1], name) == 0) return *id = t->name_slots[h] - 1, TS_OK;
    if (t->n_names == t->cap_names) {
        size_t cap = t->cap_names ? t->cap_names * 2 : 32;
        char **names = realloc(t->names, cap * sizeof *names);
        if (!names) return oom(err);
        t->names = names;
        t->cap_names = cap;
    }
    if (t->n_names >= UINT32_MAX - 1 || !(t->names[t->n_names] = strdup(name))) return oom(err);
    t->name_slots[h] = (uint32_t)t->n_names + 1;
    *id = (uint32_t)t->n_names++;
    return TS_OK;
}

/* ---- packing ---- */

static ts_status put_varint(ts_buf *b, uint64_t v, ts_error *err) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    return ts_buf_append(b, tmp, n, err);
}

static uint64_t get_varint(const uint8_t **p) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
}

static ts_status put_tag(ts_buf *b, uint8_t tag, ts_error *err) { return ts_buf_append(b, &tag, 1, err); }

static ts_status pack(src_join_table *t, const cJSON *v, const keep *k, ts_buf *b, ts_error *err) {
    int all = !k || k->all;
    ts_status st;
    if (cJSON_IsObject(v)) {
        /* members to write: all of them, or the first of each name a path reads */
        size_t count = 0;
        if (all) {
            for (const cJSON *c = v->child; c; c = c->next) count++;
        } else {
            for (size_t i = 0; i < k->n; i++) count += cJSON_GetObjectItemCaseSensitive(v, k->names[i]) != NULL;
        }
        if ((st = put_tag(b, T_OBJECT, err)) || (st = put_varint(b, count, err))) return st;
        if (all) {
            for (const cJSON *c = v->child; c; c = c->next) {
                uint32_t id;
                if ((st = name_id(t, c->string ? c->string : "", &id, err)) || (st = put_varint(b, id, err)) ||
                    (st = pack(t, c, NULL, b, err)))
                    return st;
            }
            return TS_OK;
        }
        for (size_t i = 0; i < k->n; i++) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, k->names[i]);
            uint32_t id;
            if (c && ((st = name_id(t, k->names[i], &id, err)) || (st = put_varint(b, id, err)) ||
                      (st = pack(t, c, k->kids[i], b, err))))
                return st;
        }
        return TS_OK;
    }
    if (cJSON_IsArray(v)) {
        size_t count = 0;
        for (const cJSON *c = v->child; c; c = c->next) count++;
        if ((st = put_tag(b, T_ARRAY, err)) || (st = put_varint(b, count, err))) return st;
        /* elements: whole, or cut to what [N]/[*] steps read (nothing: empty shells) */
        static const keep none = {0};
        const keep *ek = all ? NULL : k->elems ? k->elems : &none;
        for (const cJSON *c = v->child; c; c = c->next)
            if ((st = pack(t, c, ek, b, err))) return st;
        return TS_OK;
    }
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        if ((st = put_tag(b, T_STRING, err)) || (st = put_varint(b, n, err))) return st;
        return ts_buf_append(b, v->valuestring, n, err);
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740992.0 && !(d == 0 && signbit(d))) {
            int64_t i = (int64_t)d;
            if ((st = put_tag(b, T_INT, err))) return st;
            return put_varint(b, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63), err);
        }
        if ((st = put_tag(b, T_DOUBLE, err))) return st;
        return ts_buf_append(b, &d, sizeof d, err);
    }
    return put_tag(b, cJSON_IsTrue(v) ? T_TRUE : cJSON_IsFalse(v) ? T_FALSE : T_NULL, err);
}

static cJSON *unpack(const src_join_table *t, const uint8_t **p) {
    uint8_t tag = *(*p)++;
    switch (tag) {
    case T_FALSE: return cJSON_CreateFalse();
    case T_TRUE: return cJSON_CreateTrue();
    case T_INT: {
        uint64_t z = get_varint(p);
        return cJSON_CreateNumber((double)(int64_t)((z >> 1) ^ (0 - (z & 1))));
    }
    case T_DOUBLE: {
        double d;
        memcpy(&d, *p, sizeof d);
        *p += sizeof d;
        return cJSON_CreateNumber(d);
    }
    case T_STRING: {
        size_t n = (size_t)get_varint(p);
        char *s = malloc(n + 1);
        if (!s) return NULL;
        memcpy(s, *p, n);
        s[n] = 0;
        *p += n;
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    case T_ARRAY:
    case T_OBJECT: {
        cJSON *j = tag == T_ARRAY ? cJSON_CreateArray() : cJSON_CreateObject();
        size_t n = (size_t)get_varint(p);
        for (size_t i = 0; i < n; i++) {
            const char *name = tag == T_OBJECT ? t->names[get_varint(p)] : NULL;
            cJSON *c = unpack(t, p);
            /* keep going on failure so that *p stays in step; the caller sees NULL */
            if (!j || !c || (name ? !cJSON_AddItemToObject(j, name, c) : !cJSON_AddItemToArray(j, c))) {
                cJSON_Delete(c);
                cJSON_Delete(j);
                j = NULL;
            }
        }
        return j;
    }
    default: return cJSON_CreateNull();
    }
}

/* ---- the index ---- */

static size_t key_at(const src_join_table *t, size_t row, const uint8_t **key) {
    const uint8_t *p = t->arena.data + t->row_off[row];
    size_t n = (size_t)get_varint(&p);
    *key = p;
    return n;
}

/* The slot of `key`: its first row + 1, or an empty slot where it goes. */
static size_t find_slot(const src_join_table *t, const char *key, size_t len) {
    size_t mask = t->cap_slots - 1, h = (size_t)ts_xxh3_64(key, len) & mask;
    for (; t->slots[h]; h = (h + 1) & mask) {
        const uint8_t *k;
        size_t n = key_at(t, t->slots[h] - 1, &k);
        if (n == len && (len == 0 || memcmp(k, key, len) == 0)) break;
    }
    return h;
}

static ts_status grow_slots(src_join_table *t, ts_error *err) {
    size_t cap = t->cap_slots ? t->cap_slots * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return oom(err);
    for (size_t i = 0; i < t->cap_slots; i++) {
        if (!t->slots[i]) continue;
        const uint8_t *k;
        size_t n = key_at(t, t->slots[i] - 1, &k);
        size_t h = (size_t)ts_xxh3_64(k, n) & (cap - 1);
        while (slots[h]) h = (h + 1) & (cap - 1);
        slots[h] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap_slots = cap;
    return TS_OK;
}

static ts_status add_row(src_join_table *t, const char *key, size_t len, const cJSON *value, ts_error *err) {
    if ((t->keys + 1) * 4 > t->cap_slots * 3) {
        ts_status st = grow_slots(t, err);
        if (st) return st;
    }
    size_t h = find_slot(t, key, len);
    if (t->slots[h] && !t->many) return TS_OK; /* the first row of a key is the one joined */
    if (t->rows >= UINT32_MAX - 1) return ts_fail(err, TS_ELIMIT, "more than %u rows", UINT32_MAX - 2);
    if (t->rows == t->cap_rows) {
        size_t cap = t->cap_rows ? t->cap_rows * 2 : 1024;
        uint64_t *off = realloc(t->row_off, cap * sizeof *off);
        if (off) t->row_off = off;
        uint32_t *next = t->many ? realloc(t->next, cap * sizeof *next) : NULL;
        if (next) t->next = next;
        if (!off || (t->many && !next)) return oom(err);
        t->cap_rows = cap;
    }
    size_t row = t->rows;
    t->row_off[row] = t->arena.len;
    ts_status st = put_varint(&t->arena, len, err);
    if (!st) st = ts_buf_append(&t->arena, key, len, err);
    if (!st) st = pack(t, value, &t->root, &t->arena, err);
    if (st) return st;
    if (t->many) t->next[row] = t->slots[h]; /* the key's earlier rows, newest first */
    if (!t->slots[h]) t->keys++;
    t->slots[h] = (uint32_t)row + 1;
    t->rows++;
    return TS_OK;
}

ts_status src_join_table_build(const ts_source *src, size_t j, const char *path, const src_input *in,
                               src_join_table **out, ts_error *err) {
    *out = NULL;
    const src_join *sj = &src->map.joins[j];
    src_join_table *t = calloc(1, sizeof *t);
    if (!t) return oom(err);
    t->many = sj->many;
    ts_json_select *sel = NULL;
    ts_buf key = TS_BUF_INIT;
    ts_status st = keep_mapping(t, &src->map, sj->as, err);
    if (!st) st = grow_slots(t, err);
    if (!st) st = ts_json_select_open(&sel, path, in->select_root ? NULL : in->select, 0, err);
    while (!st) {
        cJSON *row = NULL;
        if ((st = ts_json_select_next(sel, &row, NULL, err))) break;
        const cJSON *kv = ts_fpath_get(sj->key, row);
        ts_buf_reset(&key);
        /* rows without a scalar key join nothing */
        if (kv && ts_json_scalar_text(kv, &key, err) == 0) st = add_row(t, (const char *)key.data, key.len, row, err);
        cJSON_Delete(row);
    }
    ts_json_select_close(sel);
    ts_buf_free(&key);
    if (st != TS_ENOTFOUND) {
        src_join_table_free(t);
        return ts_error_context(err, "%s: table %s", src->name, sj->table);
    }
    /* give back what doubling left unused */
    uint8_t *fit = t->arena.len ? realloc(t->arena.data, t->arena.len) : NULL;
    if (fit) t->arena.data = fit, t->arena.cap = t->arena.len;
    uint64_t *off = t->rows ? realloc(t->row_off, t->rows * sizeof *off) : NULL;
    if (off) t->row_off = off, t->cap_rows = t->rows;
    uint32_t *next = t->rows && t->many ? realloc(t->next, t->rows * sizeof *next) : NULL;
    if (next) t->next = next;
    ts_debug("%s: join table %s: %zu rows, %zu keys, %zu bytes packed", src->name, sj->table, t->rows, t->keys,
             t->arena.len);
    *out = t;
    return TS_OK;
}

ts_status src_join_table_find(const src_join_table *t, const char *key, size_t len, int *found, cJSON **value,
                              ts_error *err) {
    size_t h = find_slot(t, key, len);
    *found = t->slots[h] != 0;
    if (!value) return TS_OK;
    *value = NULL;
    if (!*found) return TS_OK;
    if (!t->many) {
        const uint8_t *p = t->arena.data + t->row_off[t->slots[h] - 1];
        p += get_varint(&p);
        return (*value = unpack(t, &p)) ? TS_OK : oom(err);
    }
    /* the rows, newest first in the chain, go into the array in file order */
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t r = t->slots[h]; arr && r; r = t->next[r - 1]) {
        const uint8_t *p = t->arena.data + t->row_off[r - 1];
        p += get_varint(&p);
        cJSON *row = unpack(t, &p);
        if (!row) {
            cJSON_Delete(arr);
            arr = NULL;
        } else if (!arr->child) {
            cJSON_AddItemToArray(arr, row);
        } else if (!cJSON_InsertItemInArray(arr, 0, row)) {
            cJSON_Delete(row);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    return (*value = arr) ? TS_OK : oom(err);
}

size_t src_join_table_bytes(const src_join_table *t) {
    size_t names = 0;
    for (size_t i = 0; i < t->n_names; i++) names += strlen(t->names[i]) + 1 + sizeof *t->names;
    return t->arena.cap + t->cap_rows * (sizeof *t->row_off + (t->many ? sizeof *t->next : 0)) +
           t->cap_slots * sizeof *t->slots + names + t->cap_name_slots * sizeof *t->name_slots;
}

void src_join_table_free(src_join_table *t) {
    if (!t) return;
    keep_free(&t->root);
    ts_buf_free(&t->arena);
    free(t->row_off);
    free(t->next);
    free(t->slots);
    for (size_t i = 0; i < t->n_names; i++) free(t->names[i]);
    free(t->names);
    free(t->name_slots);
    free(t);
}
