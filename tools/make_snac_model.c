/* make_snac_model.c: write a SNAC model folder (config.json + model.safetensors) with random weights (fixed
 * seed) and the published dimensions of snac_24khz / snac_32khz / snac_44khz, for benchmarks and tests.
 * Usage: make_snac_model 24khz|32khz|44khz OUT_DIR
 * Tensor names follow the published checkpoints (weight norm as parametrizations.weight.original0 = g (out,1,1)
 * and original1 = v). Scales keep activations O(1): v ~ N(0,1) and g set so each output channel has unit gain
 * (strided/1x1/k7 convs: g = 1; transposed convs: g = sqrt(stride/2), since each output sees 2 of the 2*stride
 * taps of in = 2*out channels; residual-unit output convs g = 0.5), Snake alpha ~ U(0.5, 1.5), biases ~ U(+-0.05),
 * codebooks ~ N(0,1), attention projections ~ N(0, 1/dim). Each tensor's values come from a generator seeded by
 * a hash of its name, so the files are reproducible. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct arch {
    const char *name;
    int sampling_rate, encoder_dim, n_rates, encoder_rates[4], decoder_dim, decoder_rates[4], attn_window;
    int codebook_size, codebook_dim, n_levels, vq_strides[4];
} arch;

static const arch ARCHS[] = {
    {"24khz", 24000, 48, 4, {2, 4, 8, 8}, 1024, {8, 8, 4, 2}, 0, 4096, 8, 3, {4, 2, 1}},
    {"32khz", 32000, 64, 4, {2, 3, 8, 8}, 1536, {8, 8, 3, 2}, 32, 4096, 8, 4, {8, 4, 2, 1}},
    {"44khz", 44100, 64, 4, {2, 3, 8, 8}, 1536, {8, 8, 3, 2}, 32, 4096, 8, 4, {8, 4, 2, 1}},
};

/* ---- deterministic values ---- */
typedef enum { FILL_NORMAL, FILL_UNIFORM, FILL_CONST, FILL_INV_FREQ } fill_kind;

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s; x ^= x << 13; x ^= x >> 7; x ^= x << 17; return *s = x;
}
static double rng_uniform(uint64_t *s) { return ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* ---- the tensor list: pass 0 collects names and shapes, pass 1 writes data ---- */
typedef struct tensor {
    char name[128];
    int ndim;
    int64_t shape[3];
    fill_kind kind;
    float a, b;              /* normal: std; uniform: [a, b); const: a */
} tensor;

typedef struct model_writer {
    tensor *t;
    size_t n, cap;
} model_writer;

/* dst = a + b, truncated to cap (names here are < 100 characters). */
static const char *join(char *dst, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > cap - 1) la = cap - 1;
    if (lb > cap - 1 - la) lb = cap - 1 - la;
    memcpy(dst, a, la);
    memcpy(dst + la, b, lb);
    dst[la + lb] = 0;
    return dst;
}

static void add(model_writer *w, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, fill_kind kind,
                float a, float b) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->t = realloc(w->t, w->cap * sizeof *w->t);
        if (!w->t) { fprintf(stderr, "make_snac_model: out of memory\n"); exit(1); }
    }
    tensor *t = &w->t[w->n++];
    join(t->name, sizeof t->name, name, "");
    t->ndim = ndim;
    t->shape[0] = d0; t->shape[1] = d1; t->shape[2] = d2;
    t->kind = kind; t->a = a; t->b = b;
}

/* weight-normed conv: v (out, in/groups, k) ~ N(0,1), g (out,1,1) = gain, optional bias */
static void add_conv(model_writer *w, const char *prefix, int in, int out, int k, int groups, int bias, float gain) {
    char name[160];
    if (bias) { add(w, join(name, sizeof name, prefix, ".bias"), 1, out, 0, 0, FILL_UNIFORM, -0.05f, 0.05f); }
    add(w, join(name, sizeof name, prefix, ".parametrizations.weight.original0"), 3, out, 1, 1, FILL_CONST, gain, 0);
    add(w, join(name, sizeof name, prefix, ".parametrizations.weight.original1"), 3, out, in / groups, k, FILL_NORMAL, 1, 0);
}

static void add_alpha(model_writer *w, const char *prefix, int dim) {
    char name[160];
    add(w, join(name, sizeof name, prefix, ".alpha"), 3, 1, dim, 1, FILL_UNIFORM, 0.5f, 1.5f);
}

static void add_residual_unit(model_writer *w, const char *prefix, int dim, int groups) {
    char p[160];
    join(p, sizeof p, prefix, ".block.0"); add_alpha(w, p, dim);
    join(p, sizeof p, prefix, ".block.1"); add_conv(w, p, dim, dim, 7, groups, 1, 1.0f);
    join(p, sizeof p, prefix, ".block.2"); add_alpha(w, p, dim);
    join(p, sizeof p, prefix, ".block.3"); add_conv(w, p, dim, dim, 1, 1, 1, 0.5f);
}

static void add_local_mha(model_writer *w, const char *prefix, int dim) {
    char p[160];
    float sd = 1.0f / sqrtf((float)dim);
    add(w, join(p, sizeof p, prefix, ".norm.weight"), 1, dim, 0, 0, FILL_CONST, 1, 0);
    add(w, join(p, sizeof p, prefix, ".norm.bias"), 1, dim, 0, 0, FILL_CONST, 0, 0);
    add(w, join(p, sizeof p, prefix, ".to_qkv.weight"), 2, 3 * dim, dim, 0, FILL_NORMAL, sd, 0);
    add(w, join(p, sizeof p, prefix, ".rel_pos.inv_freq"), 1, 32, 0, 0, FILL_INV_FREQ, 64, 0);
    add(w, join(p, sizeof p, prefix, ".to_out.weight"), 2, dim, dim, 0, FILL_NORMAL, sd, 0);
}

static void build(model_writer *w, const arch *A) {
    char p[160];
    int d = A->encoder_dim, idx = 0;
    /* encoder */
    add_conv(w, "encoder.block.0", 1, d, 7, 1, 1, 1.0f);
    for (int i = 0; i < A->n_rates; i++) {
        int out = d * 2, s = A->encoder_rates[i];
        idx = i + 1;
        for (int u = 0; u < 3; u++) {
            snprintf(p, sizeof p, "encoder.block.%d.block.%d", idx, u);
            add_residual_unit(w, p, d, d);
        }
        snprintf(p, sizeof p, "encoder.block.%d.block.3", idx); add_alpha(w, p, d);
        snprintf(p, sizeof p, "encoder.block.%d.block.4", idx); add_conv(w, p, d, out, 2 * s, 1, 1, 1.0f);
        d = out;
    }
    idx++;
    if (A->attn_window) {
        snprintf(p, sizeof p, "encoder.block.%d", idx++);
        add_local_mha(w, p, d);
    }
    snprintf(p, sizeof p, "encoder.block.%d", idx); add_conv(w, p, d, d, 7, d, 1, 1.0f);
    int latent = d;
    /* quantizer */
    for (int l = 0; l < A->n_levels; l++) {
        snprintf(p, sizeof p, "quantizer.quantizers.%d.in_proj", l); add_conv(w, p, latent, A->codebook_dim, 1, 1, 1, 1.0f);
        snprintf(p, sizeof p, "quantizer.quantizers.%d.out_proj", l); add_conv(w, p, A->codebook_dim, latent, 1, 1, 1, 1.0f);
        snprintf(p, sizeof p, "quantizer.quantizers.%d.codebook.weight", l);
        add(w, p, 2, A->codebook_size, A->codebook_dim, 0, FILL_NORMAL, 1, 0);
    }
    /* decoder */
    add_conv(w, "decoder.model.0", latent, latent, 7, latent, 1, 1.0f);
    add_conv(w, "decoder.model.1", latent, A->decoder_dim, 1, 1, 1, 1.0f);
    idx = 2;
    if (A->attn_window) {
        snprintf(p, sizeof p, "decoder.model.%d", idx++);
        add_local_mha(w, p, A->decoder_dim);
    }
    int out = A->decoder_dim;
    for (int i = 0; i < A->n_rates; i++, idx++) {
        int in = A->decoder_dim >> i, s = A->decoder_rates[i];
        out = A->decoder_dim >> (i + 1);
        snprintf(p, sizeof p, "decoder.model.%d.block.0", idx); add_alpha(w, p, in);
        /* transposed conv: weight (in, out, k), g over dim 0 (in, 1, 1) */
        snprintf(p, sizeof p, "decoder.model.%d.block.1.bias", idx); add(w, p, 1, out, 0, 0, FILL_UNIFORM, -0.05f, 0.05f);
        snprintf(p, sizeof p, "decoder.model.%d.block.1.parametrizations.weight.original0", idx);
        add(w, p, 3, in, 1, 1, FILL_CONST, sqrtf(s / 2.0f), 0);
        snprintf(p, sizeof p, "decoder.model.%d.block.1.parametrizations.weight.original1", idx);
        add(w, p, 3, in, out, 2 * s, FILL_NORMAL, 1, 0);
        snprintf(p, sizeof p, "decoder.model.%d.block.2.linear", idx); add_conv(w, p, out, out, 1, 1, 0, 0.1f);
        for (int u = 0; u < 3; u++) {
            snprintf(p, sizeof p, "decoder.model.%d.block.%d", idx, u + 3);
            add_residual_unit(w, p, out, out);
        }
    }
    snprintf(p, sizeof p, "decoder.model.%d", idx++); add_alpha(w, p, out);
    snprintf(p, sizeof p, "decoder.model.%d", idx); add_conv(w, p, out, 1, 7, 1, 1, 1.0f);
}

static int64_t numel(const tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static uint64_t name_seed(const char *s) {
    uint64_t h = 1469598103934665603ull;   /* FNV-1a, then a fixed offset: the tool's seed */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ^ 0x5eed2024ull ? h ^ 0x5eed2024ull : 1;
}

static void fill(const tensor *t, float *x) {
    int64_t n = numel(t);
    uint64_t s = name_seed(t->name);
    for (int64_t i = 0; i < n; i++) {
        switch (t->kind) {
        case FILL_NORMAL: {
            double u1 = rng_uniform(&s), u2 = rng_uniform(&s);
            x[i] = (float)(t->a * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
            break;
        }
        case FILL_UNIFORM: x[i] = (float)(t->a + (t->b - t->a) * rng_uniform(&s)); break;
        case FILL_CONST: x[i] = t->a; break;
        case FILL_INV_FREQ: x[i] = (float)(1.0 / pow(10000.0, (2.0 * i) / t->a)); break;
        }
    }
}

static int write_config(const char *dir, const arch *A) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "make_snac_model: cannot write %s: %s\n", path, strerror(errno)); return 1; }
    fprintf(f, "{\n  \"sampling_rate\": %d,\n  \"encoder_dim\": %d,\n  \"encoder_rates\": [%d, %d, %d, %d],\n"
               "  \"latent_dim\": null,\n  \"decoder_dim\": %d,\n  \"decoder_rates\": [%d, %d, %d, %d],\n",
            A->sampling_rate, A->encoder_dim, A->encoder_rates[0], A->encoder_rates[1], A->encoder_rates[2],
            A->encoder_rates[3], A->decoder_dim, A->decoder_rates[0], A->decoder_rates[1], A->decoder_rates[2],
            A->decoder_rates[3]);
    if (A->attn_window) fprintf(f, "  \"attn_window_size\": %d,\n", A->attn_window);
    else fprintf(f, "  \"attn_window_size\": null,\n");
    fprintf(f, "  \"codebook_size\": %d,\n  \"codebook_dim\": %d,\n  \"vq_strides\": [", A->codebook_size, A->codebook_dim);
    for (int l = 0; l < A->n_levels; l++) fprintf(f, "%s%d", l ? ", " : "", A->vq_strides[l]);
    fprintf(f, "],\n  \"noise\": true,\n  \"depthwise\": true\n}\n");
    return fclose(f) ? 1 : 0;
}

static int write_safetensors(const char *dir, const model_writer *w) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    /* header */
    size_t cap = 256 + w->n * 256, len = 0;
    char *hdr = malloc(cap);
    if (!hdr) return 1;
    len += (size_t)snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    int64_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const tensor *t = &w->t[i];
        int64_t bytes = numel(t) * 4;
        len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t->name);
        for (int d = 0; d < t->ndim; d++) len += (size_t)snprintf(hdr + len, cap - len, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        len += (size_t)snprintf(hdr + len, cap - len, "],\"data_offsets\":[%lld,%lld]}", (long long)off, (long long)(off + bytes));
        off += bytes;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "make_snac_model: cannot write %s: %s\n", path, strerror(errno)); free(hdr); return 1; }
    uint64_t hlen = len;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hlen >> (8 * i));
    int bad = fwrite(le, 1, 8, f) != 8 || fwrite(hdr, 1, len, f) != len;
    free(hdr);
    for (size_t i = 0; i < w->n && !bad; i++) {
        int64_t n = numel(&w->t[i]);
        float *x = malloc((size_t)n * sizeof(float));
        if (!x) { bad = 1; break; }
        fill(&w->t[i], x);
        bad = fwrite(x, sizeof(float), (size_t)n, f) != (size_t)n;   /* little-endian host (x86-64, arm64) */
        free(x);
    }
    if (fclose(f)) bad = 1;
    if (bad) fprintf(stderr, "make_snac_model: writing %s failed: %s\n", path, strerror(errno));
    return bad;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_snac_model 24khz|32khz|44khz OUT_DIR\n");
        return 2;
    }
    const arch *A = NULL;
    for (size_t i = 0; i < sizeof ARCHS / sizeof *ARCHS; i++)
        if (!strcmp(argv[1], ARCHS[i].name)) A = &ARCHS[i];
    if (!A) {
        fprintf(stderr, "make_snac_model: unknown architecture '%s' (expected 24khz, 32khz or 44khz)\n", argv[1]);
        return 2;
    }
    if (mkdir(argv[2], 0755) && errno != EEXIST) {
        fprintf(stderr, "make_snac_model: cannot create %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    model_writer w = {0};
    build(&w, A);
    int64_t params = 0;
    for (size_t i = 0; i < w.n; i++) params += numel(&w.t[i]);
    int rc = write_config(argv[2], A) || write_safetensors(argv[2], &w);
    if (!rc) fprintf(stderr, "make_snac_model: wrote %s (snac_%s, %zu tensors, %lld parameters)\n", argv[2], A->name,
                     w.n, (long long)params);
    free(w.t);
    return rc;
}
