/* bench_sequences.c: speed of `snacrt tokenize --sequences` (srt_ds_run) per task, printed as one JSON object:
 * items/s, sequences/s and tokens/s for tts and asr (audio in: --items speech-like clips of 0.5..2 s at 24 kHz
 * with texts, through a manifest), interleave (--docs text lines of 4 sentences, --audio-rate of them spoken) and
 * dialog (--docs chats of 4 turns, both roles spoken), plus plain tokenization of the same clips (no sequences) to
 * show what building the sequences adds. Tokens and sequences are counted from the written .seq.idx files. The
 * wall time of a run includes listing, loading the models and writing (single worker: the index too).
 * Models: --snac DIR (default tests/data/snac/tiny24) encodes; --lm DIR (default tests/data/llama/tiny-orpheus)
 * gives the tokenizer and speaks for interleave/dialog (--tts-max-tokens, default 56 per span). With the tiny
 * models the figures measure the pipeline (synthesis, framing, packing, files), not a real model's speed.
 * Usage: bench_sequences [--snac DIR] [--lm DIR] [--items 64] [--docs 16] [--audio-rate 0.25] [--threads 0]
 *                        [--tts-max-tokens 56] [--pack [--seq-len 2048]] [--keep]
 * (without --pack one sequence per document, so tokens are the documents' own; with it padding counts too)
 * Run from the source root: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench_sequences */
#include "snacrt.h"
#include "bench_common.h"
#include "snacrt_audio.h"
#include "snacrt_dataset.h"
#include <ftw.h>
#include <sys/resource.h>

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Sequences and tokens of every <shard>.seq.idx in dir (the header: magic, n_seqs, n_tokens). */
static void count_seq(const char *dir, int64_t n_shards, int64_t *seqs, int64_t *tokens) {
    *seqs = *tokens = 0;
    for (int64_t k = 0; k < n_shards; k++) {
        char name[128], path[PATH_MAX + 256];
        srt_ds_shard_name(0, 1, k, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s.seq.idx", dir, name);
        FILE *f = fopen(path, "rb");
        uint64_t head[3] = {0, 0, 0};
        if (f && fread(head, 8, 3, f) == 3) { *seqs += (int64_t)head[1]; *tokens += (int64_t)head[2]; }
        if (f) fclose(f);
    }
}

typedef struct task_result { const char *task; int64_t items, errors, seqs, tokens; double wall; int ok; } task_result;

static task_result run(const char *task, int seq_task, int sequences, const char *snac, const char *lm,
                       const char *input, const char *out, int threads, double audio_rate, int max_tokens,
                       int64_t seq_len, int pack) {
    task_result r = {task, 0, 0, 0, 0, 0, 0};
    srt_ds_run_options o;
    srt_ds_run_defaults(&o);
    const char *inputs[1] = {input};
    o.model_dir = snac;
    o.out_dir = out;
    o.inputs = inputs;
    o.n_inputs = 1;
    o.n_threads = threads;
    o.shard_size = 64;
    if (sequences) {
        o.seq_layout = "orpheus";
        o.seq_tokenizer = lm;
        o.seq_task = seq_task;
        o.seq_len = pack ? seq_len : 0;
        o.seq_pack = pack;
        o.synth_audio_rate = audio_rate;
        o.synth_seed = 1;
        o.synth_max_tokens = max_tokens;
        o.synth_temperature = 1;
        o.synth_top_p = 0.95;
        o.synth_voices = seq_task == SRT_DS_TASK_DIALOG ? "leo,tara" : "tara,leo,mia";
        if (seq_task == SRT_DS_TASK_ASR) o.seq_layout = "asr";
    }
    srt_ds_summary s;
    double t0 = now_s();
    srt_status st = srt_ds_run(&o, &s);
    r.wall = now_s() - t0;
    if (st != SRT_OK) { fprintf(stderr, "bench_sequences: %s: %s\n", task, srt_last_error()); return r; }
    r.ok = 1;
    r.items = s.progress.units_total - s.progress.errors;
    r.errors = s.progress.errors;
    if (sequences) count_seq(out, s.progress.shards_total, &r.seqs, &r.tokens);
    return r;
}

int main(int argc, char **argv) {
    const char *snac = "tests/data/snac/tiny24", *lm = "tests/data/llama/tiny-orpheus";
    int n_items = 64, n_docs = 16, threads = 0, max_tokens = 56, keep = 0, pack = 0;
    double audio_rate = 0.25;
    long long seq_len = 2048;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--snac") && v) { snac = v; i++; }
        else if (!strcmp(a, "--lm") && v) { lm = v; i++; }
        else if (!strcmp(a, "--items") && v) { n_items = atoi(v); i++; }
        else if (!strcmp(a, "--docs") && v) { n_docs = atoi(v); i++; }
        else if (!strcmp(a, "--audio-rate") && v) { audio_rate = atof(v); i++; }
        else if (!strcmp(a, "--threads") && v) { threads = atoi(v); i++; }
        else if (!strcmp(a, "--tts-max-tokens") && v) { max_tokens = atoi(v); i++; }
        else if (!strcmp(a, "--seq-len") && v) { seq_len = atoll(v); i++; }
        else if (!strcmp(a, "--pack")) pack = 1;
        else if (!strcmp(a, "--keep")) keep = 1;
        else {
            fprintf(stderr, "usage: bench_sequences [--snac DIR] [--lm DIR] [--items N] [--docs N] [--audio-rate R] "
                            "[--threads N] [--tts-max-tokens N] [--pack [--seq-len N]] [--keep]\n");
            return 2;
        }
    }
    char tmpl[] = "/tmp/bench_sequences_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) { perror("mkdtemp"); return 1; }
    char path[PATH_MAX + 64], man[PATH_MAX + 64], corpus[PATH_MAX + 64], chats[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/clips", dir);
    mkdir(path, 0755);
    snprintf(man, sizeof man, "%s/manifest.jsonl", dir);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    snprintf(chats, sizeof chats, "%s/chats.jsonl", dir);
    FILE *fm = fopen(man, "w"), *fc = fopen(corpus, "w"), *fd = fopen(chats, "w");
    if (!fm || !fc || !fd) { perror("bench_sequences"); return 1; }
    static const char *words[] = {"hello", "world", "river", "morning", "quiet", "yellow", "train", "garden"};
    double audio_s = 0;
    for (int i = 0; i < n_items; i++) {
        int64_t n = 12000 + (int64_t)(i * 7919 % 36000);
        float *x = malloc(sizeof *x * (size_t)n);
        if (!x) return 1;
        speech_like(x, n, 24000, (uint64_t)i + 1);
        char clip[PATH_MAX + 96];
        snprintf(clip, sizeof clip, "%s/clips/c%04d.wav", dir, i);
        if (srt_audio_write(clip, x, n, 24000, SRT_AUDIO_S16) != SRT_OK) { fprintf(stderr, "%s\n", srt_last_error()); return 1; }
        free(x);
        audio_s += n / 24000.0;
        fprintf(fm, "{\"path\":\"clips/c%04d.wav\",\"text\":\"Item %d says %s %s.\"}\n", i, i, words[i % 8],
                words[(i * 3 + 1) % 8]);
    }
    for (int i = 0; i < n_docs; i++) {
        fprintf(fc, "The %s %s is here. A %s %s came by! Was it %s? It was %s.\n", words[i % 8],
                words[(i + 1) % 8], words[(i + 2) % 8], words[(i + 3) % 8], words[(i + 4) % 8], words[(i + 5) % 8]);
        fprintf(fd, "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about the %s.\"},{\"role\":\"assistant\","
                    "\"content\":\"It is %s.\"},{\"role\":\"user\",\"content\":\"And the %s?\"},"
                    "{\"role\":\"assistant\",\"content\":\"Very %s indeed.\"}]}\n",
                words[i % 8], words[(i + 2) % 8], words[(i + 5) % 8], words[(i + 6) % 8]);
    }
    fclose(fm); fclose(fc); fclose(fd);

    struct { const char *name; int task, sequences; const char *input; } runs[] = {
        {"tokenize (no sequences)", SRT_DS_TASK_TTS, 0, man},
        {"tts", SRT_DS_TASK_TTS, 1, man},
        {"asr", SRT_DS_TASK_ASR, 1, man},
        {"interleave", SRT_DS_TASK_INTERLEAVE, 1, corpus},
        {"dialog", SRT_DS_TASK_DIALOG, 1, chats},
    };
    int n_runs = (int)(sizeof runs / sizeof *runs);
    task_result res[8];
    for (int i = 0; i < n_runs; i++) {
        char out[PATH_MAX + 64];
        snprintf(out, sizeof out, "%s/out%d", dir, i);
        res[i] = run(runs[i].name, runs[i].task, runs[i].sequences, snac, lm, runs[i].input, out, threads, audio_rate,
                     max_tokens, seq_len, pack);
        fprintf(stderr, "bench_sequences: %s: %.2f s\n", runs[i].name, res[i].wall);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"snac\":\"%s\",\"lm\":\"%s\",\"items\":%d,\"audio_seconds\":%.2f,\"docs\":%d,\"audio_rate\":%g,"
           "\"tts_max_tokens\":%d,\"seq_len\":%lld,\"pack\":%s,\"runs\":[", snac, lm, n_items, audio_s, n_docs,
           audio_rate, max_tokens, pack ? seq_len : 0, pack ? "true" : "false");
    int failed = 0;
    for (int i = 0; i < n_runs; i++) {
        task_result *r = &res[i];
        failed |= !r->ok;
        printf("%s{\"task\":\"%s\",\"ok\":%s,\"items\":%lld,\"errors\":%lld,\"sequences\":%lld,\"tokens\":%lld,"
               "\"wall_s\":%.3f,\"items_per_s\":%.2f,\"sequences_per_s\":%.2f,\"tokens_per_s\":%.1f}", i ? "," : "",
               r->task, r->ok ? "true" : "false", (long long)r->items, (long long)r->errors, (long long)r->seqs,
               (long long)r->tokens, r->wall, r->items / r->wall, r->seqs / r->wall, r->tokens / r->wall);
    }
    printf("],\"peak_rss_mb\":%.1f}\n", ru.ru_maxrss / 1024.0);
    if (!keep) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else fprintf(stderr, "bench_sequences: kept %s\n", dir);
    return failed;
}
