/* Transfers in flight per host key (scheme://host:port), for the per-host
 * concurrency limit. Entries are dropped when their count returns to zero, so
 * the table stays as small as the set of hosts with live transfers. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "ingest/host_limits.h"

struct ts_host_limits {
    ts_host_entry **slots;
    size_t nslots;
};

struct ts_host_entry {
    ts_host_entry *next;
    uint64_t hash;
    int active;
    char key[];
};

ts_host_limits *ts_host_limits_new(void) {
    ts_host_limits *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->nslots = 1024;
    h->slots = calloc(h->nslots, sizeof *h->slots);
    if (!h->slots) {
        free(h);
        return NULL;
    }
    return h;
}

void ts_host_limits_free(ts_host_limits *h) {
    if (!h) return;
    for (size_t i = 0; i < h->nslots; i++)
        for (ts_host_entry *e = h->slots[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    free(h->slots);
    free(h);
}

size_t ts_host_key(const char *url, char *out, size_t cap) {
    /* scheme://[userinfo@]host[:port] lower-cased, without the userinfo. */
    const char *sep = strstr(url, "://");
    size_t n = 0;
    if (!sep) {
        if (cap) out[0] = 0;
        return 0;
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    if (at) {
        alen -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    size_t slen = (size_t)(sep - url);
    for (size_t i = 0; i < slen && n + 1 < cap; i++) out[n++] = (char)tolower((unsigned char)url[i]);
    for (size_t i = 0; i < 3 && n + 1 < cap; i++) out[n++] = "://"[i];
    for (size_t i = 0; i < alen && n + 1 < cap; i++) out[n++] = (char)tolower((unsigned char)auth[i]);
    if (cap) out[n] = 0;
    return n;
}

static ts_host_entry *find(ts_host_limits *h, const char *key, uint64_t hash, int create) {
    ts_host_entry **slot = &h->slots[hash % h->nslots];
    for (ts_host_entry *e = *slot; e; e = e->next)
        if (e->hash == hash && !strcmp(e->key, key)) return e;
    if (!create) return NULL;
    size_t len = strlen(key);
    ts_host_entry *e = calloc(1, sizeof *e + len + 1);
    if (!e) return NULL;
    memcpy(e->key, key, len + 1);
    e->hash = hash;
    e->next = *slot;
    *slot = e;
    return e;
}

int ts_host_limits_active(ts_host_limits *h, const char *key) {
    ts_host_entry *e = find(h, key, ts_xxh3_64(key, strlen(key)), 0);
    return e ? e->active : 0;
}

ts_host_entry *ts_host_limits_acquire(ts_host_limits *h, const char *key) {
    ts_host_entry *e = find(h, key, ts_xxh3_64(key, strlen(key)), 1);
    if (e) e->active++;
    return e;
}

void ts_host_limits_release(ts_host_limits *h, ts_host_entry *e) {
    if (--e->active > 0) return;
    ts_host_entry **p = &h->slots[e->hash % h->nslots];
    while (*p != e) p = &(*p)->next;
    *p = e->next;
    free(e);
}
