/* cli_common.h: small helpers shared by the subcommands: option parsing, error reporting, output files. */
#ifndef SRT_CLI_COMMON_H
#define SRT_CLI_COMMON_H

#include "snacrt.h"
#include <stdio.h>

/* Print "snacrt <cmd>: <message>" for a failed status and return exit code 1. */
int cli_fail(const char *cmd, srt_status st);
/* Print a usage error and return exit code 2. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "unknown option OPT (did you mean --flag?)": the nearest flag named in usage by edit distance (at most a third
 * of its length, at least 2), then the usage; returns exit code 2. */
int cli_unknown_option(const char *cmd, const char *usage, const char *opt);
/* The flag in usage nearest to opt ("--temperature" for "--tempreature"), into buf; NULL when none is near. */
const char *cli_nearest_flag(const char *usage, const char *opt, char *buf, size_t cap);
/* Check a model folder given by flag before loading it: a missing folder that looks like a Hugging Face repo id
 * ("org/name") says how to fetch it; a folder of the other kind (a SNAC codec where a language model is wanted, or
 * the reverse) names the flag, what the folder is and the flag it belongs to. want: CLI_DIR_LM or CLI_DIR_SNAC.
 * Returns 0 when nothing is wrong (or the loader will say better), else prints "snacrt <cmd>: ..." and returns 1. */
enum { CLI_DIR_LM = 1, CLI_DIR_SNAC = 2 };
int cli_check_model_dir(const char *cmd, const char *flag, const char *dir, int want);
/* Check that the folder a single output file goes into exists: 0, or prints which folder is missing and returns 1. */
int cli_check_output_parent(const char *cmd, const char *flag, const char *path);
/* mkdir -p: create a folder and its missing parents. Returns 0, or -1 with errno set. */
int cli_mkdirs(const char *path);
/* Parse an integer option value; 0 on success. */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
/* Parse a finite floating-point option value (the whole string); 0 on success. */
int cli_parse_float(const char *s, float *out);
/* --lm-precision's value: 0 for "bf16" or "exact" (srt_lm_options.lm_precision), else -1 (the caller says "bad
 * value for --lm-precision: 'X'"; the library refuses it too). */
int cli_check_lm_precision(const char *s);
/* --lm-weights' value: 0 for "stored" or "int8" (srt_lm_options.weights_dtype), else -1 */
int cli_check_lm_weights(const char *s);
/* Write bytes to a path ("-" or NULL = stdout). */
srt_status cli_write_output(const char *path, const void *data, size_t size);
/* Does argv[i] match a flag that takes a value? Sets *val and advances *i; reports a missing value. */
int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **val);

#endif
