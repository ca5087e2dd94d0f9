/* sim_codec_misc.cpp: cuda/codec_misc.cu compiled by g++ against the simulator. */
#include "cuda/codec_misc.cu"
