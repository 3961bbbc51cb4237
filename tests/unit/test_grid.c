/* The InternVL grid rule and the tile tags. */
#include "tests/harness.h"
#include "tiler/tiler.h"

static ts_grid grid6(int w, int h) { return ts_tiler_grid(w, h, 1, 6, 448); }

#define CHECK_GRID(g, c, r)         \
    do {                            \
        ts_grid cg_ = (g);          \
        CHECK_EQ(cg_.cols, (c));    \
        CHECK_EQ(cg_.rows, (r));    \
    } while (0)

static void test_candidates_max6(void) {
    /* InternVL's sorted(set(...)) order under CPython 3.11. */
    const int want[14][2] = {{1, 1}, {1, 2}, {2, 1}, {3, 1}, {1, 3}, {4, 1}, {1, 4},
                             {2, 2}, {1, 5}, {5, 1}, {6, 1}, {2, 3}, {1, 6}, {3, 2}};
    ts_grid c[TS_TILER_MAX_CANDIDATES];
    CHECK_EQ(ts_tiler_candidates(1, 6, c, TS_TILER_MAX_CANDIDATES), 14);
    for (int i = 0; i < 14; i++) {
        CHECK_EQ(c[i].cols, want[i][0]);
        CHECK_EQ(c[i].rows, want[i][1]);
    }
    CHECK_EQ(ts_tiler_candidates(1, 64, c, TS_TILER_MAX_CANDIDATES), 280);
    CHECK_EQ(ts_tiler_candidates(4, 4, c, TS_TILER_MAX_CANDIDATES), 3);
    CHECK_GRID(c[0], 4, 1);
    CHECK_GRID(c[2], 2, 2);
    CHECK_EQ(ts_tiler_candidates(0, 6, c, TS_TILER_MAX_CANDIDATES), -1);
    CHECK_EQ(ts_tiler_candidates(3, 2, c, TS_TILER_MAX_CANDIDATES), -1);
    CHECK_EQ(ts_tiler_candidates(1, TS_MAX_TILES_LIMIT + 1, c, TS_TILER_MAX_CANDIDATES), -1);
}

static void test_squares(void) {
    /* 1x1 and 2x2 tie; 2x2 only when W*H > 0.5 * 448^2 * 4 = 401408. */
    CHECK_GRID(grid6(448, 448), 1, 1);
    CHECK_GRID(grid6(633, 634), 1, 1); /* 401322 */
    CHECK_GRID(grid6(634, 634), 2, 2); /* 401956 */
    CHECK_GRID(grid6(4000, 4000), 2, 2);
    CHECK_GRID(ts_tiler_grid(4000, 4000, 1, 12, 448), 3, 3);
    CHECK_GRID(ts_tiler_grid(4000, 4000, 1, 1, 448), 1, 1);
}

static void test_extremes(void) {
    CHECK_GRID(grid6(1, 1), 1, 1);
    CHECK_GRID(grid6(1, 10000), 1, 6);
    CHECK_GRID(grid6(10000, 1), 6, 1);
    CHECK_GRID(ts_tiler_grid(10000, 1, 1, 12, 448), 12, 1);
    CHECK_GRID(grid6(2, 1), 2, 1);
    CHECK_GRID(grid6(1024, 768), 3, 2);
    CHECK_GRID(grid6(768, 1024), 2, 3);
    CHECK_GRID(grid6(INT32_MAX, 1), 6, 1);
    CHECK_GRID(grid6(INT32_MAX, INT32_MAX), 2, 2);
}

static void test_midpoint_ties(void) {
    /* W/H = 1.25: 1x1 (1.0), 2x2 (1.0) and 3x2 (1.5) all differ by 0.25; later
     * ones win only above 0.5*448^2*4 = 401408 resp. 0.5*448^2*6 = 602112. */
    CHECK_GRID(grid6(500, 400), 1, 1);
    CHECK_GRID(grid6(750, 600), 2, 2);
    CHECK_GRID(grid6(1000, 800), 3, 2);
    /* min = max = 4: W/H = 2.5 ties 4x1 (first) and 2x2 (later). */
    CHECK_GRID(ts_tiler_grid(1000, 400, 4, 4, 448), 4, 1);
    CHECK_GRID(ts_tiler_grid(2000, 800, 4, 4, 448), 2, 2);
}

static void test_invalid(void) {
    CHECK_GRID(grid6(0, 10), 0, 0);
    CHECK_GRID(grid6(10, -1), 0, 0);
    CHECK_GRID(ts_tiler_grid(10, 10, 1, 6, 0), 0, 0);
    CHECK_GRID(ts_tiler_grid(10, 10, 0, 6, 448), 0, 0);
    CHECK_GRID(ts_tiler_grid(10, 10, 5, 4, 448), 0, 0);
}

static void test_tile_counts(void) {
    /* With max 6 and a thumbnail an image has 1, 3, 4, 5, 6 or 7 tiles. */
    int seen[8] = {0};
    for (int w = 1; w <= 3000; w += 37)
        for (int h = 1; h <= 3000; h += 41) {
            ts_grid g = grid6(w, h);
            int n = g.cols * g.rows;
            CHECK(n >= 1 && n <= 6);
            int count = n + (n > 1);
            if (count >= 0 && count < 8) seen[count]++;
        }
    CHECK_EQ(seen[0], 0);
    CHECK_EQ(seen[2], 0);
    for (int c = 3; c <= 7; c++) CHECK(seen[c] > 0);
    CHECK(seen[1] > 0);
}

static void test_tags(void) {
    char buf[32];
    CHECK_STR(ts_tile_tag(0, 7, 1, 6, buf, sizeof buf), "<tile_1>");
    CHECK_STR(ts_tile_tag(5, 7, 1, 6, buf, sizeof buf), "<tile_6>");
    CHECK_STR(ts_tile_tag(6, 7, 1, 6, buf, sizeof buf), "<tile_global_thumbnail>");
    CHECK_STR(ts_tile_tag(0, 1, 1, 6, buf, sizeof buf), "<tile_global_thumbnail>");
    CHECK_STR(ts_tile_tag(0, 13, 1, 12, buf, sizeof buf), "<tile_01>");
    CHECK_STR(ts_tile_tag(11, 13, 1, 12, buf, sizeof buf), "<tile_12>");
    CHECK_STR(ts_tile_tag(12, 13, 1, 12, buf, sizeof buf), "<tile_global_thumbnail>");
    CHECK_STR(ts_tile_tag(2, 4, 1, 9, buf, sizeof buf), "<tile_3>");
    /* Without a thumbnail (--no-thumbnail) every grid tile keeps its number. */
    CHECK_STR(ts_tile_tag(5, 6, 0, 6, buf, sizeof buf), "<tile_6>");
    CHECK_STR(ts_tile_tag(0, 1, 0, 6, buf, sizeof buf), "<tile_global_thumbnail>");
}

int main(void) {
    RUN(test_candidates_max6);
    RUN(test_squares);
    RUN(test_extremes);
    RUN(test_midpoint_ties);
    RUN(test_invalid);
    RUN(test_tile_counts);
    RUN(test_tags);
    return harness_report();
}
