/* test_serve_chat.c: the pure parts of /v1/chat/completions and /v1/audio/transcriptions (host/serve/http_chat.c):
 * bodies with string content and with text + input_audio parts (a base64 WAV decoded at the codec rate),
 * modalities, audio {voice, format}, sampling and max_completion_tokens; OpenAI errors naming the field (400),
 * limits on turns, audio bytes and seconds (413), unknown models (404 model_not_found); the chat.completion
 * document (content, or audio with data + transcript when audio is asked for; usage with text/audio details);
 * chat.completion.chunk SSE events; multipart/form-data transcriptions and their json / text / verbose_json. */
#include "serve/http_chat.h"
#include "testutil.h"
#include <cjson/cJSON.h>

static char *b64(const uint8_t *in, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *o++ = tab[v >> 18 & 63]; *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '='; *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static uint8_t *wav_bytes(int64_t n, size_t *nb) {
    float *pcm = calloc((size_t)n, sizeof *pcm);
    for (int64_t i = 0; i < n; i++) pcm[i] = 0.25f * (float)((i % 50) - 25) / 25.0f;
    uint8_t *out = NULL;
    srt_http_encode_audio(SRT_HTTP_WAV, pcm, n, 24000, &out, nb);
    free(pcm);
    return out;
}

static srt_chat_limits limits(void) {
    static const char *const models[] = {"gpt-4o-audio-preview", "snacrt", NULL};
    return (srt_chat_limits){.max_turns = 8, .max_tokens = 500, .max_text_bytes = 1000, .max_audio_bytes = 20000,
                             .max_audio_seconds = 0.5, .audio_rate = 24000, .modalities = SRT_CHAT_TEXT | SRT_CHAT_AUDIO,
                             .models = models};
}

static void expect_error(const char *body, const srt_chat_limits *lim, int status, const char *param, const char *what) {
    srt_chat_body b;
    srt_http_error err = {0};
    int rc = srt_chat_body_parse(body, strlen(body), lim, &b, &err);
    TEST_CHECK(rc == -1 && err.status == status && (!param || (err.param && !strcmp(err.param, param))),
               "%s: status %d param %s: '%s'", what, err.status, err.param ? err.param : "-", err.message);
}

static void test_parse(void) {
    srt_chat_limits lim = limits();
    const char *s1 = "{\"model\":\"snacrt\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                     "{\"role\":\"user\",\"content\":\"Hi\"}]}";
    srt_chat_body b;
    srt_http_error err = {0};
    TEST_CHECK(srt_chat_body_parse(s1, strlen(s1), &lim, &b, &err) == 0, "string content: %s", err.message);
    TEST_CHECK(b.n_turns == 2 && b.turns[0].role == SRT_CHAT_SYSTEM && b.turns[1].role == SRT_CHAT_USER &&
               b.turns[1].n_parts == 1 && !strcmp(b.turns[1].parts[0].text, "Hi") && b.modalities == SRT_CHAT_TEXT &&
               !b.stream, "two turns of text, text answer");
    srt_chat_body_free(&b);

    size_t nb;
    uint8_t *wav = wav_bytes(2400, &nb);
    char *data = b64(wav, nb);
    char body[65536];
    snprintf(body, sizeof body,
             "{\"model\":\"gpt-4o-audio-preview\",\"modalities\":[\"text\",\"audio\"],\"audio\":{\"voice\":\"alloy\","
             "\"format\":\"wav\"},\"stream\":true,\"stream_options\":{\"include_usage\":true},\"seed\":3,"
             "\"max_completion_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
             "\"What is this?\"},{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"%s\",\"format\":\"wav\"}}]}]}",
             data);
    TEST_CHECK(srt_chat_body_parse(body, strlen(body), &lim, &b, &err) == 0, "parts: %s", err.message);
    TEST_CHECK(b.n_turns == 1 && b.turns[0].n_parts == 2 && b.turns[0].parts[1].pcm && b.turns[0].parts[1].n_samples == 2400 &&
               b.turns[0].parts[1].rate == 24000 && b.modalities == (SRT_CHAT_TEXT | SRT_CHAT_AUDIO) &&
               !strcmp(b.voice, "alloy") && b.audio_format == SRT_HTTP_WAV && b.stream && b.include_usage &&
               b.has_seed && b.seed == 3 && b.has_max_tokens && b.max_tokens == 50, "text + input_audio parts");
    srt_sampling_params d, sp;
    srt_sampling_defaults(&d);
    srt_chat_request req;
    srt_chat_body_request(&b, &d, &sp, &req);
    TEST_CHECK(req.n_turns == 1 && req.turns == b.turns && sp.seed == 3 && sp.max_tokens == 50 &&
               req.modalities == (SRT_CHAT_TEXT | SRT_CHAT_AUDIO) && !strcmp(req.voice, "alloy"), "engine request");
    srt_chat_body_free(&b);

    /* errors */
    expect_error("[1]", &lim, 400, NULL, "not an object");
    expect_error("{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", &lim, 404, "model", "unknown model");
    expect_error("{\"model\":\"snacrt\",\"messages\":[]}", &lim, 400, "messages", "no messages");
    expect_error("{\"model\":\"snacrt\",\"messages\":[{\"role\":\"tool\",\"content\":\"a\"}]}", &lim, 400, "messages", "a tool role");
    expect_error("{\"model\":\"snacrt\",\"messages\":[{\"role\":\"user\",\"content\":7}]}", &lim, 400, "messages", "content 7");
    expect_error("{\"model\":\"snacrt\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
                 &lim, 400, "messages", "an image part");
    expect_error("{\"model\":\"snacrt\",\"modalities\":[\"video\"],\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}",
                 &lim, 400, "modalities", "video");
    expect_error("{\"model\":\"snacrt\",\"max_completion_tokens\":501,\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}",
                 &lim, 400, "max_completion_tokens", "too many tokens");
    expect_error("{\"model\":\"snacrt\",\"stream\":true,\"modalities\":[\"text\",\"audio\"],\"audio\":{\"format\":\"flac\"},"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", &lim, 400, "audio.format", "streamed flac");
    srt_chat_limits text_only = lim;
    text_only.modalities = SRT_CHAT_TEXT;
    expect_error("{\"model\":\"snacrt\",\"modalities\":[\"text\",\"audio\"],\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}",
                 &text_only, 400, "modalities", "audio from a text-only model");
    char many[2048] = "{\"model\":\"snacrt\",\"messages\":[";
    for (int i = 0; i < 9; i++) strcat(many, i ? ",{\"role\":\"user\",\"content\":\"a\"}" : "{\"role\":\"user\",\"content\":\"a\"}");
    strcat(many, "]}");
    expect_error(many, &lim, 413, "messages", "nine turns over the limit of 8");
    srt_chat_limits small = lim;
    small.max_audio_bytes = 1000;
    expect_error(body, &small, 413, "messages", "audio bytes over the limit");
    small = lim;
    small.max_audio_seconds = 0.05;
    expect_error(body, &small, 413, "messages", "audio seconds over the limit");
    small.max_audio_bytes = 0;
    expect_error(body, &small, 400, "messages", "audio refused");
    free(data);
    free(wav);
}

static void test_answers(void) {
    srt_chat_body b = {.modalities = SRT_CHAT_TEXT | SRT_CHAT_AUDIO, .audio_format = SRT_HTTP_WAV};
    float seg[2048];
    for (int i = 0; i < 2048; i++) seg[i] = 0.1f;
    float *segs[1] = {seg};
    int64_t ns[1] = {2048};
    srt_chat_result res = {.text = "Hello", .n_text = 5, .segments = segs, .n_samples = ns, .n_segments = 1,
                           .stats = {.prompt_tokens = 20, .text_tokens = 3, .audio_tokens = 16, .finish = SRT_FINISH_STOP,
                                     .prompt_audio_tokens = 14}};
    char *json = srt_chat_completion_json("chatcmpl-1", "snacrt", 1700000000, &b, &res, 24000);
    cJSON *root = cJSON_Parse(json);
    cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0), "message");
    cJSON *audio = cJSON_GetObjectItem(msg, "audio");
    cJSON *usage = cJSON_GetObjectItem(root, "usage");
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItem(audio, "data"));
    uint8_t *wav = NULL;
    size_t n_wav = 0, at;
    TEST_CHECK(root && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(root, "object")), "chat.completion") &&
               cJSON_IsNull(cJSON_GetObjectItem(msg, "content")) &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(audio, "transcript")), "Hello") &&
               data && srt_base64_decode(data, strlen(data), &wav, &n_wav, &at) == 0 && n_wav == 44 + 4096 &&
               !memcmp(wav, "RIFF", 4), "audio answer: null content, transcript, a WAV of 2048 samples: %s", json);
    TEST_CHECK(cJSON_GetObjectItem(usage, "total_tokens")->valueint == 39 &&
               cJSON_GetObjectItem(cJSON_GetObjectItem(usage, "completion_tokens_details"), "audio_tokens")->valueint == 16 &&
               cJSON_GetObjectItem(cJSON_GetObjectItem(usage, "prompt_tokens_details"), "audio_tokens")->valueint == 14 &&
               cJSON_GetObjectItem(cJSON_GetObjectItem(usage, "prompt_tokens_details"), "text_tokens")->valueint == 6 &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0),
                                                                 "finish_reason")), "stop"), "usage and finish");
    free(wav);
    cJSON_Delete(root);
    free(json);
    b.modalities = SRT_CHAT_TEXT;
    res.stats.finish = SRT_FINISH_LENGTH;
    json = srt_chat_completion_json("chatcmpl-2", "snacrt", 1, &b, &res, 24000);
    TEST_CHECK(json && strstr(json, "\"content\":\"Hello\"") && !strstr(json, "\"audio\"") && strstr(json, "\"length\""),
               "text answer: %s", json ? json : "");
    free(json);

    char *ev = srt_chat_chunk_sse("c", "snacrt", 1, &b, 1, "H\xC3\xA9", 3, NULL, 0, NULL, NULL);
    TEST_CHECK(ev && !strncmp(ev, "data: {", 7) && !strcmp(ev + strlen(ev) - 2, "\n\n") &&
               strstr(ev, "\"role\":\"assistant\"") && strstr(ev, "\"content\":\"H\xC3\xA9\"") &&
               strstr(ev, "chat.completion.chunk") && strstr(ev, "\"finish_reason\":null"), "first text chunk: %s", ev);
    free(ev);
    b.modalities = SRT_CHAT_TEXT | SRT_CHAT_AUDIO;
    float two[2] = {0.5f, -1.0f};   /* s16le: 16384 (0x4000 -> 00 40), -32767 (0x8001 -> 01 80): base64 "AEABgA==" */
    ev = srt_chat_chunk_sse("c", "snacrt", 1, &b, 0, NULL, 0, two, 2, NULL, NULL);
    TEST_CHECK(ev && strstr(ev, "\"audio\":{\"data\":\"AEABgA==\"}") && !strstr(ev, "role"), "audio chunk: %s", ev);
    free(ev);
    ev = srt_chat_chunk_sse("c", "snacrt", 1, &b, 0, "Hi", 2, NULL, 0, NULL, NULL);
    TEST_CHECK(ev && strstr(ev, "\"audio\":{\"transcript\":\"Hi\"}"), "transcript chunk: %s", ev);
    free(ev);
    ev = srt_chat_chunk_sse("c", "snacrt", 1, &b, 0, NULL, 0, NULL, 0, "stop", NULL);
    TEST_CHECK(ev && strstr(ev, "\"delta\":{}") && strstr(ev, "\"finish_reason\":\"stop\""), "finish chunk: %s", ev);
    free(ev);
    ev = srt_chat_chunk_sse("c", "snacrt", 1, &b, 0, NULL, 0, NULL, 0, NULL, &res.stats);
    TEST_CHECK(ev && strstr(ev, "\"choices\":[]") && strstr(ev, "\"total_tokens\":39"), "usage chunk: %s", ev);
    free(ev);
}

static void test_transcription(void) {
    srt_chat_limits lim = limits();
    size_t nb;
    uint8_t *wav = wav_bytes(2400, &nb);
    const char *ct = "multipart/form-data; boundary=XyZ123";
    char *body = malloc(nb + 1024);
    size_t n = (size_t)sprintf(body, "--XyZ123\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nsnacrt\r\n"
                                     "--XyZ123\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\n"
                                     "verbose_json\r\n--XyZ123\r\nContent-Disposition: form-data; name=\"language\"\r\n"
                                     "\r\nen\r\n--XyZ123\r\nContent-Disposition: form-data; name=\"file\"; "
                                     "filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n");
    memcpy(body + n, wav, nb);
    n += nb;
    n += (size_t)sprintf(body + n, "\r\n--XyZ123--\r\n");
    srt_transcription_body t;
    srt_http_error err = {0};
    TEST_CHECK(srt_transcription_parse(ct, body, n, &lim, &t, &err) == 0, "multipart: %s", err.message);
    TEST_CHECK(!strcmp(t.model, "snacrt") && !strcmp(t.language, "en") && t.format == SRT_TRANSCRIPT_VERBOSE &&
               t.n_pcm == 2400 && t.rate == 24000, "fields and the file's 2400 samples");
    const char *mime;
    char *out = srt_transcription_response(&t, "hello", &mime);
    TEST_CHECK(out && !strcmp(mime, "application/json") && strstr(out, "\"text\":\"hello\"") &&
               strstr(out, "\"duration\":0.1") && strstr(out, "\"task\":\"transcribe\""), "verbose_json: %s", out);
    free(out);
    t.format = SRT_TRANSCRIPT_TEXT;
    out = srt_transcription_response(&t, "hello", &mime);
    TEST_CHECK(out && !strcmp(out, "hello\n") && !strncmp(mime, "text/plain", 10), "text");
    free(out);
    srt_transcription_body_free(&t);
    /* no file */
    const char *nofile = "--XyZ123\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nsnacrt\r\n--XyZ123--\r\n";
    TEST_CHECK(srt_transcription_parse(ct, nofile, strlen(nofile), &lim, &t, &err) == -1 && err.status == 400 &&
               !strcmp(err.param, "file"), "no file: %s", err.message);
    TEST_CHECK(srt_transcription_parse("application/json", nofile, strlen(nofile), &lim, &t, &err) == -1 &&
               err.status == 400 && strstr(err.message, "multipart"), "not multipart: %s", err.message);
    lim.max_audio_bytes = 100;
    TEST_CHECK(srt_transcription_parse(ct, body, n, &lim, &t, &err) == -1 && err.status == 413, "file too large");
    free(body);
    free(wav);
}

int main(void) {
    test_parse();
    test_answers();
    test_transcription();
    TEST_MAIN_END();
}
