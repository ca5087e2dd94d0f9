/* fuzz_audio.c: WAV/FLAC (any libsndfile format) headers and data through our reader, from memory
 * (srt_audio_read_memory: format checks, channel mix, length limits); inputs are kept small by run.sh. */
#include "fuzz_util.h"
#include "snacrt_audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float *samples = NULL;
    int64_t n = 0;
    srt_audio_source_info info;
    if (srt_audio_read_memory(data, size, "fuzz.wav", 0, &samples, &n, &info) == SRT_OK) free(samples);
    return 0;
}
