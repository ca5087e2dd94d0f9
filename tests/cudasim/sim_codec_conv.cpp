/* sim_codec_conv.cpp: cuda/codec_conv.cu compiled by g++ against the simulator. */
#include "cuda/codec_conv.cu"
