/* fuzz_http.c: the body of POST /v1/audio/speech through srt_speech_request_parse (no server needed), and the
 * route matcher and bearer check on the same bytes. */
#include "fuzz_util.h"
#include "serve/http_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const voices[] = {"tara", "leo", NULL};
    srt_speech_limits lim = {.voices = voices, .models = NULL, .max_input_chars = 4096, .max_tokens = 2048,
                             .max_audio_bytes = 1 << 16};
    srt_speech_request req;
    srt_http_error err;
    memset(&req, 0, sizeof req);
    memset(&err, 0, sizeof err);
    char *body = malloc(size ? size : 1);
    if (!body) return 0;
    memcpy(body, data, size);
    if (srt_speech_request_parse(body, size, &lim, &req, &err) == 0) srt_speech_request_free(&req);
    free(body);
    char *text = fuzz_text(data, size);
    if (text) {
        char *space = strchr(text, ' ');
        const char *allow = NULL;
        srt_http_error e2;
        if (space) { *space = 0; (void)srt_http_route_match(text, space + 1, &allow, &e2); }
        (void)srt_http_bearer_ok(text, "secret");
        free(text);
    }
    return 0;
}
