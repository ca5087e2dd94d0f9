/* cli_common.h: small helpers shared by the subcommands: option parsing, error reporting, output files. */
#ifndef SRT_CLI_COMMON_H
#define SRT_CLI_COMMON_H

#include "snacrt.h"
#include <stdio.h>

/* Print "snacrt <cmd>: <message>" for a failed status and return exit code 1. */
int cli_fail(const char *cmd, srt_status st);
/* Print a usage error and return exit code 2. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parse an integer option value; 0 on success. */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
/* Parse a finite floating-point option value (the whole string); 0 on success. */
int cli_parse_float(const char *s, float *out);
/* Write bytes to a path ("-" or NULL = stdout). */
srt_status cli_write_output(const char *path, const void *data, size_t size);
/* Does argv[i] match a flag that takes a value? Sets *val and advances *i; reports a missing value. */
int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **val);

#endif
