/* Subcommands of the `tessera` CLI, git-style: one file per subcommand in
 * cli/, each registering itself with TS_COMMAND. A subcommand parses its flags
 * and calls the library; it holds no logic of its own.
 *
 * Exit codes: 0 success, 1 some inputs failed (reported), 2 usage error,
 * 3 fatal error (nothing usable written). */
#ifndef TS_CLI_COMMAND_H
#define TS_CLI_COMMAND_H

#include <stdio.h>

enum { TS_EXIT_OK = 0, TS_EXIT_PARTIAL = 1, TS_EXIT_USAGE = 2, TS_EXIT_FATAL = 3 };

typedef struct ts_command {
    const char *name;
    const char *summary; /* one line for `tessera help` */
    const char *usage;   /* full text for `tessera help NAME` and `NAME --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} ts_command;

void ts_command_register(const ts_command *cmd);

#define TS_COMMAND(ident, name_, summary_, usage_, run_)                        \
    static const ts_command ts_command_##ident = {name_, summary_, usage_, run_}; \
    __attribute__((constructor)) static void ts_command_register_##ident(void) { \
        ts_command_register(&ts_command_##ident);                               \
    }

/* Print usage of `cmd` to stderr and return TS_EXIT_USAGE. */
int ts_command_usage_error(const ts_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
