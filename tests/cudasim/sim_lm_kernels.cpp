/* sim_lm_kernels.cpp: cuda/lm_kernels.cu compiled by g++ against the simulator. */
#include "cuda/lm_kernels.cu"
