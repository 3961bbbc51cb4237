/* Progress of long work on stderr.
 *
 * When stderr is a terminal, a bar redrawn in place at most 10 times a second;
 * otherwise one plain line every `TESSERA_PROGRESS_SECONDS` (default 10) so CI
 * logs stay readable. Thread-safe: workers call ts_progress_add() directly.
 * A NULL progress is accepted by every function and does nothing. */
#ifndef TS_CORE_PROGRESS_H
#define TS_CORE_PROGRESS_H

#include <stdint.h>

typedef struct ts_progress ts_progress;

/* `total` may be 0 when unknown (no ETA then). `unit` names the items
 * ("images", "records"). Returns NULL when progress is disabled
 * (ts_progress_disable() or out of memory). */
ts_progress *ts_progress_new(const char *label, uint64_t total, const char *unit);
void ts_progress_add(ts_progress *p, uint64_t items, uint64_t bytes);
void ts_progress_add_failed(ts_progress *p, uint64_t items);
/* Print the final line and free. */
void ts_progress_finish(ts_progress *p);

/* Turn all progress output off for this process (the CLI's --quiet). */
void ts_progress_disable(void);

#endif
