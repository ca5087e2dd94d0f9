/* cmd_serve.c: `snacrt serve`: the OpenAI-compatible text-to-speech HTTP server (host/serve/http_server.h) over
 * the TTS engine. Loads the models, serves until SIGINT/SIGTERM, then stops gracefully (stop accepting, cancel
 * what runs, join) and exits 0. One log line per request on stderr. Exit codes: 0 ok, 1 failure, 2 bad arguments. */
#include "snacrt.h"
#include "snacrt_serve.h"
#include "snacrt_tts.h"
#include "cli/cli_common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: snacrt serve -m LM_DIR --codec SNAC_DIR [options]\n"
    "  --host ADDR               numeric IPv4/IPv6 address to bind (default 127.0.0.1: local clients only)\n"
    "  --port N                  TCP port (default 8000; 0 = any free port, printed at start)\n"
    "  --api-key KEY             require 'Authorization: Bearer KEY' on /v1/ (default: $SNACRT_API_KEY if set)\n"
    "  --layout NAME|PATH        token layout: orpheus, laion-flat or a .json file\n"
    "  --device cpu|cpu-ref|cuda[:N]  --threads N   compute backend and CPU threads\n"
    "  --lm-precision bf16|exact the LM on bf16 weights (cpu, cuda): bf16 activations (default) or f32-level\n"
    "  --lm-weights stored|int8  LM Linear weights as stored or int8 per channel (cpu-ref, cuda)\n"
    "  --devices LIST            replicas over several devices behind this one server: cuda:0-3, cuda:0,1,4,5\n"
    "                            (each --tp consecutive devices are one replica), or cpu with --replicas\n"
    "  --tp N                    tensor-parallel ranks per replica (default 1)\n"
    "  --replicas N              engine replicas (cpu: thread groups of --threads / N; default 1)\n"
    "  --max-running N           streams generated together (default 16)\n"
    "  --max-queue N             waiting requests before 503 (default 256)\n"
    "  --max-tokens N            default and upper bound of a request's max_tokens (default 1200)\n"
    "  --max-input-chars N       longest input text in characters (default 4096)\n"
    "  --max-audio-bytes N       largest audio prompt file sent in a request's \"audio\" field (base64), in\n"
    "                            bytes (default 4194304; 0 = the field is refused)\n"
    "  --served-model-name NAME  a name a request's \"model\" may use, listed in /v1/models (repeatable, e.g.\n"
    "                            gpt-4o-mini-tts; default tts-1 and tts-1-hd); the LM folder's name is always\n"
    "                            accepted; any other model gets 404 model_not_found. --model-name: the same\n"
    "  --cors-origin ORIGIN      allow browser pages from ORIGIN (or *) to call the API: CORS headers on every\n"
    "                            response, OPTIONS preflight answered (default: off)\n"
    "  --temperature T --top-p P --repetition-penalty R --seed S   sampling defaults (0.6, 0.8, 1.1, 0)\n"
    "  --http-threads N          HTTP polling threads (default 2)\n"
    "  --stream-buffer-max BYTES unsent audio a streaming client may fall behind before its request is\n"
    "                            cancelled (default 8388608)\n"
    "  --timeout S               idle connection timeout in seconds (default 60)\n"
    "  --header-timeout S        a connection must send a whole request head within S seconds (default 10)\n"
    "  --body-timeout S          and a request body within S seconds of its head (default 60)\n"
    "  --max-connections N       open connections at most (default 512)\n"
    "  --max-connections-per-client N  open connections per client IP address (default 128)\n"
    "  --max-audio-seconds S     longest audio prompt, checked from the file's header before decoding (default 600)\n"
    "Endpoints: POST /v1/audio/speech, GET /v1/models[/ID], /v1/voices, /health, /metrics, / (a web page).\n";

static void log_stderr(void *user, const char *line) {
    (void)user;
    fprintf(stderr, "snacrt serve: %s\n", line);
}

/* The last component of a path ("models/orpheus/" -> "orpheus"), into buf. */
static const char *base_name(const char *path, char *buf, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    size_t len = n - b < cap - 1 ? n - b : cap - 1;
    memcpy(buf, path + b, len);
    buf[len] = 0;
    return buf;
}

int srt_cmd_serve(int argc, char **argv) {
    srt_tts_config ecfg;
    srt_tts_config_defaults(&ecfg);
    srt_http_config hcfg;
    memset(&hcfg, 0, sizeof hcfg);
    hcfg.host = "127.0.0.1";
    hcfg.port = 8000;
    hcfg.api_key = getenv("SNACRT_API_KEY");
    const char *served[17] = {NULL};
    int n_served = 0;
    int max_input_chars = 4096;
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(USAGE, stdout); return 0; }
        static const char *const flags[] = {
            "-m", "--model", "--codec", "--host", "--port", "--api-key", "--layout", "--device", "--threads",
            "--max-running", "--max-queue", "--max-tokens", "--max-input-chars", "--model-name", "--temperature",
            "--top-p", "--repetition-penalty", "--seed", "--http-threads", "--stream-buffer-max", "--timeout",
            "--max-audio-bytes", "--header-timeout", "--body-timeout", "--max-connections",
            "--max-connections-per-client", "--max-audio-seconds", "--served-model-name", "--cors-origin", "--devices",
            "--tp", "--replicas", "--lm-precision", "--lm-weights"};
        int f = -1;
        for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]) && f < 0; k++)
            if (cli_flag_value(argc, argv, &i, flags[k], &val)) f = k;
        if (f < 0) return cli_unknown_option("serve", USAGE, a);
        if (!val) return cli_usage_error("serve", USAGE, "%s needs a value", a);
        int bad = 0;
        switch (f) {
        case 0: case 1: ecfg.lm_dir = val; break;
        case 2: ecfg.codec_dir = val; break;
        case 3: hcfg.host = val; break;
        case 4: bad = cli_parse_int(val, 0, 65535, &v); hcfg.port = (int)v; break;
        case 5: hcfg.api_key = val; break;
        case 6: ecfg.layout = val; break;
        case 7: ecfg.backend = val; break;
        case 8: bad = cli_parse_int(val, 1, 1024, &v); ecfg.n_threads = (int)v; break;
        case 9: bad = cli_parse_int(val, 1, 4096, &v); ecfg.max_running = (int)v; break;
        case 10: bad = cli_parse_int(val, 1, 1 << 20, &v); ecfg.max_queue = (int)v; break;
        case 11: bad = cli_parse_int(val, 1, 1 << 20, &v); ecfg.sampling.max_tokens = (int)v; break;
        case 12: bad = cli_parse_int(val, 1, 1 << 20, &v); max_input_chars = (int)v; break;
        case 13: case 27:
            if (n_served == 16) return cli_usage_error("serve", USAGE, "at most 16 --served-model-name");
            served[n_served++] = val;
            bad = !*val;
            break;
        case 28: hcfg.cors_origin = val; bad = !*val; break;
        case 29: ecfg.devices = val; bad = !*val; break;
        case 30: bad = cli_parse_int(val, 1, 64, &v); ecfg.tp = (int)v; break;
        case 31: bad = cli_parse_int(val, 1, 64, &v); ecfg.replicas = (int)v; break;
        case 32: ecfg.lm_precision = val; bad = cli_check_lm_precision(val); break;
        case 33: ecfg.lm_weights = val; bad = cli_check_lm_weights(val); break;
        case 14: bad = cli_parse_float(val, &ecfg.sampling.temperature) || !(ecfg.sampling.temperature >= 0); break;
        case 15: bad = cli_parse_float(val, &ecfg.sampling.top_p) || !(ecfg.sampling.top_p >= 0 && ecfg.sampling.top_p <= 1);
            break;
        case 16: bad = cli_parse_float(val, &ecfg.sampling.repetition_penalty) || !(ecfg.sampling.repetition_penalty > 0);
            break;
        case 17: bad = cli_parse_int(val, 0, INT64_MAX, &v); ecfg.sampling.seed = (uint64_t)v; break;
        case 18: bad = cli_parse_int(val, 1, 64, &v); hcfg.n_threads = (int)v; break;
        case 19: bad = cli_parse_int(val, 4096, (long long)1 << 40, &v); hcfg.stream_buffer_max = (size_t)v; break;
        case 20: bad = cli_parse_int(val, 1, 86400, &v); hcfg.connection_timeout_s = (int)v; break;
        case 21: bad = cli_parse_int(val, 0, (long long)1 << 32, &v); hcfg.max_audio_bytes = v ? v : -1; break;
        case 22: bad = cli_parse_int(val, 1, 86400, &v); hcfg.header_timeout_s = (int)v; break;
        case 23: bad = cli_parse_int(val, 1, 86400, &v); hcfg.body_timeout_s = (int)v; break;
        case 24: bad = cli_parse_int(val, 1, 1 << 20, &v); hcfg.max_connections = (int)v; break;
        case 25: bad = cli_parse_int(val, 1, 1 << 20, &v); hcfg.max_connections_per_client = (int)v; break;
        case 26: {
            float sec = 0;
            bad = cli_parse_float(val, &sec) || !(sec > 0 && sec <= 86400);
            hcfg.max_audio_seconds = sec;
            break;
        }
        }
        if (bad) return cli_usage_error("serve", USAGE, "bad value for %s: '%s'", a, val);
    }
    if (!ecfg.lm_dir || !ecfg.codec_dir) return cli_usage_error("serve", USAGE, "need -m LM_DIR and --codec SNAC_DIR");
    if (cli_check_model_dir("serve", "-m", ecfg.lm_dir, CLI_DIR_LM) ||
        cli_check_model_dir("serve", "--codec", ecfg.codec_dir, CLI_DIR_SNAC))
        return 1;
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, hcfg.host, addr) != 1 && inet_pton(AF_INET6, hcfg.host, addr) != 1)
        return cli_usage_error("serve", USAGE, "--host '%s': not a numeric IPv4 or IPv6 address", hcfg.host);
    /* the engine counts bytes, the server characters: a character is at most 4 UTF-8 bytes */
    ecfg.max_input_chars = max_input_chars > (1 << 28) ? 1 << 30 : max_input_chars * 4;
    hcfg.max_input_chars = max_input_chars;
    hcfg.max_tokens = ecfg.sampling.max_tokens;

    /* SIGINT/SIGTERM are taken by sigwait below: block them before any thread starts (threads inherit the mask) */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    srt_tts_engine *engine = NULL;
    srt_status st = srt_tts_engine_create(&ecfg, &engine);
    if (st != SRT_OK) return cli_fail("serve", st);
    char name_buf[128];
    hcfg.model_id = base_name(ecfg.lm_dir, name_buf, sizeof name_buf);
    hcfg.served_model_names = served;
    hcfg.codec_dir = ecfg.codec_dir;           /* POST /v1/codec/encode|decode */
    hcfg.sampling = ecfg.sampling;
    hcfg.log = log_stderr;
    srt_http_server *server = NULL;
    st = srt_http_server_start(engine, &hcfg, &server);
    if (st != SRT_OK) {
        int rc = cli_fail("serve", st);
        srt_tts_engine_free(engine);
        return rc;
    }
    int n_voices = 0;
    for (const char *const *vv = srt_tts_voices(engine); vv && *vv; vv++) n_voices++;
    int v6 = strchr(hcfg.host, ':') != NULL;
    for (int k = 0; k < srt_tts_replica_count(engine); k++) {
        srt_tts_replica_info ri;
        if (srt_tts_get_replica_info(engine, k, &ri) == SRT_OK)
            fprintf(stderr, "snacrt serve: replica %d on %s (KV %lld tokens)\n", k, ri.devices,
                    (long long)ri.kv_capacity_tokens);
    }
    fprintf(stderr, "snacrt serve: listening on http://%s%s%s:%d/ (model %s, %d voices, %d Hz%s)\n", v6 ? "[" : "",
            hcfg.host, v6 ? "]" : "", srt_http_server_port(server), n_served ? served[0] : hcfg.model_id, n_voices,
            srt_tts_sample_rate(engine), hcfg.api_key && hcfg.api_key[0] ? ", API key required" : "");
    fflush(stderr);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {}
    fprintf(stderr, "snacrt serve: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);   /* a second signal ends the process at once */
    srt_http_server_stop(server, 5000);
    srt_tts_engine_free(engine);
    srt_http_server_free(server);
    fprintf(stderr, "snacrt serve: stopped\n");
    return 0;
}
