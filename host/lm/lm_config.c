/* lm_config.c: Hugging Face config.json of Llama-family decoders (Llama, Mistral, Qwen2) and the rotary
 * inverse frequencies with llama3 / linear rope scaling. */
#include "lm/lm_model.h"
#include "checked.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* An integer field in [lo, hi]; absent (or null) takes fallback. The message names the file and the field. */
static srt_status json_int(const cJSON *root, const char *key, int fallback, int64_t lo, int64_t hi, const char *path,
                           int *out) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item)) {   /* absent: the fallback, which must be in range too (0 = required) */
        if (fallback < lo || fallback > hi)
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" is missing (an integer in %lld..%lld is needed)", path, key,
                             (long long)lo, (long long)hi);
        *out = fallback;
        return SRT_OK;
    }
    if (!cJSON_IsNumber(item)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" is not a number", path, key);
    int64_t v = 0;
    SRT_TRY(srt_int_in_range(item->valuedouble, lo, hi, &v, path, key));
    *out = (int)v;
    return SRT_OK;
}
static double json_num(const cJSON *root, const char *key, double fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNumber(item) ? item->valuedouble : fallback;
}
static int json_bool(const cJSON *root, const char *key, int fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsBool(item) ? cJSON_IsTrue(item) : fallback;
}

static srt_status parse_rope_scaling(const cJSON *root, const char *path, srt_lm_config *cfg) {
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (!rs || cJSON_IsNull(rs)) return SRT_OK;
    if (!cJSON_IsObject(rs)) return srt_error(SRT_ERR_FORMAT, "%s: rope_scaling is not an object", path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!cJSON_IsString(type)) type = cJSON_GetObjectItemCaseSensitive(rs, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    cfg->rope_factor = json_num(rs, "factor", 1.0);
    if (!(cfg->rope_factor > 0) || !isfinite(cfg->rope_factor))
        return srt_error(SRT_ERR_FORMAT, "%s: rope_scaling \"factor\" must be a positive number", path);
    if (!strcmp(t, "default")) return SRT_OK;
    if (!strcmp(t, "linear")) { cfg->rope_scaling = 2; return SRT_OK; }
    if (strcmp(t, "llama3"))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: rope_scaling type \"%s\" is not supported (llama3, linear)", path, t);
    cfg->rope_scaling = 1;
    cfg->rope_low_freq_factor = json_num(rs, "low_freq_factor", 1.0);
    cfg->rope_high_freq_factor = json_num(rs, "high_freq_factor", 4.0);
    SRT_TRY(json_int(rs, "original_max_position_embeddings", 8192, 1, LM_MAX_POSITION, path,
                     &cfg->rope_original_max_position));
    if (!(cfg->rope_low_freq_factor > 0) || !(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor) ||
        !isfinite(cfg->rope_high_freq_factor))
        return srt_error(SRT_ERR_FORMAT, "%s: llama3 rope_scaling needs high_freq_factor > "
                         "low_freq_factor > 0", path);
    return SRT_OK;
}

static srt_status parse_eos(const cJSON *root, const char *path, srt_lm_config *cfg) {
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    cfg->n_eos = 0;
    int64_t id = 0;
    if (cJSON_IsNumber(eos)) {
        SRT_TRY(srt_int_in_range(eos->valuedouble, 0, INT32_MAX, &id, path, "eos_token_id"));
        cfg->eos_ids[cfg->n_eos++] = (int32_t)id;
    } else if (cJSON_IsArray(eos)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, eos) {
            if (!cJSON_IsNumber(item) || cfg->n_eos >= 8) continue;
            SRT_TRY(srt_int_in_range(item->valuedouble, 0, INT32_MAX, &id, path, "eos_token_id"));
            cfg->eos_ids[cfg->n_eos++] = (int32_t)id;
        }
    }
    return SRT_OK;
}

srt_status srt_lm_config_parse(const char *json, const char *path, srt_lm_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return srt_error(SRT_ERR_FORMAT, "%s: not a JSON object", path);
    }
    srt_status st = SRT_OK;
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *arch = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
    const cJSON *model_type = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const char *name = cJSON_IsString(arch) ? arch->valuestring : NULL;
    if (!name && cJSON_IsString(model_type)) {   /* configs without "architectures" */
        const char *mt = model_type->valuestring;
        name = !strcmp(mt, "llama") ? "LlamaForCausalLM" : !strcmp(mt, "mistral") ? "MistralForCausalLM"
             : !strcmp(mt, "qwen2") ? "Qwen2ForCausalLM" : mt;
    }
    if (!name) { st = srt_error(SRT_ERR_FORMAT, "%s: no \"architectures\" or \"model_type\"", path); goto done; }
    int is_qwen2 = !strcmp(name, "Qwen2ForCausalLM");
    if (strcmp(name, "LlamaForCausalLM") && strcmp(name, "MistralForCausalLM") && !is_qwen2) {
        st = srt_error(SRT_ERR_UNSUPPORTED, "%s: architecture \"%s\" is not supported (LlamaForCausalLM, "
                       "MistralForCausalLM, Qwen2ForCausalLM)", path, name);
        goto done;
    }
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s", name);
    /* every dimension positive and below a sane maximum, so products of them cannot overflow an int */
    SRT_TRY_GOTO(json_int(root, "hidden_size", 0, 1, LM_MAX_DIM, path, &cfg->hidden), done);
    SRT_TRY_GOTO(json_int(root, "intermediate_size", 0, 1, LM_MAX_DIM, path, &cfg->intermediate), done);
    SRT_TRY_GOTO(json_int(root, "num_hidden_layers", 0, 1, LM_MAX_LAYERS, path, &cfg->n_layers), done);
    SRT_TRY_GOTO(json_int(root, "num_attention_heads", 0, 1, LM_MAX_HEADS, path, &cfg->n_heads), done);
    SRT_TRY_GOTO(json_int(root, "num_key_value_heads", cfg->n_heads, 1, LM_MAX_HEADS, path, &cfg->n_kv_heads), done);
    SRT_TRY_GOTO(json_int(root, "vocab_size", 0, 1, LM_MAX_VOCAB, path, &cfg->vocab), done);
    SRT_TRY_GOTO(json_int(root, "head_dim", cfg->hidden / cfg->n_heads, 0, LM_MAX_HEAD_DIM, path, &cfg->head_dim),
                 done);
    if (cfg->head_dim < 2 || cfg->head_dim % 2 || cfg->n_heads % cfg->n_kv_heads) {
        st = srt_error(SRT_ERR_FORMAT, "%s: head_dim %d must be even, num_attention_heads %d a multiple of "
                       "num_key_value_heads %d", path, cfg->head_dim, cfg->n_heads, cfg->n_kv_heads);
        goto done;
    }
    char field[256];
    int q_dim = 0;
    snprintf(field, sizeof field, "%s: num_attention_heads x head_dim", path);
    SRT_TRY_GOTO(srt_mul_int(cfg->n_heads, cfg->head_dim, LM_MAX_DIM, &q_dim, field), done);
    SRT_TRY_GOTO(json_int(root, "max_position_embeddings", 4096, 1, LM_MAX_POSITION, path, &cfg->max_position), done);
    /* Mistral: "sliding_window" (null when off); Qwen2: only with "use_sliding_window": true */
    int window = 0;
    SRT_TRY_GOTO(json_int(root, "sliding_window", 0, 0, LM_MAX_POSITION, path, &window), done);
    if (is_qwen2 && !json_bool(root, "use_sliding_window", 0)) window = 0;
    if (window > 0 && window < cfg->max_position) {
        cfg->sliding_window = window;
        cfg->max_position = window;
    }
    cfg->rms_eps = (float)json_num(root, "rms_norm_eps", 1e-6);
    cfg->rope_theta = json_num(root, "rope_theta", 10000.0);
    if (!(cfg->rms_eps >= 0) || !isfinite(cfg->rms_eps) || !(cfg->rope_theta > 1) || !isfinite(cfg->rope_theta)) {
        st = srt_error(SRT_ERR_FORMAT, "%s: \"rms_norm_eps\" must be a finite number >= 0 and \"rope_theta\" a "
                       "finite number > 1", path);
        goto done;
    }
    cfg->tie_embeddings = json_bool(root, "tie_word_embeddings", 0);
    cfg->qkv_bias = is_qwen2 || json_bool(root, "attention_bias", 0);
    if (json_bool(root, "mlp_bias", 0)) {
        st = srt_error(SRT_ERR_UNSUPPORTED, "%s: mlp_bias true is not supported", path);
        goto done;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (cJSON_IsString(act) && strcmp(act->valuestring, "silu")) {
        st = srt_error(SRT_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (silu)", path, act->valuestring);
        goto done;
    }
    SRT_TRY_GOTO(json_int(root, "bos_token_id", -1, -1, INT32_MAX, path, &cfg->bos_id), done);
    SRT_TRY_GOTO(parse_eos(root, path, cfg), done);
    SRT_TRY_GOTO(parse_rope_scaling(root, path, cfg), done);
done:
    cJSON_Delete(root);
    return st;
}

void srt_lm_rope_inv_freq(const srt_lm_config *cfg, float *inv_freq) {
    int dim = cfg->head_dim;
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < dim / 2; i++) {
        /* HF computes base^(2i/dim) in float32 (torch.arange(...).float() / dim) */
        float f = (float)(1.0 / pow(cfg->rope_theta, (double)(float)(2 * i) / (double)dim));
        if (cfg->rope_scaling == 2) f = (float)(f / cfg->rope_factor);
        if (cfg->rope_scaling == 1) {
            double old_len = cfg->rope_original_max_position;
            double low_wavelen = old_len / cfg->rope_low_freq_factor, high_wavelen = old_len / cfg->rope_high_freq_factor;
            double wavelen = 2 * pi / f, scaled = f;
            if (wavelen > low_wavelen) {
                scaled = f / cfg->rope_factor;
            } else if (wavelen >= high_wavelen) {   /* medium band: interpolate */
                double smooth = (old_len / wavelen - cfg->rope_low_freq_factor) /
                                (cfg->rope_high_freq_factor - cfg->rope_low_freq_factor);
                scaled = (1 - smooth) * f / cfg->rope_factor + smooth * f;
            }
            f = (float)scaled;
        }
        inv_freq[i] = f;
    }
}
