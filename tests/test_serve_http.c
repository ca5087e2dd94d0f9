/* test_serve_http.c: the pure parts of `snacrt serve` without an engine or sockets: routing, the bearer check,
 * UTF-8 validation, base64, speech request parsing/validation (every 400 case; the "audio" field: a WAV in base64
 * decoded to its samples, bad base64, undecodable audio, too large -> 413), sampling defaults, the WAV header, whole
 * bodies in wav/pcm/flac (flac decoded back to the same 16-bit samples), JSON documents, the Prometheus text
 * (format checked line by line, histogram cumulative), and the embedded page equal to web/index.html. */
#include "serve/http_server.h"
#include "snacrt_audio.h"
#include "testutil.h"
#include <cjson/cJSON.h>
#include <ctype.h>

static const char *const VOICES[] = {"tara", "leo", NULL};
static const char *const MODELS[] = {"tiny", "tts-1", NULL};
static const char *const ALIASES[] = {"alloy", "tara", "onyx", "leo", NULL};
static const srt_speech_limits LIM = {VOICES, MODELS, 10, 84, 0, 0, 0, ALIASES};
static const srt_speech_limits LIM_AUDIO = {VOICES, MODELS, 10, 84, 65536, 0, 0, ALIASES};

/* Parse a body; returns the HTTP status (200 when accepted) and leaves the request in *out (caller frees). */
static int parse(const char *body, srt_speech_request *out, srt_http_error *err) {
    memset(err, 0, sizeof *err);
    int rc = srt_speech_request_parse(body, strlen(body), &LIM, out, err);
    return rc ? err->status : 200;
}

static void expect_400(const char *body, const char *needle) {
    srt_speech_request r;
    srt_http_error err;
    int status = parse(body, &r, &err);
    TEST_CHECK(status == 400, "body %s: status %d, want 400", body, status);
    TEST_CHECK(err.type && !strcmp(err.type, "invalid_request_error"), "body %s: type %s", body,
               err.type ? err.type : "(null)");
    TEST_CHECK(strstr(err.message, needle) != NULL, "body %s: message '%s' lacks '%s'", body, err.message, needle);
    srt_speech_request_free(&r);
}

static void test_routes(void) {
    const char *allow;
    srt_http_error err;
    struct { const char *m, *p; srt_http_route want; int status; } cases[] = {
        {"GET", "/", SRT_ROUTE_PAGE, 0}, {"HEAD", "/", SRT_ROUTE_PAGE, 0},
        {"GET", "/health", SRT_ROUTE_HEALTH, 0}, {"GET", "/metrics", SRT_ROUTE_METRICS, 0},
        {"GET", "/v1/models", SRT_ROUTE_MODELS, 0}, {"GET", "/v1/voices", SRT_ROUTE_VOICES, 0},
        {"POST", "/v1/audio/speech", SRT_ROUTE_SPEECH, 0},
        {"GET", "/v1/audio/speech", SRT_ROUTE_NONE, 405}, {"POST", "/health", SRT_ROUTE_NONE, 405},
        {"DELETE", "/v1/models", SRT_ROUTE_NONE, 405}, {"GET", "/nope", SRT_ROUTE_NONE, 404},
        {"POST", "/v1/audio/speech/", SRT_ROUTE_NONE, 404}, {"GET", "", SRT_ROUTE_NONE, 404},
        {"POST", "/v1/chat/completions", SRT_ROUTE_CHAT, 0}, {"GET", "/v1/chat/completions", SRT_ROUTE_NONE, 405},
        {"POST", "/v1/audio/transcriptions", SRT_ROUTE_TRANSCRIPTIONS, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&err, 0, sizeof err);
        srt_http_route r = srt_http_route_match(cases[i].m, cases[i].p, &allow, &err);
        TEST_CHECK(r == cases[i].want, "%s %s: route %d want %d", cases[i].m, cases[i].p, (int)r, (int)cases[i].want);
        if (cases[i].status) TEST_CHECK(err.status == cases[i].status, "%s %s: status %d", cases[i].m, cases[i].p,
                                        err.status);
        if (cases[i].status == 405) TEST_CHECK(allow && *allow, "%s %s: no Allow", cases[i].m, cases[i].p);
    }
    TEST_CHECK(!strcmp(srt_http_route_label(SRT_ROUTE_SPEECH), "/v1/audio/speech"), "label");
    TEST_CHECK(srt_http_route_needs_auth(SRT_ROUTE_SPEECH) && srt_http_route_needs_auth(SRT_ROUTE_MODELS) &&
               !srt_http_route_needs_auth(SRT_ROUTE_HEALTH) && !srt_http_route_needs_auth(SRT_ROUTE_PAGE), "auth");
    TEST_CHECK(srt_http_route_needs_auth(SRT_ROUTE_CHAT) && srt_http_route_needs_auth(SRT_ROUTE_TRANSCRIPTIONS) &&
               !strcmp(srt_http_route_label(SRT_ROUTE_CHAT), "/v1/chat/completions") &&
               !strcmp(srt_http_route_label(SRT_ROUTE_TRANSCRIPTIONS), "/v1/audio/transcriptions"),
               "chat routes: labels, need the key");
}

static void test_bearer(void) {
    TEST_CHECK(srt_http_bearer_ok("Bearer s3cret", "s3cret"), "exact");
    TEST_CHECK(srt_http_bearer_ok("bearer   s3cret  ", "s3cret"), "case and spaces");
    TEST_CHECK(!srt_http_bearer_ok("Bearer s3cre", "s3cret"), "prefix of the key");
    TEST_CHECK(!srt_http_bearer_ok("Bearer s3cretX", "s3cret"), "key plus more");
    TEST_CHECK(!srt_http_bearer_ok("Bearer S3cret", "s3cret"), "case of the key");
    TEST_CHECK(!srt_http_bearer_ok("Basic s3cret", "s3cret"), "scheme");
    TEST_CHECK(!srt_http_bearer_ok("s3cret", "s3cret"), "no scheme");
    TEST_CHECK(!srt_http_bearer_ok("Bearer", "s3cret"), "no token");
    TEST_CHECK(!srt_http_bearer_ok(NULL, "s3cret"), "no header");
    TEST_CHECK(!srt_http_bearer_ok("Bearer ", ""), "empty key never matches");
}

static void test_utf8(void) {
    size_t n = 0;
    TEST_CHECK(srt_utf8_count("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, &n) == 0 && n == 9, "valid: %zu", n);
    const char *bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xff", "\xc3\x28"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TEST_CHECK(srt_utf8_count(bad[i], strlen(bad[i]), &n) == -1, "invalid case %zu accepted", i);
}

static void test_parse_ok(void) {
    srt_speech_request r;
    srt_http_error err;
    int st = parse("{\"model\":\"tiny\",\"input\":\"hi\"}", &r, &err);
    TEST_CHECK(st == 200, "minimal: %d %s", st, err.message);
    TEST_CHECK(r.format == SRT_HTTP_MP3 && !r.stream && !r.sse && !r.voice && r.speed == 1.0 && !r.speed_ignored &&
               !srt_speech_request_has_sampling(&r), "minimal defaults");
    srt_speech_request_free(&r);

    st = parse(" {\"model\":\"tts-1\",\"input\":\"h\\u00e9llo \\ud83d\\ude00\",\"voice\":\"leo\",\"response_format\":"
               "\"pcm\",\"stream\":true,\"speed\":1.5,\"seed\":9007199254740991,\"temperature\":0,\"top_p\":0.5,"
               "\"repetition_penalty\":1.3,\"max_tokens\":84,\"stream_format\":\"audio\",\"extra\":[1,2]}\n", &r, &err);
    TEST_CHECK(st == 200, "full: %d %s", st, err.message);
    TEST_CHECK(r.format == SRT_HTTP_PCM && r.stream && r.voice && !strcmp(r.voice, "leo") && r.speed_ignored &&
               r.has_seed && r.seed == 9007199254740991ull && r.has_temperature && r.temperature == 0 &&
               r.has_top_p && r.top_p == 0.5f && r.has_repetition_penalty && r.has_max_tokens && r.max_tokens == 84,
               "full fields");
    srt_speech_request_free(&r);
    st = parse("{\"model\":\"tiny\",\"input\":\"hi\",\"response_format\":\"opus\",\"stream_format\":\"sse\"}", &r, &err);
    TEST_CHECK(st == 200 && r.format == SRT_HTTP_OPUS && r.stream && r.sse && !r.instructions, "opus sse: %d %s", st,
               err.message);
    srt_speech_request_free(&r);
    st = parse("{\"model\":\"tiny\",\"input\":\"hi\",\"instructions\":\"Cheerful.\"}", &r, &err);
    TEST_CHECK(st == 200 && r.instructions && !strcmp(r.instructions, "Cheerful."), "instructions kept");
    srt_speech_request_free(&r);
    st = parse(" {\"model\":\"tts-1\",\"input\":\"h\\u00e9llo \\ud83d\\ude00\",\"voice\":\"leo\",\"response_format\":"
               "\"pcm\",\"stream\":true,\"speed\":1.5,\"seed\":9007199254740991,\"temperature\":0,\"top_p\":0.5,"
               "\"repetition_penalty\":1.3,\"max_tokens\":84,\"stream_format\":\"audio\",\"extra\":[1,2]}\n", &r, &err);
    TEST_CHECK(!strcmp(r.input, "h\xc3\xa9llo \xf0\x9f\x98\x80"), "unicode escapes decoded: %s", r.input);
    srt_sampling_params def, sp;
    srt_sampling_defaults(&def);
    def.temperature = 0.6f;
    def.top_k = 7;
    def.max_tokens = 42;
    srt_speech_request_sampling(&r, &def, &sp);
    TEST_CHECK(sp.seed == r.seed && sp.temperature == 0 && sp.top_p == 0.5f && sp.repetition_penalty == 1.3f &&
               sp.max_tokens == 84 && sp.top_k == 7, "sampling merge");
    srt_speech_request_free(&r);

    /* exactly max_input_chars characters (multi-byte) is fine; an escaped backslash before u0000 is text */
    st = parse("{\"model\":\"tiny\",\"input\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
               "\xc3\xa9\xc3\xa9\"}", &r, &err);
    TEST_CHECK(st == 200, "10 two-byte characters: %d %s", st, err.message);
    srt_speech_request_free(&r);
    st = parse("{\"model\":\"tiny\",\"input\":\"a\\\\u0000\"}", &r, &err);
    TEST_CHECK(st == 200 && !strcmp(r.input, "a\\u0000"), "escaped backslash: %d %s", st, err.message);
    srt_speech_request_free(&r);
    st = parse("{\"model\":\"tiny\",\"input\":\"x\",\"voice\":null,\"response_format\":\"flac\",\"stream\":false}",
               &r, &err);
    TEST_CHECK(st == 200 && r.format == SRT_HTTP_FLAC && !r.voice, "flac, null voice: %d %s", st, err.message);
    srt_speech_request_free(&r);
}

/* Unknown model: 404 model_not_found; voices case-insensitive and aliases resolved to the layout's voice. */
static void test_names(void) {
    srt_speech_request r;
    srt_http_error err;
    int status = parse("{\"model\":\"gpt-9\",\"input\":\"hi\"}", &r, &err);
    TEST_CHECK(status == 404 && err.code && !strcmp(err.code, "model_not_found") && err.param &&
               !strcmp(err.param, "model") && strstr(err.message, "gpt-9"), "unknown model: %d %s %s", status,
               err.code ? err.code : "(null)", err.message);
    srt_speech_request_free(&r);
    static const struct { const char *given, *want; } cases[] = {
        {"tara", "tara"}, {"TARA", "tara"}, {"Leo", "leo"}, {"alloy", "tara"}, {"ALLOY", "tara"}, {"onyx", "leo"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"model\":\"tiny\",\"input\":\"hi\",\"voice\":\"%s\"}", cases[i].given);
        status = parse(body, &r, &err);
        TEST_CHECK(status == 200 && r.voice && !strcmp(r.voice, cases[i].want), "voice %s -> %s (got %d %s)",
                   cases[i].given, cases[i].want, status, r.voice ? r.voice : err.message);
        if (status == 200) srt_speech_request_free(&r);
    }
    status = parse("{\"model\":\"tiny\",\"input\":\"hi\",\"voice\":\"nova\"}", &r, &err);
    TEST_CHECK(status == 400 && err.code && !strcmp(err.code, "invalid_value") && err.param &&
               !strcmp(err.param, "voice"), "an alias the layout lacks is an unknown voice: %d %s", status, err.message);
    srt_speech_request_free(&r);
    const char *allow;
    TEST_CHECK(srt_http_route_match("GET", "/v1/models/tiny", &allow, &err) == SRT_ROUTE_MODEL &&
               srt_http_route_match("HEAD", "/v1/models/x", &allow, &err) == SRT_ROUTE_MODEL &&
               srt_http_route_needs_auth(SRT_ROUTE_MODEL), "GET /v1/models/{id} routed, needs the key");
    TEST_CHECK(srt_http_route_match("GET", "/v1/models/", &allow, &err) == SRT_ROUTE_NONE && err.status == 404,
               "/v1/models/ without an id: 404");
    TEST_CHECK(srt_http_route_match("POST", "/v1/models/tiny", &allow, &err) == SRT_ROUTE_NONE && err.status == 405,
               "POST /v1/models/{id}: 405");
}

static void test_parse_errors(void) {
    expect_400("", "empty");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\"", "malformed JSON");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\"} x", "trailing");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",}", "malformed JSON");
    expect_400("[1,2]", "JSON object");
    expect_400("42", "JSON object");
    expect_400("{\"input\":\"hi\"}", "'model'");
    expect_400("{\"model\":\"tiny\"}", "'input'");
    expect_400("{\"model\":7,\"input\":\"hi\"}", "'model' must be a string");
    expect_400("{\"model\":\"tiny\",\"input\":3}", "'input' must be a string");
    expect_400("{\"model\":\"tiny\",\"input\":\"\"}", "empty");
    expect_400("{\"model\":\"tiny\",\"input\":\" \\n\\t \"}", "empty");
    expect_400("{\"model\":\"tiny\",\"input\":\"12345678901\"}", "too long");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"voice\":\"bob\"}", "unknown voice");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"voice\":[\"tara\"]}", "'voice' must be a string");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"response_format\":\"aac\"}",
               "unsupported response_format 'aac' (supported: mp3, opus, wav, pcm, flac)");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"response_format\":\"MP3\"}", "unsupported response_format");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"response_format\":1}", "'response_format' must be a string");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"stream\":\"yes\"}", "'stream' must be a boolean");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"stream\":true,\"response_format\":\"flac\"}", "flac");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"stream_format\":\"webm\"}", "'stream_format' must be");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"instructions\":7}", "'instructions' must be a string");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"instructions\":\"12345678901\"}", "'instructions' is too long");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"stream_format\":\"sse\",\"response_format\":\"flac\"}", "flac");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"speed\":10}", "'speed' is out of range");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"seed\":-1}", "'seed' is out of range");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"seed\":1.5}", "'seed' must be an integer");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"seed\":1e300}", "'seed' is out of range");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"temperature\":\"hot\"}", "'temperature' must be a number");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"temperature\":1e999}", "'temperature' must be a finite");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"top_p\":2}", "'top_p' is out of range");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"repetition_penalty\":0}", "'repetition_penalty'");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"max_tokens\":85}", "'max_tokens' is out of range");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"max_tokens\":0}", "'max_tokens' is out of range");
    expect_400("{\"model\":\"tiny\",\"input\":\"hi\",\"max_tokens\":true}", "'max_tokens' must be a number");
    expect_400("{\"model\":\"tiny\",\"input\":\"a\\u0000b\"}", "NUL");
    expect_400("{\"model\":\"tiny\",\"input\":\"\xff\"}", "UTF-8");
    expect_400("{\"model\":\"tiny\",\"input\":\"\\ud800\"}", "malformed JSON");
    /* a raw NUL inside the body */
    srt_speech_request r;
    srt_http_error err;
    const char nul_body[] = "{\"model\":\"tiny\",\"input\":\"a\0b\"}";
    int rc = srt_speech_request_parse(nul_body, sizeof nul_body - 1, &LIM, &r, &err);
    TEST_CHECK(rc == -1 && err.status == 400 && strstr(err.message, "NUL"), "raw NUL: %s", err.message);
    /* the body need not be NUL-terminated: parse a prefix of a longer buffer */
    const char longer[] = "{\"model\":\"tiny\",\"input\":\"hi\"}GARBAGE";
    rc = srt_speech_request_parse(longer, sizeof longer - 1 - 7, &LIM, &r, &err);
    TEST_CHECK(rc == 0, "prefix parse: %s", err.message);
    srt_speech_request_free(&r);
}

static void test_wav_and_audio(void) {
    uint8_t h[44];
    srt_wav_header(h, 24000, 100);
    TEST_CHECK(!memcmp(h, "RIFF", 4) && !memcmp(h + 8, "WAVEfmt ", 8) && !memcmp(h + 36, "data", 4), "wav tags");
    TEST_CHECK(h[4] == 236 && h[40] == 200 && h[24] == (24000 & 0xff) && h[25] == (24000 >> 8) && h[34] == 16 &&
               h[22] == 1 && h[20] == 1, "wav fields");
    srt_wav_header(h, 24000, -1);
    TEST_CHECK(h[4] == 0xff && h[7] == 0xff && h[40] == 0xff && h[43] == 0xff, "streaming wav sizes");

    enum { N = 5000 };
    float *x = malloc(sizeof(float) * N);
    test_fill_uniform(x, N, 3, -1.2f, 1.2f);   /* some clip */
    uint8_t *pcm = NULL, *wav = NULL, *flac = NULL;
    size_t n_pcm = 0, n_wav = 0, n_flac = 0;
    TEST_CHECK(srt_http_encode_audio(SRT_HTTP_PCM, x, N, 24000, &pcm, &n_pcm) == SRT_OK && n_pcm == 2 * N, "pcm");
    TEST_CHECK(srt_http_encode_audio(SRT_HTTP_WAV, x, N, 24000, &wav, &n_wav) == SRT_OK && n_wav == 44 + 2 * N, "wav");
    TEST_CHECK(pcm && wav && !memcmp(wav + 44, pcm, 2 * N), "wav data = pcm");
    int ok = 1;
    for (int i = 0; pcm && i < N; i++) {
        int16_t v = (int16_t)(pcm[2 * i] | (pcm[2 * i + 1] << 8));
        ok &= v == srt_audio_float_to_s16(x[i]);
    }
    TEST_CHECK(ok, "pcm samples are srt_audio_float_to_s16");
    TEST_CHECK(srt_http_encode_audio(SRT_HTTP_FLAC, x, N, 24000, &flac, &n_flac) == SRT_OK && n_flac > 100 &&
               !memcmp(flac, "fLaC", 4), "flac magic");
    float *back = NULL;
    int64_t n_back = 0;
    srt_audio_source_info info;
    srt_status st = srt_audio_read_memory(flac, n_flac, "flac body", 0, &back, &n_back, &info);
    TEST_CHECK(st == SRT_OK && n_back == N && info.sample_rate == 24000 && info.channels == 1, "flac decodes: %s",
               srt_last_error());
    ok = st == SRT_OK;
    for (int i = 0; ok && i < N; i++) ok &= srt_audio_float_to_s16(back[i]) == srt_audio_float_to_s16(x[i]);
    TEST_CHECK(ok, "flac is lossless against the 16-bit samples");
    uint8_t *empty = NULL;
    size_t n_empty = 1;
    TEST_CHECK(srt_http_encode_audio(SRT_HTTP_WAV, x, 0, 24000, &empty, &n_empty) == SRT_OK && n_empty == 44,
               "empty wav");
    free(empty);
    free(back); free(x); free(pcm); free(wav); free(flac);
    TEST_CHECK(!strcmp(srt_http_audio_mime(SRT_HTTP_FLAC), "audio/flac"), "mime");
}

static void test_json_docs(void) {
    srt_http_error err;
    srt_http_error_set(&err, 404, "not_found_error", "no \"such\" path %d", 7);
    char *s = srt_http_error_json(&err);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    cJSON *e = cJSON_GetObjectItem(j, "error");
    TEST_CHECK(e && !strcmp(cJSON_GetObjectItem(e, "message")->valuestring, "no \"such\" path 7") &&
               !strcmp(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error") &&
               cJSON_IsNull(cJSON_GetObjectItem(e, "param")) &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "code")), "not_found"),
               "error json (OpenAI's shape, string code): %s", s ? s : "(null)");
    cJSON_Delete(j);
    free(s);
    srt_http_error_set(&err, 404, "not_found_error", "no such endpoint: /\xe9t\xe9/\xc3\xa9\xf0\x9f\x98");
    s = srt_http_error_json(&err);
    j = s ? cJSON_Parse(s) : NULL;
    e = cJSON_GetObjectItem(j, "error");
    const char *msg = e ? cJSON_GetObjectItem(e, "message")->valuestring : "";
    TEST_CHECK(!strcmp(msg, "no such endpoint: /?t?/\xc3\xa9???"), "non-UTF-8 bytes replaced: %s", msg);
    TEST_CHECK(s && srt_utf8_count(s, strlen(s), NULL) == 0, "error JSON is UTF-8");
    cJSON_Delete(j);
    free(s);
    char small[4];
    srt_utf8_sanitize("a\xc3\xa9" "b", small, sizeof small);
    TEST_CHECK(!strcmp(small, "a\xc3\xa9"), "sanitize cuts at a character boundary");
    srt_utf8_sanitize("ab\xc3\xa9", small, sizeof small);
    TEST_CHECK(!strcmp(small, "ab"), "sanitize never splits a character: %s", small);
    s = srt_http_models_json(MODELS, VOICES, 24000);
    j = s ? cJSON_Parse(s) : NULL;
    cJSON *data = cJSON_GetObjectItem(j, "data");
    TEST_CHECK(cJSON_GetArraySize(data) == 2 && !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "id")->valuestring,
                                                        "tiny") &&
               cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "voices")) == 2, "models json: %s",
               s ? s : "(null)");
    cJSON_Delete(j);
    free(s);
    s = srt_http_voices_json(VOICES, ALIASES, NULL, 24000);
    j = s ? cJSON_Parse(s) : NULL;
    TEST_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "voices")) == 2 &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "aliases"), "onyx")), "leo") &&
               cJSON_GetObjectItem(j, "sample_rate")->valueint == 24000, "voices json: %s", s ? s : "(null)");
    cJSON_Delete(j);
    free(s);
    s = srt_http_model_json("tiny", VOICES, 24000);
    j = s ? cJSON_Parse(s) : NULL;
    TEST_CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")), "tiny") &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "object")), "model"), "model json: %s",
               s ? s : "(null)");
    cJSON_Delete(j);
    free(s);
}

/* Every line is a comment or `name{labels} value`; every sample's family was declared by # TYPE before it. */
static int prometheus_well_formed(const char *text, char *why, size_t cap) {
    char families[64][96];
    int n_fam = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol) { snprintf(why, cap, "no final newline"); return 0; }
        char line[512];
        size_t len = (size_t)(eol - p);
        if (len >= sizeof line) { snprintf(why, cap, "line too long"); return 0; }
        memcpy(line, p, len);
        line[len] = 0;
        p = eol + 1;
        if (!strncmp(line, "# HELP ", 7)) continue;
        if (!strncmp(line, "# TYPE ", 7)) {
            char name[96], type[32];
            if (sscanf(line + 7, "%95s %31s", name, type) != 2 ||
                (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "histogram") &&
                 strcmp(type, "summary"))) { snprintf(why, cap, "bad TYPE: %s", line); return 0; }
            if (n_fam < 64) strcpy(families[n_fam++], name);
            continue;
        }
        size_t k = 0;
        while (isalnum((unsigned char)line[k]) || line[k] == '_' || line[k] == ':') k++;
        if (k == 0) { snprintf(why, cap, "bad name: %s", line); return 0; }
        char name[96];
        snprintf(name, sizeof name, "%.*s", (int)k, line);
        int known = 0;
        for (int f = 0; f < n_fam; f++) {
            size_t fl = strlen(families[f]);
            if (!strncmp(name, families[f], fl) &&
                (!name[fl] || !strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") || !strcmp(name + fl, "_count")))
                known = 1;
        }
        if (!known) { snprintf(why, cap, "sample before its TYPE: %s", line); return 0; }
        const char *rest = line + k;
        if (*rest == '{') {
            const char *close = strchr(rest, '}');
            if (!close) { snprintf(why, cap, "unclosed labels: %s", line); return 0; }
            rest = close + 1;
        }
        if (*rest != ' ') { snprintf(why, cap, "no value: %s", line); return 0; }
        char *end;
        strtod(rest + 1, &end);
        if (end == rest + 1 || *end) { snprintf(why, cap, "bad value: %s", line); return 0; }
    }
    return 1;
}

static void test_metrics(void) {
    srt_http_counters c;
    memset(&c, 0, sizeof c);
    srt_http_counters_add_status(&c, SRT_ROUTE_SPEECH, 200);
    srt_http_counters_add_status(&c, SRT_ROUTE_SPEECH, 200);
    srt_http_counters_add_status(&c, SRT_ROUTE_SPEECH, 503);
    srt_http_counters_add_status(&c, SRT_ROUTE_NONE, 404);
    srt_http_counters_observe_ttfa(&c, 0.03);
    srt_http_counters_observe_ttfa(&c, 0.7);
    srt_http_counters_observe_ttfa(&c, 100);
    srt_http_counters_observe_rtf(&c, 2.5);
    c.cancelled_client_gone = 3;
    srt_tts_metrics m;
    memset(&m, 0, sizeof m);
    m.queue_depth = 4;
    m.running = 2;
    m.requests_cancelled = 5;
    m.tokens_per_s = 123.5;
    char *t = srt_http_metrics_text(&c, &m);
    TEST_CHECK(t != NULL, "metrics text");
    if (!t) return;
    char why[600] = "";
    TEST_CHECK(prometheus_well_formed(t, why, sizeof why), "prometheus format: %s", why);
    const char *want[] = {
        "snacrt_http_requests_total{path=\"/v1/audio/speech\",code=\"200\"} 2\n",
        "snacrt_http_requests_total{path=\"/v1/audio/speech\",code=\"503\"} 1\n",
        "snacrt_http_requests_total{path=\"other\",code=\"404\"} 1\n",
        "snacrt_time_to_first_audio_seconds_bucket{le=\"0.025\"} 0\n",
        "snacrt_time_to_first_audio_seconds_bucket{le=\"0.05\"} 1\n",
        "snacrt_time_to_first_audio_seconds_bucket{le=\"1\"} 2\n",
        "snacrt_time_to_first_audio_seconds_bucket{le=\"10\"} 2\n",
        "snacrt_time_to_first_audio_seconds_bucket{le=\"+Inf\"} 3\n",
        "snacrt_time_to_first_audio_seconds_count 3\n",
        "snacrt_request_real_time_factor_sum 2.5",
        "snacrt_http_cancelled_total{reason=\"client_gone\"} 3\n",
        "snacrt_queue_depth 4\n", "snacrt_running 2\n",
        "snacrt_engine_requests_total{result=\"cancelled\"} 5\n",
        "snacrt_tokens_per_second 123.5",
        "snacrt_dropped_frames_total 0\n", "snacrt_real_time_factor 0",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        TEST_CHECK(strstr(t, want[i]) != NULL, "metrics lack: %s", want[i]);
    free(t);
}

static void test_page(void) {
    char path[1024];
    test_src_path("web/index.html", path, sizeof path);
    FILE *f = fopen(path, "rb");
    TEST_CHECK(f != NULL, "open %s", path);
    if (!f) return;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    TEST_CHECK(n == srt_http_page_html_len && !memcmp(buf, srt_http_page_html, n),
               "embedded page (%zu bytes) differs from web/index.html (%zu bytes): run python3 web/embed_page.py",
               srt_http_page_html_len, n);
    TEST_CHECK(strstr(srt_http_page_html, "id=\"speak\"") && strstr(srt_http_page_html, "id=\"status\""), "page ids");
}

static char *b64_encode(const uint8_t *in, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *o++ = A[v >> 18 & 63];
        *o++ = A[v >> 12 & 63];
        *o++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? A[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static void test_base64(void) {
    struct { const char *in, *out; } ok[] = {{"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"},
                                             {"Zm9vYg", "foob"}, {"Zm9vYmE", "fooba"}, {" Zm9v\r\nYmFy\n", "foobar"},
                                             {"+/+/", "\xfb\xff\xbf"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t *out = NULL;
        size_t n = 0, at = 0;
        int rc = srt_base64_decode(ok[i].in, strlen(ok[i].in), &out, &n, &at);
        TEST_CHECK(rc == 0 && n == strlen(ok[i].out) && !memcmp(out, ok[i].out, n), "base64 '%s': rc %d, %zu bytes",
                   ok[i].in, rc, n);
        TEST_CHECK(srt_base64_decoded_max(strlen(ok[i].in)) >= n, "decoded_max bound");
        free(out);
    }
    struct { const char *in; size_t at; } bad[] = {{"Z", 1}, {"Zm9vY", 5}, {"Zm9v=", 4}, {"Zg=a", 3}, {"Zm$v", 2},
                                                   {"Zg===", 4}, {"Zg=", 2}, {"=Zg", 0}, {"Zm9v-_", 4}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *out = NULL;
        size_t n = 0, at = 99;
        int rc = srt_base64_decode(bad[i].in, strlen(bad[i].in), &out, &n, &at);
        TEST_CHECK(rc == -1 && at == bad[i].at && !out, "bad base64 '%s': rc %d at %zu (want %zu)", bad[i].in, rc, at,
                   bad[i].at);
    }
}

/* A body with "audio": AUDIO (a JSON value written as is). */
static char *audio_body(const char *audio_json) {
    size_t n = strlen(audio_json) + 64;
    char *b = malloc(n);
    snprintf(b, n, "{\"model\":\"tiny\",\"input\":\"hi\",\"audio\":%s}", audio_json);
    return b;
}

static int parse_audio_body(const char *audio_json, const srt_speech_limits *lim, srt_speech_request *r,
                            srt_http_error *err) {
    char *b = audio_body(audio_json);
    memset(err, 0, sizeof *err);
    int rc = srt_speech_request_parse(b, strlen(b), lim, r, err);
    free(b);
    return rc ? err->status : 200;
}

static void expect_audio_error(const char *audio_json, const srt_speech_limits *lim, int status, const char *needle) {
    srt_speech_request r;
    srt_http_error err;
    int st = parse_audio_body(audio_json, lim, &r, &err);
    TEST_CHECK(st == status && strstr(err.message, "'audio'") && strstr(err.message, needle) && r.audio == NULL,
               "audio %.40s: status %d (want %d), message '%s' (want '%s')", audio_json, st, status, err.message,
               needle);
    srt_speech_request_free(&r);
}

static void test_audio_field(void) {
    /* a 0.2 s WAV at 16 kHz, as a client would send it */
    enum { N = 3200 };
    float pcm[N];
    for (int i = 0; i < N; i++) pcm[i] = 0.5f * sinf((float)i * 0.05f);
    uint8_t *wav = NULL;
    size_t n_wav = 0;
    TEST_CHECK(srt_http_encode_audio(SRT_HTTP_WAV, pcm, N, 16000, &wav, &n_wav) == SRT_OK, "encode wav");
    char *b64 = b64_encode(wav, n_wav);
    size_t nb = strlen(b64);
    char *quoted = malloc(nb + 64);
    snprintf(quoted, nb + 64, "\"%s\"", b64);
    srt_speech_request r;
    srt_http_error err;
    int st = parse_audio_body(quoted, &LIM_AUDIO, &r, &err);
    TEST_CHECK(st == 200 && r.audio && r.n_audio == N && r.audio_rate == 16000, "audio field: %d '%s', %lld samples at "
               "%d Hz", st, err.message, (long long)r.n_audio, r.audio_rate);
    double worst = 0;
    for (int i = 0; st == 200 && i < N; i++) worst = fmax(worst, fabs(r.audio[i] - pcm[i]));
    TEST_CHECK(st == 200 && worst < 1.0 / 16384, "audio field samples = the WAV's (max error %g)", worst);
    srt_speech_request_free(&r);
    TEST_CHECK(r.audio == NULL, "free clears the audio");
    /* as a data: URL, and with JSON-escaped line breaks every 76 characters (MIME style) */
    char *url = malloc(nb + 64);
    snprintf(url, nb + 64, "\"data:audio/wav;base64,%s\"", b64);
    st = parse_audio_body(url, &LIM_AUDIO, &r, &err);
    TEST_CHECK(st == 200 && r.n_audio == N, "data: URL: %d '%s'", st, err.message);
    srt_speech_request_free(&r);
    char *wrapped = malloc(nb + nb / 76 * 2 + 64), *w = wrapped;
    *w++ = '"';
    for (size_t i = 0; i < nb; i++) {
        if (i && i % 76 == 0) *w++ = '\\', *w++ = 'n';
        *w++ = b64[i];
    }
    *w++ = '"';
    *w = 0;
    st = parse_audio_body(wrapped, &LIM_AUDIO, &r, &err);
    TEST_CHECK(st == 200 && r.n_audio == N, "line-wrapped base64: %d '%s'", st, err.message);
    srt_speech_request_free(&r);
    st = parse_audio_body("null", &LIM, &r, &err);
    TEST_CHECK(st == 200 && !r.audio, "\"audio\": null is no audio");
    srt_speech_request_free(&r);
    /* errors name the field */
    expect_audio_error(quoted, &LIM, 400, "not accepted");
    expect_audio_error("17", &LIM_AUDIO, 400, "must be a string");
    expect_audio_error("\"\"", &LIM_AUDIO, 400, "empty");
    expect_audio_error("\"UklGRg=!\"", &LIM_AUDIO, 400, "base64");
    expect_audio_error("\"data:audio/wav,UklGRg==\"", &LIM_AUDIO, 400, "base64");
    expect_audio_error("\"aGVsbG8gd29ybGQ=\"", &LIM_AUDIO, 400, "cannot read as audio");   /* "hello world" */
    char *cut = strdup(quoted);
    strcpy(cut + 81, "\"");                                   /* the RIFF header and a few samples */
    expect_audio_error(cut, &LIM_AUDIO, 400, "truncated");
    srt_speech_limits small = LIM_AUDIO;
    small.max_audio_bytes = n_wav - 1;
    expect_audio_error(quoted, &small, 413, "too large");
    small.max_audio_bytes = n_wav / 2;
    expect_audio_error(quoted, &small, 413, "too large");
    free(cut); free(wrapped); free(url); free(quoted); free(b64); free(wav);
}

int main(void) {
    test_routes();
    test_bearer();
    test_utf8();
    test_parse_ok();
    test_parse_errors();
    test_names();
    test_base64();
    test_audio_field();
    test_wav_and_audio();
    test_json_docs();
    test_metrics();
    test_page();
    TEST_MAIN_END();
}
