/* The tool version: recorded in every output header and run manifest, and
 * part of the cache keys that decide whether a stage can be skipped. */
#ifndef TS_CORE_VERSION_H
#define TS_CORE_VERSION_H

#define TS_VERSION "0.1.0"

#endif
