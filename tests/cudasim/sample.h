/* sample.h: the sampled ("light") simulation mode (sample.cpp): which blocks of a launch run and what each one
 * stands for. Internal to tests/cudasim; switched on through cudasim_set_sample_blocks (cudasim_api.h). */
#ifndef CUDASIM_SAMPLE_H
#define CUDASIM_SAMPLE_H
#include <cuda_runtime_api.h>
#include <cstdint>
#include <vector>

namespace cudasim {
struct SampledBlock {
    uint64_t linear;   /* blockIdx as x + gridDim.x * (y + gridDim.y * z) */
    double weight;     /* how many blocks of the grid its counters stand for */
};
/* The blocks to run for a launch of `name` over `grid` in sampled mode, first and last first; false when the
 * whole grid runs (sampling off, or no more sample units than the sample size). *grouped: the kernel is in the
 * table of kernels whose blocks cooperate along an axis (whole groups sampled; atomics expected). */
bool sample_plan(const char *name, dim3 grid, std::vector<SampledBlock> &plan, bool *grouped);
int sample_blocks();   /* the sample size K, 0 when off */
} /* namespace cudasim */
#endif
