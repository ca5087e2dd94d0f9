/* make_llama_model.c: write a Llama model folder with random bf16 weights and published dimensions
 * (config.json + model.safetensors), for benchmarks and load tests.
 *   make_llama_model --dims 1b|3b|tiny --out DIR [--layers N] [--seed S] [--vocab N]
 * 1b = Llama-3.2-1B (hidden 2048, 16 layers, 32/8 heads, FFN 8192, vocab 128256, tied, llama3 rope scaling),
 * 3b = Llama-3.2-3B (hidden 3072, 28 layers, 24/8 heads, head_dim 128). --layers overrides the depth (short runs).
 * Weights are uniform in +-sqrt(3/in_features) (unit-variance outputs), norms are 1. Written tensor by tensor. */
#include "snacrt.h"
#include "weights/weights.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct dims { int hidden, inter, layers, heads, kv_heads, head_dim, vocab; } dims;

typedef struct tensor_spec { char name[96]; int64_t rows, cols; } tensor_spec;   /* cols 0: a vector */

static uint64_t rng_state;
static uint64_t rng_next(void) {
    uint64_t x = rng_state; x ^= x << 13; x ^= x >> 7; x ^= x << 17; return rng_state = x;
}

static int list_tensors(const dims *d, tensor_spec *t) {
    int n = 0, q = d->heads * d->head_dim, kv = d->kv_heads * d->head_dim;
#define ADD(nm, r, c) do { snprintf(t[n].name, sizeof t[n].name, "%s", nm); t[n].rows = r; t[n].cols = c; n++; } while (0)
    ADD("model.embed_tokens.weight", d->vocab, d->hidden);
    char nm[96];
    for (int l = 0; l < d->layers; l++) {
#define LAYER(suffix, r, c) do { snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix); ADD(nm, r, c); } while (0)
        LAYER("self_attn.q_proj.weight", q, d->hidden);
        LAYER("self_attn.k_proj.weight", kv, d->hidden);
        LAYER("self_attn.v_proj.weight", kv, d->hidden);
        LAYER("self_attn.o_proj.weight", d->hidden, q);
        LAYER("mlp.gate_proj.weight", d->inter, d->hidden);
        LAYER("mlp.up_proj.weight", d->inter, d->hidden);
        LAYER("mlp.down_proj.weight", d->hidden, d->inter);
        LAYER("input_layernorm.weight", d->hidden, 0);
        LAYER("post_attention_layernorm.weight", d->hidden, 0);
#undef LAYER
    }
    ADD("model.norm.weight", d->hidden, 0);
#undef ADD
    return n;
}

static int write_config(const char *dir, const dims *d) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "make_llama_model: cannot write %s\n", path); return 1; }
    fprintf(f, "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
               "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
               "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n"
               "  \"vocab_size\": %d,\n  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 500000.0,\n"
               "  \"max_position_embeddings\": 131072,\n  \"tie_word_embeddings\": true,\n"
               "  \"bos_token_id\": 128000,\n  \"eos_token_id\": [128001, 128008, 128009],\n"
               "  \"hidden_act\": \"silu\",\n  \"torch_dtype\": \"bfloat16\",\n"
               "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0,\n"
               "    \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}\n}\n",
            d->hidden, d->inter, d->layers, d->heads, d->kv_heads, d->head_dim, d->vocab);
    return fclose(f) ? 1 : 0;
}

static int write_safetensors(const char *dir, const dims *d) {
    tensor_spec *t = calloc((size_t)d->layers * 9 + 2, sizeof *t);
    int n = list_tensors(d, t);
    size_t cap = 256 + (size_t)n * 160, len = 0;
    char *header = malloc(cap);
    int64_t offset = 0;
    len += (size_t)snprintf(header + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        int64_t bytes = 2 * t[i].rows * (t[i].cols ? t[i].cols : 1);
        if (t[i].cols)
            len += (size_t)snprintf(header + len, cap - len, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld],"
                                    "\"data_offsets\":[%lld,%lld]}", t[i].name, (long long)t[i].rows,
                                    (long long)t[i].cols, (long long)offset, (long long)(offset + bytes));
        else
            len += (size_t)snprintf(header + len, cap - len, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld],"
                                    "\"data_offsets\":[%lld,%lld]}", t[i].name, (long long)t[i].rows,
                                    (long long)offset, (long long)(offset + bytes));
        offset += bytes;
    }
    len += (size_t)snprintf(header + len, cap - len, "}");
    while (len % 8) header[len++] = ' ';
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "make_llama_model: cannot write %s\n", path); free(header); free(t); return 1; }
    uint64_t hlen = len;
    fwrite(&hlen, 8, 1, f);
    fwrite(header, 1, len, f);
    enum { CHUNK = 1 << 20 };
    uint16_t *buf = malloc(sizeof(uint16_t) * CHUNK);
    for (int i = 0; i < n; i++) {
        int64_t count = t[i].rows * (t[i].cols ? t[i].cols : 1);
        float scale = t[i].cols ? sqrtf(3.0f / (float)t[i].cols) : 0.0f;
        for (int64_t done = 0; done < count; done += CHUNK) {
            int64_t take = count - done < CHUNK ? count - done : CHUNK;
            for (int64_t j = 0; j < take; j++) {
                float u = (float)((rng_next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
                buf[j] = srt_f32_to_bf16(t[i].cols ? u * scale : 1.0f);
            }
            if (fwrite(buf, 2, (size_t)take, f) != (size_t)take) {
                fprintf(stderr, "make_llama_model: write failed on %s\n", path);
                fclose(f); free(buf); free(header); free(t);
                return 1;
            }
        }
    }
    free(buf); free(header); free(t);
    if (fclose(f)) return 1;
    printf("{\"dir\":\"%s\",\"tensors\":%d,\"bytes\":%lld}\n", dir, n, (long long)(offset + 8 + (int64_t)len));
    return 0;
}

int main(int argc, char **argv) {
    const char *which = "1b", *out = NULL;
    int layers = 0, vocab = 0;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dims")) which = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--layers")) layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--vocab")) vocab = atoi(argv[i + 1]);   /* e.g. 156940: Orpheus */
        else { fprintf(stderr, "make_llama_model: unknown option %s\n", argv[i]); return 2; }
    }
    dims d;
    if (!strcmp(which, "1b")) d = (dims){2048, 8192, 16, 32, 8, 64, 128256};
    else if (!strcmp(which, "3b")) d = (dims){3072, 8192, 28, 24, 8, 128, 128256};
    else if (!strcmp(which, "tiny")) d = (dims){64, 192, 2, 4, 2, 16, 1024};
    else { fprintf(stderr, "make_llama_model: --dims must be 1b, 3b or tiny\n"); return 2; }
    if (!out) {
        fprintf(stderr, "usage: make_llama_model --dims 1b|3b|tiny --out DIR [--layers N] [--seed S]\n");
        return 2;
    }
    if (layers > 0) d.layers = layers;
    if (vocab > 0) d.vocab = vocab;
    rng_state = seed * 2654435761u + 88172645463325252ull;
    mkdir(out, 0755);
    if (write_config(out, &d)) return 1;
    return write_safetensors(out, &d);
}
