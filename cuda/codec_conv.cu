/* codec_conv.cu: translation unit of the convolution kernels (nvcc; tests/cudasim compiles it with g++). */
#include "cuda/conv1d.cuh"
#include "cuda/conv_transpose1d.cuh"
#include "cuda/conv_igemm.cuh"
#include "cuda/snake.cuh"
