/* common.h: internal helpers shared by all of host/: error recording, checked allocation, small math. */
#ifndef SRT_COMMON_H
#define SRT_COMMON_H

#include "snacrt.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stdint.h>

/* srt_error, srt_error_prefix and srt_read_file are public: include/snacrt.h. */

/* Return on failure, keeping the recorded message. */
#define SRT_TRY(expr) do { srt_status srt_try_s_ = (expr); if (srt_try_s_ != SRT_OK) return srt_try_s_; } while (0)
/* Jump to a cleanup label on failure; `st` must be an srt_status variable in scope. */
#define SRT_TRY_GOTO(expr, label) do { st = (expr); if (st != SRT_OK) goto label; } while (0)

/* calloc that records SRT_ERR_NOMEM with what it was for; returns NULL on failure. */
void *srt_calloc(size_t n, size_t size, const char *what);
void *srt_malloc(size_t size, const char *what);
char *srt_strdup(const char *s);

/* Join two path parts with '/' into a malloc'd string. */
char *srt_path_join(const char *dir, const char *name);
int srt_file_exists(const char *path);

static inline int64_t srt_gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }
static inline int64_t srt_lcm64(int64_t a, int64_t b) { return a / srt_gcd64(a, b) * b; }
static inline int64_t srt_ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

#endif
