/* Raw record readers behind `tessera cat`: JSON lines (plain and gzip), JSON
 * arrays and value streams, CSV/TSV with RFC 4180 quoting, projection, and
 * clean errors that name the file and the line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/io.h"
#include "tests/harness.h"
#include "ingest/records.h"

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
    return p;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* All records printed unformatted, one per line, into out (or the error). */
static ts_status read_records(const char *path, const ts_rec_options *opt, char *out, size_t cap,
                              ts_error *err) {
    ts_record_reader *r;
    out[0] = 0;
    ts_status st = ts_record_reader_open(&r, path, opt, err);
    if (st) return st;
    size_t used = 0;
    cJSON *rec;
    while ((st = ts_record_reader_next(r, &rec, err)) == TS_OK) {
        char *s = cJSON_PrintUnformatted(rec);
        used += (size_t)snprintf(out + used, cap - used, "%s\n", s);
        free(s);
        cJSON_Delete(rec);
    }
    ts_record_reader_close(r);
    return st == TS_ENOTFOUND ? TS_OK : st;
}

static void test_jsonl_plain_gzip_zstd(void) {
    const char *text = "{\"a\":1,\"b\":\"x\"}\n\n  \n{\"a\":2,\"b\":null}\r\n[1,2]\n";
    const char *plain = tmp_path("r.jsonl"), *gz = tmp_path("r.jsonl.gz");
    write_text(plain, text);
    gzFile g = gzopen(gz, "wb");
    gzputs(g, text);
    gzclose(g);
    char out[4096];
    ts_error errv = {0}, *err = &errv;
    CHECK_OK(read_records(plain, NULL, out, sizeof out, err), err);
    CHECK_STR(out, "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":null}\n[1,2]\n");
    char out2[4096];
    CHECK_OK(read_records(gz, NULL, out2, sizeof out2, err), err);
    CHECK_STR(out2, out);
    const char *zst = tmp_path("r.jsonl.zst");
    ts_buf z = TS_BUF_INIT;
    CHECK_OK(ts_zstd_compress(text, strlen(text), 3, &z, err), err);
    FILE *f = fopen(zst, "wb");
    if (f) {
        fwrite(z.data, 1, z.len, f);
        fclose(f);
    }
    ts_buf_free(&z);
    CHECK_OK(read_records(zst, NULL, out2, sizeof out2, err), err);
    CHECK_STR(out2, out);
}

static void test_jsonl_error_names_line(void) {
    const char *p = tmp_path("bad.jsonl");
    write_text(p, "{\"a\":1}\n{\"a\":\n");
    char out[1024];
    ts_error errv = {0}, *err = &errv;
    CHECK_EQ(read_records(p, NULL, out, sizeof out, err), TS_EFORMAT);
    CHECK(strstr(err->msg, "bad.jsonl: line 2") != NULL);
}

static void test_projection(void) {
    const char *p = tmp_path("proj.jsonl");
    write_text(p, "{\"a\":1,\"b\":2,\"c\":3}\n{\"b\":5}\n");
    const char *cols[] = {"c", "b"};
    ts_rec_options opt = {.columns = cols, .ncolumns = 2};
    char out[1024];
    ts_error errv = {0}, *err = &errv;
    CHECK_OK(read_records(p, &opt, out, sizeof out, err), err);
    CHECK_STR(out, "{\"c\":3,\"b\":2}\n{\"c\":null,\"b\":5}\n");
}

static void test_json_array_and_stream(void) {
    const char *arr = tmp_path("a.json"), *stream = tmp_path("s.json"), *empty = tmp_path("e.json");
    write_text(arr, " [ {\"s\": \"a,]\\\"[\"}, 3 , \"x\", [1, [2]], null,true ]  ");
    write_text(stream, "{\"a\":1}{\"a\":2}\n  {\"a\":\n 3}  4");
    write_text(empty, "[]");
    char out[1024];
    ts_error errv = {0}, *err = &errv;
    CHECK_OK(read_records(arr, NULL, out, sizeof out, err), err);
    CHECK_STR(out, "{\"s\":\"a,]\\\"[\"}\n3\n\"x\"\n[1,[2]]\nnull\ntrue\n");
    CHECK_OK(read_records(stream, NULL, out, sizeof out, err), err);
    CHECK_STR(out, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n4\n");
    CHECK_OK(read_records(empty, NULL, out, sizeof out, err), err);
    CHECK_STR(out, "");
    write_text(arr, "[1, 2");
    CHECK_EQ(read_records(arr, NULL, out, sizeof out, err), TS_EFORMAT);
    CHECK(strstr(err->msg, "a.json") != NULL);
}

static void test_csv_rfc4180(void) {
    const char *p = tmp_path("t.csv");
    write_text(p, "id,text,n\r\n1,\"hello, \"\"world\"\"\",3\r\n2,\"two\nlines\",\r\n\n3,plain,x\n");
    char out[2048];
    ts_error errv = {0}, *err = &errv;
    CHECK_OK(read_records(p, NULL, out, sizeof out, err), err);
    CHECK_STR(out,
              "{\"id\":\"1\",\"text\":\"hello, \\\"world\\\"\",\"n\":\"3\"}\n"
              "{\"id\":\"2\",\"text\":\"two\\nlines\",\"n\":\"\"}\n"
              "{\"id\":\"3\",\"text\":\"plain\",\"n\":\"x\"}\n");
    const char *t = tmp_path("t.tsv");
    write_text(t, "a\tb\nx,y\t\"q\"\n");
    CHECK_OK(read_records(t, NULL, out, sizeof out, err), err);
    CHECK_STR(out, "{\"a\":\"x,y\",\"b\":\"q\"}\n");
    write_text(p, "a,b\n1,2\n3\n");
    CHECK_EQ(read_records(p, NULL, out, sizeof out, err), TS_EFORMAT);
    CHECK(strstr(err->msg, "record 2 (line 3)") != NULL);
    write_text(p, "a\n\"open\n");
    CHECK_EQ(read_records(p, NULL, out, sizeof out, err), TS_EFORMAT);
}

static void test_unknown_format(void) {
    const char *p = tmp_path("data.bin");
    write_text(p, "whatever");
    ts_record_reader *r;
    ts_error errv = {0}, *err = &errv;
    CHECK_EQ(ts_record_reader_open(&r, p, NULL, err), TS_EUNSUPPORTED);
    CHECK(strstr(err->msg, "--format") != NULL);
    ts_rec_options opt = {.format = TS_REC_JSONL};
    char out[64];
    CHECK_EQ(read_records(p, &opt, out, sizeof out, err), TS_EFORMAT);
}

static void add_member(struct archive *a, const char *name, const void *data, size_t n) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data, n);
    archive_entry_free(e);
}

/* WebDataset grouping: consecutive members sharing a key form one record;
 * text members are strings, binary ones base64; gzip tar and zip alike. */
static void test_tar_and_zip_samples(void) {
    const char *files[] = {tmp_path("wds.tar.gz"), tmp_path("wds.zip")};
    for (int k = 0; k < 2; k++) {
        struct archive *a = archive_write_new();
        if (k == 0) {
            archive_write_set_format_pax_restricted(a);
            archive_write_add_filter_gzip(a);
        } else {
            archive_write_set_format_zip(a);
        }
        archive_write_open_filename(a, files[k]);
        add_member(a, "s/000.jpg", "\xff\xd8\xff", 3);
        add_member(a, "s/000.txt", "a cat", 5);
        add_member(a, "s/001.seg.png", "\x89PNG", 4);
        add_member(a, "s/001.json", "{\"q\":1}", 7);
        add_member(a, "s/002.txt", "", 0);
        archive_write_close(a);
        archive_write_free(a);
        char out[1024];
        ts_error errv = {0}, *err = &errv;
        CHECK_OK(read_records(files[k], NULL, out, sizeof out, err), err);
        CHECK_STR(out, "{\"__key__\":\"s/000\",\"jpg\":\"/9j/\",\"txt\":\"a cat\"}\n"
                       "{\"__key__\":\"s/001\",\"seg.png\":\"iVBORw==\",\"json\":\"{\\\"q\\\":1}\"}\n"
                       "{\"__key__\":\"s/002\",\"txt\":\"\"}\n");
    }
}

int main(void) {
    RUN(test_tar_and_zip_samples);
    RUN(test_jsonl_plain_gzip_zstd);
    RUN(test_jsonl_error_names_line);
    RUN(test_projection);
    RUN(test_json_array_and_stream);
    RUN(test_csv_rfc4180);
    RUN(test_unknown_format);
    return harness_report();
}
