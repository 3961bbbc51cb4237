/* X-Robots-Tag: does one header value forbid AI use of the resource?
 *
 * A value is a comma-separated list of directives, optionally preceded by a
 * user-agent token ("otherbot: noai, noimageai"); the token applies to the
 * directives after it until the next token. Directives that carry a value
 * themselves ("unavailable_after: ...", "max-image-preview: large") are not
 * tokens. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "ingest/download.h"

static const char *const forbidding[] = {"noai", "noimageai", "noindex", "noimageindex", "none"};
static const char *const valued[] = {"unavailable_after", "max-snippet", "max-image-preview",
                                     "max-video-preview"};

static int word_is(const char *s, size_t n, const char *const *list, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && !strncasecmp(s, list[i], n)) return 1;
    return 0;
}

static void trim(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

int ts_robots_forbids(const char *value, const char *robots_token) {
    const char *agent = NULL; /* current user-agent token, NULL = everyone */
    size_t agent_len = 0;
    const char *p = value;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *d = p;
        trim(&d, &n);
        const char *colon = memchr(d, ':', n);
        if (colon) {
            const char *k = d;
            size_t kn = (size_t)(colon - d);
            trim(&k, &kn);
            if (!word_is(k, kn, valued, sizeof valued / sizeof valued[0])) {
                agent = k;
                agent_len = kn;
                n -= (size_t)(colon + 1 - d);
                d = colon + 1;
                trim(&d, &n);
            }
        }
        int applies = !agent || !robots_token ||
                      (strlen(robots_token) == agent_len && !strncasecmp(agent, robots_token, agent_len));
        if (applies && word_is(d, n, forbidding, sizeof forbidding / sizeof forbidding[0])) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}
