/* lm_load_tokenizer.c: srt_lm_load_tokenizer, a model handle holding only a folder's tokenizer.json (and its
 * config.json when present) for srt_lm_encode / srt_lm_decode and the layouts' prompt builders: no backend, no
 * weights mapped, no KV cache. Dataset tools that only need text ids use it (tokenize --sequences). */
#include "lm/lm_model.h"
#include "common.h"
#include <stdlib.h>

srt_status srt_lm_load_tokenizer(const char *model_dir, srt_lm **out) {
    *out = NULL;
    if (!model_dir) return srt_error(SRT_ERR_INVALID_ARG, "srt_lm_load_tokenizer: no model folder");
    srt_lm *lm = srt_calloc(1, sizeof *lm, "lm");
    char *tok_path = srt_path_join(model_dir, "tokenizer.json"), *config_path = srt_path_join(model_dir, "config.json");
    srt_status st = lm && tok_path && config_path ? SRT_OK : SRT_ERR_NOMEM;
    if (st == SRT_OK && !srt_file_exists(tok_path))
        st = srt_error(SRT_ERR_NOT_FOUND, "%s: no tokenizer.json", model_dir);
    if (st == SRT_OK) st = srt_tokenizer_load(tok_path, &lm->tokenizer);
    if (st == SRT_OK && srt_file_exists(config_path)) {   /* for srt_lm_get_info's sizes and special ids */
        char *json = NULL;
        size_t size;
        st = srt_read_file(config_path, &json, &size);
        if (st == SRT_OK) st = srt_lm_config_parse(json, config_path, &lm->cfg);
        free(json);
    }
    free(tok_path);
    free(config_path);
    if (st != SRT_OK) {
        srt_lm_free(lm);
        return srt_error_prefix(st, "loading the tokenizer of %s: ", model_dir);
    }
    *out = lm;
    return SRT_OK;
}
