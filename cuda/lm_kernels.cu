/* lm_kernels.cu: translation unit of the language-model kernels (nvcc; tests/cudasim compiles it with g++ as
 * sim_lm_kernels.cpp). One op per .cuh; launch functions declared in cuda/lm_kernels.h. */
#include "cuda/lm_add_bias.cuh"
#include "cuda/lm_embedding.cuh"
#include "cuda/lm_gather_rows.cuh"
#include "cuda/lm_kv_store.cuh"
#include "cuda/lm_mask_rows.cuh"
#include "cuda/lm_paged_attention.cuh"
#include "cuda/lm_rmsnorm.cuh"
#include "cuda/lm_rope.cuh"
#include "cuda/lm_rope_kv_store.cuh"
#include "cuda/lm_rope_kv_store_fp8.cuh"
#include "cuda/lm_sample.cuh"
#include "cuda/lm_swiglu.cuh"
