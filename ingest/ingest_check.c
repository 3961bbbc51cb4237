/* The decode check of a batch's images on the thread pool, and the text a
 * record is deduplicated by. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_internal.h"
#include "ingest/jpeg_scan.h"
#include "tiler/decode.h"

/* JPEGs decode at 1/8 scale (libjpeg-turbo DCT scaling): the entropy decoder
 * still reads every coefficient of every block, so a truncated scan or a
 * bad table fails as it would at full size (corrupt entropy data that still
 * reaches the end marker is only a libjpeg warning, for Pillow too), while
 * the inverse DCT, upsampling and colour conversion run on 1/64 of the pixels. PNG, WebP and GIF decode
 * in full. The pixel limit is Pillow's (tiler/decode.h). With
 * TS_INGEST_CHECK_STRUCTURE a JPEG only has its markers walked. */
static void check_one(void *ctx, size_t i, int worker) {
    (void)worker;
    ts_ingest_check *c = &((ts_ingest_check *)ctx)[i];
    ts_error e = {0};
    if (c->mode == TS_INGEST_CHECK_STRUCTURE && ts_sniff_format(c->data, c->len) == TS_FMT_JPEG) {
        c->status = ts_jpeg_scan(c->data, c->len, TS_DEFAULT_MAX_PIXELS, &e);
        if (c->status) snprintf(c->message, sizeof c->message, "%.190s", e.msg);
        return;
    }
    ts_decode_options o = {0};
    o.min_width = o.min_height = 1;
    ts_image img = {0};
    c->status = ts_decode_image(c->data, c->len, &o, &img, NULL, &e);
    if (c->status) snprintf(c->message, sizeof c->message, "%.190s", e.msg);
    ts_image_free(&img);
}

static ts_status add_check(ts_ingest_batch *b, ts_ingest_image_check mode, size_t record, const uint8_t *data,
                           size_t len, ts_error *err) {
    if (b->n_checks == b->cap_checks) {
        size_t cap = b->cap_checks ? b->cap_checks * 2 : 256;
        void *p = realloc(b->checks, cap * sizeof *b->checks);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        b->checks = p;
        b->cap_checks = cap;
    }
    ts_ingest_check *c = &b->checks[b->n_checks++];
    c->record = record;
    c->data = data;
    c->len = len;
    c->mode = mode;
    c->status = TS_OK;
    c->message[0] = 0;
    return TS_OK;
}

ts_status ts_ingest_check_batch(void *checker, ts_ingest_batch *b, ts_error *err) {
    const ts_ingest_checker *ck = checker;
    b->n_checks = 0;
    ts_status st = TS_OK;
    /* A record with a failed download is dropped with the first failed URL's
     * outcome; only records still kept have their images checked. */
    for (size_t i = 0; i < b->n; i++) {
        ts_ingest_rec *r = &b->recs[i];
        for (size_t k = 0; k < r->n_urls && !r->reason; k++) {
            const ts_ingest_url *u = &b->urls[r->url0 + k];
            if (u->outcome != TS_OUT_OK)
                ts_ingest_rec_drop(r, ts_outcome_name(u->outcome), "%s: %s", u->url, u->message);
        }
        if (r->reason) continue;
        for (size_t k = 0; k < r->s.n_images && !st; k++)
            st = add_check(b, ck->mode, i, r->s.images[k].bytes.data, r->s.images[k].bytes.len, err);
        for (size_t k = 0; k < r->n_urls && !st; k++)
            st = add_check(b, ck->mode, i, b->urls[r->url0 + k].body.data, b->urls[r->url0 + k].body.len, err);
    }
    if (st) return st;
    ts_pool_run(ck->pool, b->n_checks, check_one, b->checks);
    for (size_t i = 0; i < b->n_checks; i++) {
        ts_ingest_check *c = &b->checks[i];
        ts_ingest_rec *r = &b->recs[c->record];
        if (c->status) ts_ingest_rec_drop(r, ts_outcome_name(TS_OUT_DECODE), "image check: %s", c->message);
    }
    /* Downloaded images join their samples after the carried ones (and leave
     * the batch's URL slots). */
    for (size_t i = 0; i < b->n && !st; i++) {
        ts_ingest_rec *r = &b->recs[i];
        for (size_t k = 0; k < r->n_urls && !r->reason; k++) {
            ts_ingest_url *u = &b->urls[r->url0 + k];
            ts_error e = {0};
            /* The sample takes the body's buffer: no copy. */
            ts_status s2 = ts_sample_take_image(&r->s, &u->body, &e);
            if (s2 == TS_ENOMEM) return ts_fail(err, s2, "%s", e.msg);
            if (s2) ts_ingest_rec_drop(r, ts_outcome_name(TS_OUT_DECODE), "%s: %s", u->url, e.msg);
        }
    }
    return st;
}

ts_status ts_ingest_text_key(const ts_sample *s, ts_buf *out, int *has_text, ts_error *err) {
    ts_buf_reset(out);
    *has_text = 0;
    ts_status st = TS_OK;
    if (s->task == TS_TASK_CAPTION || s->task == TS_TASK_OCR) {
        *has_text = 1;
        return s->text.len ? ts_buf_append(out, s->text.data, s->text.len, err) : TS_OK;
    }
    /* VQA and multi-turn: the images' hashes lead the key, so the same
     * question about another image is a new sample, and the same image with
     * another question too (VQAv2 asks about 5 questions per image). */
    *has_text = 1;
    for (size_t i = 0; i < s->n_images && !st; i++) {
        char hex[33];
        ts_hash128_hex(s->images[i].xxh3, hex);
        st = ts_buf_printf(out, err, "image: %s\n", hex);
    }
    for (size_t i = 0; i < s->n_turns && !st; i++)
        st = ts_buf_printf(out, err, "%s: %s\n", ts_sample_role_name(s->turns[i].role),
                           ts_sample_str(&s->turns[i].content));
    for (size_t i = 0; i < s->n_answers && !st; i++)
        st = ts_buf_printf(out, err, "answer: %s\n", ts_sample_str(&s->answers[i].text));
    if (!st && s->text.len) st = ts_buf_append(out, s->text.data, s->text.len, err);
    return st;
}
