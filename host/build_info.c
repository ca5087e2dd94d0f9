/* build_info.c: srt_get_build_info: version, the git commit and the options this library was configured with
 * (SNACRT_BUILD_* definitions set on this file alone by CMakeLists.txt, so a new commit recompiles only it), and
 * the BLAS as it names itself at run time. */
#include "snacrt.h"
#include <string.h>

#ifndef SNACRT_BUILD_VERSION
#define SNACRT_BUILD_VERSION "unknown"
#endif
#ifndef SNACRT_BUILD_COMMIT
#define SNACRT_BUILD_COMMIT "unknown"
#endif
#ifndef SNACRT_BUILD_CUDA
#define SNACRT_BUILD_CUDA 0
#endif
#ifndef SNACRT_BUILD_CUDASIM
#define SNACRT_BUILD_CUDASIM 0
#endif
#ifndef SNACRT_BUILD_NCCL
#define SNACRT_BUILD_NCCL 0
#endif
#ifndef SNACRT_BUILD_MPI
#define SNACRT_BUILD_MPI 0
#endif

char *openblas_get_config(void);   /* OpenBLAS (cblas.h declares it; not every cblas.h does) */

#define SRT_STR2(x) #x
#define SRT_STR(x) SRT_STR2(x)

void srt_get_build_info(srt_build_info *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    out->version = SNACRT_BUILD_VERSION;
    out->git_commit = SNACRT_BUILD_COMMIT[0] ? SNACRT_BUILD_COMMIT : "unknown";
    out->cuda = SNACRT_BUILD_CUDA;
    out->cudasim = SNACRT_BUILD_CUDASIM;
    out->nccl = SNACRT_BUILD_NCCL;
    out->mpi = SNACRT_BUILD_MPI;
    const char *blas = openblas_get_config();
    out->blas = blas && blas[0] ? blas : "OpenBLAS";
#if defined(__clang__)
    out->compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    out->compiler = "gcc " SRT_STR(__GNUC__) "." SRT_STR(__GNUC_MINOR__) "." SRT_STR(__GNUC_PATCHLEVEL__);
#else
    out->compiler = "unknown";
#endif
}
