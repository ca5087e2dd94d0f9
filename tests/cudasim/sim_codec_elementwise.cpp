/* sim_codec_elementwise.cpp: cuda/codec_elementwise.cu compiled by g++ against the simulator. */
#include "cuda/codec_elementwise.cu"
