/* ts_tok_workers (tokenizer.h): a pool and a scratch per worker. */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokenizer.h"

ts_status ts_tok_workers_new(const ts_tokenizer *tok, int threads, ts_tok_workers *out, ts_error *err) {
    memset(out, 0, sizeof *out);
    out->pool = ts_pool_new(threads);
    int n = out->pool ? ts_pool_threads(out->pool) : 0;
    out->scratch = out->pool ? calloc((size_t)n, sizeof *out->scratch) : NULL;
    int ok = out->scratch != NULL;
    for (; ok && out->n < n; out->n++) ok = (out->scratch[out->n] = ts_tok_scratch_new(tok)) != NULL;
    if (ok) return TS_OK;
    ts_tok_workers_free(out);
    return ts_fail(err, TS_ENOMEM, "out of memory");
}

void ts_tok_workers_free(ts_tok_workers *w) {
    for (int i = 0; w->scratch && i < w->n; i++) ts_tok_scratch_free(w->scratch[i]);
    free(w->scratch);
    ts_pool_free(w->pool);
    memset(w, 0, sizeof *w);
}
