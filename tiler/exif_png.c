/* Where Pillow 9.4 finds a PNG's EXIF orientation: the eXIf chunk, else the
 * "Raw profile type exif" text chunk (ImageMagick's hex dump), and, when
 * neither holds tag 0x0112, a tiff:Orientation in the XMP text chunk. Text
 * may be tEXt, zTXt or iTXt; compressed text is capped at 1 MiB like
 * Pillow's MAX_TEXT_CHUNK (larger is ignored here, an error in Pillow). */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "exif.h"

#define TEXT_MAX (1u << 20)

typedef struct chunk {
    const uint8_t *type, *data;
    size_t len;
} chunk;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Keyword of a text chunk: the bytes before the first NUL (1..79). */
static int text_key_is(const chunk *c, const char *key) {
    size_t k = strlen(key);
    return (memcmp(c->type, "tEXt", 4) == 0 || memcmp(c->type, "zTXt", 4) == 0 ||
            memcmp(c->type, "iTXt", 4) == 0) &&
           c->len > k && memcmp(c->data, key, k) == 0 && c->data[k] == 0;
}

static uint8_t *inflate_text(const uint8_t *src, size_t n, size_t *out_len) {
    uint8_t *out = malloc(TEXT_MAX);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!out || inflateInit(&z) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)(n < UINT32_MAX ? n : UINT32_MAX);
    z.next_out = out;
    z.avail_out = TEXT_MAX;
    int rc = inflate(&z, Z_FINISH);
    *out_len = TEXT_MAX - z.avail_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* The text of a tEXt/zTXt/iTXt chunk whose keyword is `k` bytes long, as a
 * malloc'd copy (NULL when malformed). */
static uint8_t *text_value(const chunk *c, size_t k, size_t *len) {
    const uint8_t *p = c->data + k + 1, *end = c->data + c->len;
    if (memcmp(c->type, "tEXt", 4) == 0) {
        *len = (size_t)(end - p);
        uint8_t *v = malloc(*len + 1);
        if (v)
            memcpy(v, p, *len);
        return v;
    }
    if (memcmp(c->type, "zTXt", 4) == 0)
        return p < end && *p == 0 ? inflate_text(p + 1, (size_t)(end - p - 1), len) : NULL;
    /* iTXt: compression flag, method, language NUL, translated keyword NUL, text */
    if (end - p < 2)
        return NULL;
    int compressed = p[0];
    p += 2;
    for (int field = 0; field < 2; field++) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        if (!nul)
            return NULL;
        p = nul + 1;
    }
    if (compressed)
        return inflate_text(p, (size_t)(end - p), len);
    *len = (size_t)(end - p);
    uint8_t *v = malloc(*len + 1);
    if (v)
        memcpy(v, p, *len);
    return v;
}

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Pillow: bytes.fromhex("".join(text.split("\n")[3:])). */
static int raw_profile_orientation(const uint8_t *v, size_t n, int *present) {
    *present = 0;
    size_t i = 0;
    for (int lines = 0; lines < 3; lines++) {
        const uint8_t *nl = memchr(v + i, '\n', n - i);
        if (!nl)
            return 0;
        i = (size_t)(nl - v) + 1;
    }
    uint8_t *bin = malloc((n - i) / 2 + 1);
    if (!bin)
        return 0;
    size_t m = 0;
    while (i < n) {
        if (is_space(v[i])) {
            i++;
            continue;
        }
        int hi = hex_digit(v[i]), lo = i + 1 < n ? hex_digit(v[i + 1]) : -1;
        if (hi < 0 || lo < 0) { /* Pillow raises; no orientation here */
            free(bin);
            return 0;
        }
        bin[m++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    int o = ts_exif_tiff_lookup(bin, m, present);
    free(bin);
    return o;
}

/* Pillow: re.search(r'tiff:Orientation(="|>)([0-9])', xmp). */
static int xmp_orientation(const uint8_t *v, size_t n) {
    static const char tag[] = "tiff:Orientation";
    size_t t = sizeof tag - 1;
    for (size_t i = 0; i + t < n; i++) {
        if (memcmp(v + i, tag, t) != 0)
            continue;
        size_t j = i + t;
        if (j + 2 < n && v[j] == '=' && v[j + 1] == '"')
            j += 2;
        else if (j + 1 < n && v[j] == '>')
            j += 1;
        else
            continue;
        if (v[j] >= '0' && v[j] <= '9')
            return v[j] >= '1' && v[j] <= '8' ? v[j] - '0' : 0;
    }
    return 0;
}

static int text_orientation(const chunk *c, const char *key, int xmp, int *present) {
    size_t len = 0;
    uint8_t *v = text_value(c, strlen(key), &len);
    if (!v)
        return 0;
    int o = xmp ? xmp_orientation(v, len) : raw_profile_orientation(v, len, present);
    free(v);
    return o;
}

int ts_exif_png_orientation(const uint8_t *d, size_t len) {
    static const char raw_key[] = "Raw profile type exif", xmp_key[] = "XML:com.adobe.xmp";
    chunk exif = {0}, raw = {0}, xmp = {0};
    size_t pos = 8;
    while (len >= 8 && pos + 12 <= len) {
        size_t n = be32(d + pos);
        if (n > len - pos - 12)
            break;
        chunk c = {d + pos + 4, d + pos + 8, n};
        if (memcmp(c.type, "eXIf", 4) == 0) /* later chunks replace earlier ones in Pillow's info */
            exif = c;
        else if (text_key_is(&c, raw_key))
            raw = c;
        else if (text_key_is(&c, xmp_key))
            xmp = c;
        else if (memcmp(c.type, "IEND", 4) == 0)
            break;
        pos += 12 + n;
    }
    int present = 0, o = 0;
    if (exif.type)
        o = ts_exif_tiff_lookup(exif.data, exif.len, &present);
    else if (raw.type)
        o = text_orientation(&raw, raw_key, 0, &present);
    if (!present && xmp.type)
        o = text_orientation(&xmp, xmp_key, 1, &present);
    return o;
}
