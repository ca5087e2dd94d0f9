/* fuzz_config.c: config.json of SNAC (snac_config_parse) and of the LM (srt_lm_config_parse); the first byte picks
 * which, the rest is the JSON text. */
#include "fuzz_util.h"
#include "snac/snac_model.h"
#include "lm/lm_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = fuzz_text(data + 1, size - 1);
    if (!text) return 0;
    if (data[0] & 1) {
        snac_config cfg;
        (void)snac_config_parse(text, "config.json", &cfg);
    } else {
        srt_lm_config cfg;
        if (srt_lm_config_parse(text, "config.json", &cfg) == SRT_OK && cfg.head_dim <= LM_MAX_HEAD_DIM) {
            float inv_freq[LM_MAX_HEAD_DIM / 2];
            srt_lm_rope_inv_freq(&cfg, inv_freq);
        }
    }
    free(text);
    return 0;
}
