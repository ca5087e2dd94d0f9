/* snac_config.c: parse a SNAC config.json (Hugging Face format) and derive hop length and padding. */
#include "snac/snac_model.h"
#include "checked.h"
#include <cjson/cJSON.h>
#include <string.h>

/* An integer field in [lo, hi] (a bool counts as 0/1); absent or null takes dflt unless required. */
static srt_status get_int(const cJSON *root, const char *key, int required, int dflt, int lo, int hi, int *out,
                          const char *what) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return srt_error(SRT_ERR_FORMAT, "%s: missing \"%s\"", what, key);
        *out = dflt;
        return SRT_OK;
    }
    if (cJSON_IsBool(v)) { *out = cJSON_IsTrue(v); return SRT_OK; }
    if (!cJSON_IsNumber(v)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be an integer", what, key);
    int64_t x = 0;
    SRT_TRY(srt_int_in_range(v->valuedouble, lo, hi, &x, what, key));
    *out = (int)x;
    return SRT_OK;
}

static srt_status get_int_array(const cJSON *root, const char *key, int max, int *n, int *vals, const char *what) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(arr)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be an array of integers", what, key);
    int count = cJSON_GetArraySize(arr);
    if (count < 1 || count > max)
        return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" has %d entries (expected 1..%d)", what, key, count, max);
    for (int i = 0; i < count; i++) {
        const cJSON *v = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 64 || v->valuedouble != (int)v->valuedouble)
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s\"[%d] must be an integer in 1..64", what, key, i);
        vals[i] = (int)v->valuedouble;
    }
    *n = count;
    return SRT_OK;
}

srt_status snac_config_parse(const char *json_text, const char *what, snac_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_Parse(json_text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return srt_error(SRT_ERR_FORMAT, "%s: malformed JSON near \"%.20s\"", what, at ? at : "?");
    }
    srt_status st = SRT_OK;
    if (!cJSON_IsObject(root)) { st = srt_error(SRT_ERR_FORMAT, "%s: expected a JSON object", what); goto done; }
    SRT_TRY_GOTO(get_int(root, "sampling_rate", 0, 44100, 1000, 384000, &cfg->sampling_rate, what), done);
    SRT_TRY_GOTO(get_int(root, "encoder_dim", 0, 64, 1, 65536, &cfg->encoder_dim, what), done);
    SRT_TRY_GOTO(get_int(root, "decoder_dim", 0, 1536, 1, 65536, &cfg->decoder_dim, what), done);
    SRT_TRY_GOTO(get_int_array(root, "encoder_rates", SNAC_MAX_RATES, &cfg->n_enc_rates, cfg->encoder_rates, what), done);
    SRT_TRY_GOTO(get_int_array(root, "decoder_rates", SNAC_MAX_RATES, &cfg->n_dec_rates, cfg->decoder_rates, what), done);
    SRT_TRY_GOTO(get_int_array(root, "vq_strides", SNAC_MAX_LEVELS, &cfg->n_levels, cfg->vq_strides, what), done);
    SRT_TRY_GOTO(get_int(root, "attn_window_size", 0, 0, 0, 4096, &cfg->attn_window, what), done);
    SRT_TRY_GOTO(get_int(root, "codebook_size", 0, 4096, 2, 65536, &cfg->codebook_size, what), done);
    SRT_TRY_GOTO(get_int(root, "codebook_dim", 0, 8, 1, 4096, &cfg->codebook_dim, what), done);
    SRT_TRY_GOTO(get_int(root, "noise", 0, 1, 0, 1, &cfg->noise, what), done);
    SRT_TRY_GOTO(get_int(root, "depthwise", 0, 1, 0, 1, &cfg->depthwise, what), done);
    SRT_TRY_GOTO(get_int(root, "latent_dim", 0, 0, 0, 1 << 24, &cfg->latent_dim, what), done);
    if (!cfg->latent_dim) cfg->latent_dim = cfg->encoder_dim << cfg->n_enc_rates;
    /* rates are 1..64 each, up to 8 of them: the products are checked against a sane hop (at most 2^16) */
    char field[256];
    snprintf(field, sizeof field, "%s: encoder_rates product (hop length)", what);
    cfg->hop_length = 1;
    for (int i = 0; i < cfg->n_enc_rates; i++)
        SRT_TRY_GOTO(srt_mul_int(cfg->hop_length, cfg->encoder_rates[i], SNAC_MAX_HOP, &cfg->hop_length, field), done);
    snprintf(field, sizeof field, "%s: decoder_rates product", what);
    int dec_total = 1;
    for (int i = 0; i < cfg->n_dec_rates; i++)
        SRT_TRY_GOTO(srt_mul_int(dec_total, cfg->decoder_rates[i], SNAC_MAX_HOP, &dec_total, field), done);
    if (dec_total != cfg->hop_length) {
        st = srt_error(SRT_ERR_FORMAT, "%s: decoder_rates multiply to %d but encoder_rates to %d", what, dec_total,
                       cfg->hop_length);
        goto done;
    }
    if (cfg->decoder_dim >> cfg->n_dec_rates < 1 || (cfg->decoder_dim % (1 << cfg->n_dec_rates))) {
        st = srt_error(SRT_ERR_FORMAT, "%s: decoder_dim %d is not divisible by 2^%d", what, cfg->decoder_dim,
                       cfg->n_dec_rates);
        goto done;
    }
    for (int i = 1; i < cfg->n_levels; i++)
        if (cfg->vq_strides[i - 1] % cfg->vq_strides[i]) {
            st = srt_error(SRT_ERR_FORMAT, "%s: vq_strides must each divide the previous one", what);
            goto done;
        }
    snprintf(field, sizeof field, "%s: hop length x lcm(vq_strides[0], attn_window_size) (padding multiple)", what);
    SRT_TRY_GOTO(srt_mul_int(cfg->hop_length, (int)srt_lcm64(cfg->vq_strides[0], cfg->attn_window ? cfg->attn_window : 1),
                             SNAC_MAX_HOP * 4096, &cfg->pad_multiple, field), done);
done:
    cJSON_Delete(root);
    return st;
}
