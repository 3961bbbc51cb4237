/* Flag-value parsing shared by the subcommands. */
#ifndef TS_CLI_OPTIONS_H
#define TS_CLI_OPTIONS_H

/* Parse a whole decimal integer in [min, max]; 1 on success. */
int ts_parse_long(const char *s, long min, long max, long *out);

#endif
