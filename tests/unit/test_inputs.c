/* The input walker: files, sorted recursive directories, archives, errors. */
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/inputs.h"
#include "tests/harness.h"

static char root[512];

static void put_file(const char *rel, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static void make_tar(const char *rel, const char *const *names, int n, const char *filter) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (filter) archive_write_add_filter_by_name(a, filter);
    archive_write_open_filename(a, path);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)strlen(names[i]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, names[i], strlen(names[i]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static int only_jpg(const char *name) {
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".jpg") == 0;
}

/* Collect "name=content" strings of all items; errors as "name!code". */
static int walk(char **paths, int n, char out[][256], int max) {
    ts_inputs_options o = {0, only_jpg, 1};
    ts_inputs *in = NULL;
    ts_error err;
    if (ts_inputs_open(&in, paths, n, &o, &err)) return -1;
    ts_input_item item;
    ts_buf data = TS_BUF_INIT;
    int count = 0;
    ts_status st;
    while ((st = ts_inputs_next(in, &item, &data, &err)) != TS_ENOTFOUND && count < max) {
        const char *name = item.name + strlen(root) + 1;
        if (st) snprintf(out[count++], 256, "%s!%s", name, ts_status_name(st));
        else snprintf(out[count++], 256, "%s=%.*s", name, (int)data.len, (const char *)data.data);
    }
    ts_buf_free(&data);
    ts_inputs_close(in);
    return count;
}

static void test_directory_walk_is_sorted_and_filtered(void) {
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/d", root);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/d/z", root);
    mkdir(sub, 0755);
    put_file("d/b.jpg", "B");
    put_file("d/a.jpg", "A");
    put_file("d/notes.txt", "skip me");
    put_file("d/z/c.jpg", "C");
    put_file("d/.hidden.jpg", "H");
    const char *members[] = {"0001.jpg", "0001.txt", "0002.jpg"};
    make_tar("d/y.tar", members, 3, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/d", root);
    char *paths[] = {path};
    char got[16][256];
    int n = walk(paths, 1, got, 16);
    CHECK_EQ(n, 5);
    if (n != 5) return;
    CHECK_STR(got[0], "d/a.jpg=A");
    CHECK_STR(got[1], "d/b.jpg=B");
    CHECK_STR(got[2], "d/y.tar/0001.jpg=0001.jpg");
    CHECK_STR(got[3], "d/y.tar/0002.jpg=0002.jpg");
    CHECK_STR(got[4], "d/z/c.jpg=C");
}

static void test_named_files_always_yielded_and_errors_continue(void) {
    put_file("plain.txt", "T");
    const char *members[] = {"k1.jpg", "k2.jpg"};
    make_tar("w.tar.gz", members, 2, "gzip");
    put_file("broken.tar", "this is not a tar archive at all, but it is long enough to look like one maybe");
    char a[1024], b[1024], c[1024], d[1024];
    snprintf(a, sizeof a, "%s/plain.txt", root);
    snprintf(b, sizeof b, "%s/missing.jpg", root);
    snprintf(c, sizeof c, "%s/broken.tar", root);
    snprintf(d, sizeof d, "%s/w.tar.gz", root);
    char *paths[] = {a, b, c, d};
    char got[16][256];
    int n = walk(paths, 4, got, 16);
    CHECK_EQ(n, 5);
    if (n != 5) return;
    CHECK_STR(got[0], "plain.txt=T"); /* named directly: not filtered */
    CHECK_STR(got[1], "missing.jpg!io");
    CHECK_STR(got[2], "broken.tar!format");
    CHECK_STR(got[3], "w.tar.gz/k1.jpg=k1.jpg");
    CHECK_STR(got[4], "w.tar.gz/k2.jpg=k2.jpg");
}

static void test_item_size_limit(void) {
    put_file("big.jpg", "0123456789");
    char a[1024];
    snprintf(a, sizeof a, "%s/big.jpg", root);
    char *paths[] = {a};
    ts_inputs_options o = {5, NULL, 1};
    ts_inputs *in = NULL;
    ts_error err;
    CHECK_OK(ts_inputs_open(&in, paths, 1, &o, &err), &err);
    ts_input_item item;
    ts_buf data = TS_BUF_INIT;
    CHECK_EQ(ts_inputs_next(in, &item, &data, &err), TS_ELIMIT);
    CHECK(strstr(err.msg, "big.jpg") != NULL);
    CHECK_EQ(ts_inputs_next(in, &item, &data, &err), TS_ENOTFOUND);
    ts_buf_free(&data);
    ts_inputs_close(in);
}

int main(void) {
    snprintf(root, sizeof root, "%s/inputs-%ld", harness_tmpdir(), (long)getpid());
    mkdir(root, 0755);
    RUN(test_directory_walk_is_sorted_and_filtered);
    RUN(test_named_files_always_yielded_and_errors_continue);
    RUN(test_item_size_limit);
    return harness_report();
}
