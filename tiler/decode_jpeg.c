/* JPEG via libjpeg-turbo, matching Pillow 9.4's JpegDecode + convert('RGB'):
 * libjpeg's default ISLOW IDCT and fancy upsampling; 1 component -> gray,
 * 3 -> libjpeg's RGB, 4 -> CMYK read as Adobe-inverted ("CMYK;I") and turned
 * into RGB with Pillow's cmyk2rgb. Warnings (corrupt data libjpeg can
 * recover from) are ignored as Pillow ignores them; running out of data
 * before the last scanline is an error, as Pillow raises "image file is
 * truncated" unless LOAD_TRUNCATED_IMAGES is set. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "decode_internal.h"

typedef struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_source_mgr src;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    const uint8_t *data;
    size_t len;
    int hit_end;       /* the decoder asked for bytes past the end */
    uint8_t *row;      /* one scanline of CMYK or gray samples */
    ts_pixels *out;
} jpeg_job;

static const JOCTET fake_eoi[2] = {0xFF, JPEG_EOI};

static void on_error_exit(j_common_ptr c) {
    jpeg_job *job = c->client_data;
    c->err->format_message(c, job->msg);
    longjmp(job->jmp, 1);
}

static void on_output_message(j_common_ptr c) {
    (void)c; /* warnings are not reported, as in Pillow */
}

static void src_init(j_decompress_ptr c) {
    (void)c;
}

static boolean src_fill(j_decompress_ptr c) {
    jpeg_job *job = c->client_data;
    job->hit_end = 1;
    c->src->next_input_byte = fake_eoi;
    c->src->bytes_in_buffer = 2;
    return TRUE;
}

static void src_skip(j_decompress_ptr c, long n) {
    if (n <= 0)
        return;
    while ((size_t)n > c->src->bytes_in_buffer) {
        n -= (long)c->src->bytes_in_buffer;
        src_fill(c);
    }
    c->src->next_input_byte += n;
    c->src->bytes_in_buffer -= (size_t)n;
}

static void src_term(j_decompress_ptr c) {
    (void)c;
}

/* On the heap: fields written after setjmp must survive the longjmp. */
static jpeg_job *job_new(const uint8_t *data, size_t len, ts_error *err) {
    jpeg_job *job = calloc(1, sizeof *job);
    if (!job) {
        ts_fail(err, TS_ENOMEM, "jpeg: out of memory");
        return NULL;
    }
    job->data = data;
    job->len = len;
    job->cinfo.err = jpeg_std_error(&job->jerr);
    job->jerr.error_exit = on_error_exit;
    job->jerr.output_message = on_output_message;
    job->cinfo.client_data = job;
    return job;
}

/* Must run after setjmp succeeded. */
static void job_start(jpeg_job *job) {
    jpeg_create_decompress(&job->cinfo);
    job->src.init_source = src_init;
    job->src.fill_input_buffer = src_fill;
    job->src.skip_input_data = src_skip;
    job->src.resync_to_restart = jpeg_resync_to_restart;
    job->src.term_source = src_term;
    job->src.next_input_byte = job->data;
    job->src.bytes_in_buffer = job->len;
    job->cinfo.src = &job->src;
    jpeg_read_header(&job->cinfo, TRUE);
    if (job->hit_end)
        longjmp(job->jmp, 2);
}

/* Cleans up after a longjmp. */
static ts_status job_fail(jpeg_job *job, int why, ts_error *err) {
    jpeg_destroy_decompress(&job->cinfo);
    free(job->row);
    if (job->out)
        ts_pixels_free(job->out);
    int code = job->jerr.msg_code;
    /* Valid files using what this libjpeg cannot decode (12-bit, lossless). */
    int unsupported = code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED ||
                      code == JERR_NOT_COMPILED || code == JERR_CONVERSION_NOTIMPL ||
                      code == JERR_ARITH_NOTIMPL;
    ts_status st = why == 2
        ? ts_fail(err, TS_EFORMAT, "jpeg: truncated file (premature end of data)")
        : ts_fail(err, unsupported ? TS_EUNSUPPORTED : TS_EFORMAT, "jpeg: %s", job->msg);
    free(job);
    return st;
}

static ts_status job_done(jpeg_job *job, ts_status st) {
    jpeg_destroy_decompress(&job->cinfo);
    free(job->row);
    free(job);
    return st;
}

ts_status ts_probe_jpeg(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err) {
    jpeg_job *job = job_new(data, len, err);
    if (!job)
        return TS_ENOMEM;
    int why = setjmp(job->jmp);
    if (why)
        return job_fail(job, why, err);
    job_start(job);
    info->format = TS_FMT_JPEG;
    info->width = (int)job->cinfo.image_width;
    info->height = (int)job->cinfo.image_height;
    info->frames = 1;
    return job_done(job, TS_OK);
}

/* Pillow's Convert.c cmyk2rgb on "CMYK;I"-unpacked (inverted) samples. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int n) {
    for (int x = 0; x < n; x++, in += 4, out += 3) {
        int nk = in[3]; /* 255 - K with K = 255 - stored */
        for (int c = 0; c < 3; c++) {
            int t = (255 - in[c]) * nk + 128;
            out[c] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
        }
    }
}

ts_status ts_decode_jpeg(const uint8_t *data, size_t len, const ts_decode_request *req,
                         ts_pixels *out, ts_decode_info *info, ts_error *err) {
    jpeg_job *job = job_new(data, len, err);
    if (!job)
        return TS_ENOMEM;
    int why = setjmp(job->jmp);
    if (why)
        return job_fail(job, why, err);
    job_start(job);
    struct jpeg_decompress_struct *ci = &job->cinfo;
    ts_status st = ts_decode_check_size("jpeg", ci->image_width, ci->image_height,
                                        req->max_pixels, err);
    if (st != TS_OK)
        return job_done(job, st);
    int comps = ci->num_components;
    if (comps == 1)
        ci->out_color_space = JCS_GRAYSCALE;
    else if (comps == 3)
        ci->out_color_space = JCS_RGB;
    else if (comps == 4)
        ci->out_color_space = JCS_CMYK;
    else
        return job_done(job, ts_fail(err, TS_EUNSUPPORTED,
                                     "jpeg: cannot handle %d-component images", comps));
    if (req->min_width > 0 && req->min_height > 0) {
        /* The smallest N/8 scale whose output still covers the request. */
        for (unsigned num = 1; num <= 8; num++) {
            ci->scale_num = num;
            ci->scale_denom = 8;
            jpeg_calc_output_dimensions(ci);
            if (ci->output_width >= (unsigned)req->min_width &&
                ci->output_height >= (unsigned)req->min_height)
                break;
        }
    }
    jpeg_start_decompress(ci);
    if (job->hit_end) /* multi-scan files are read whole here */
        longjmp(job->jmp, 2);
    int w = (int)ci->output_width, h = (int)ci->output_height;
    if (comps != 3) {
        job->row = malloc((size_t)w * (size_t)comps);
        if (!job->row)
            return job_done(job, ts_fail(err, TS_ENOMEM, "jpeg: cannot allocate a row"));
    }
    st = ts_pixels_alloc(out, w, h, 3, err);
    if (st != TS_OK)
        return job_done(job, st);
    job->out = out;
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = out->data + (size_t)ci->output_scanline * (size_t)w * 3;
        JSAMPROW row = comps == 3 ? dst : job->row;
        jpeg_read_scanlines(ci, &row, 1);
        if (comps == 1) {
            for (int x = 0; x < w; x++)
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = job->row[x];
        } else if (comps == 4) {
            cmyk_row_to_rgb(job->row, dst, w);
        }
    }
    if (job->hit_end)
        longjmp(job->jmp, 2);
    /* A missing EOI after complete image data is accepted, as in Pillow. */
    jpeg_finish_decompress(ci);
    info->width = (int)ci->image_width;
    info->height = (int)ci->image_height;
    info->frames = 1;
    return job_done(job, TS_OK);
}
