/* A minimal unit-test harness: one binary per test file, one function per
 * case. A case fails when any CHECK in it fails; the binary's last line is
 * "N passed, N failed" and its exit status is non-zero on any failure.
 *
 *   static void test_grid_square(void) { CHECK_EQ(g.cols, 1); }
 *   int main(void) { RUN(test_grid_square); return harness_report(); }
 */
#ifndef TS_TESTS_HARNESS_H
#define TS_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_case_failed;
static int harness_passed;
static int harness_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            harness_case_failed = 1;                                                 \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                   \
    do {                                                                                 \
        long long harness_a = (long long)(a), harness_b = (long long)(b);                \
        if (harness_a != harness_b) {                                                    \
            fprintf(stderr, "  %s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__, \
                    __LINE__, #a, #b, harness_a, harness_b);                             \
            harness_case_failed = 1;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *harness_sa = (a), *harness_sb = (b);                                 \
        if (!harness_sa || !harness_sb || strcmp(harness_sa, harness_sb) != 0) {         \
            fprintf(stderr, "  %s:%d: CHECK_STR(%s, %s) failed: \"%s\" != \"%s\"\n",      \
                    __FILE__, __LINE__, #a, #b, harness_sa ? harness_sa : "(null)",      \
                    harness_sb ? harness_sb : "(null)");                                 \
            harness_case_failed = 1;                                                     \
        }                                                                                \
    } while (0)

/* For ts_status-returning calls: prints the error message on failure.
 * `errp` must point to the ts_error the call filled. */
#define CHECK_OK(expr, errp)                                                             \
    do {                                                                                 \
        int harness_rc = (int)(expr);                                                    \
        if (harness_rc != 0) {                                                           \
            fprintf(stderr, "  %s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #expr,  \
                    harness_rc, (errp)->msg);                              \
            harness_case_failed = 1;                                                     \
        }                                                                                \
    } while (0)

#define RUN(fn)                                                          \
    do {                                                                 \
        harness_case_failed = 0;                                         \
        fn();                                                            \
        if (harness_case_failed) {                                       \
            harness_failed++;                                            \
            fprintf(stderr, "FAIL %s\n", #fn);                           \
        } else {                                                         \
            harness_passed++;                                            \
            printf("ok   %s\n", #fn);                                    \
        }                                                                \
        fflush(stdout);                                                  \
    } while (0)

static inline int harness_report(void) {
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}

/* A scratch directory for this test run (tests/run.sh sets TS_TEST_TMP). */
static inline const char *harness_tmpdir(void) {
    const char *d = getenv("TS_TEST_TMP");
    return d && *d ? d : "/tmp";
}

#endif
