"""serve_chat_route.py: POST /v1/chat/completions and /v1/audio/transcriptions of `snacrt serve --layout
spoken-chat` with the tiny random-weight models (structure, not meaning; tests/test_serve_chat_route.sh).
- text answer: non-streamed content == the streamed chunks' delta.content joined (same seed); usage; [DONE] last
- audio answer (input_audio WAV + modalities ["text","audio"], logit_bias forcing start_of_speech): message.audio
  {id, data (a 24 kHz mono WAV), transcript, expires_at}; the streamed delta.audio.data (pcm16) joined == the WAV's
  samples, the transcripts alike; usage counts audio tokens
- transcription of a WAV via multipart: json, text and verbose_json answer the same text (greedy)
- errors: OpenAI error objects (bad JSON, missing file); /metrics counts both routes; a layout without a "chat"
  section answering in text (orpheus: audio only) answers 400 naming the layout."""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import time  # noqa: E402
from serve_util import SRC, Checker, Server, metric_value, wav_info, pcm_max_diff, sanitizer_report  # noqa: E402

ck = Checker("serve_chat_route")
WAV = open(os.path.join(SRC, "tests/data/speech/hello.wav"), "rb").read()
SOS = 128257   # spoken-chat's start_of_speech: switches the answer to audio


def sse_events(body):
    events = [e for e in body.decode().split("\n\n") if e.strip()]
    ok = all(e.startswith("data: ") for e in events)
    return ok, [e[len("data: "):] for e in events]


def chat(srv, stream, **extra):
    body = {"model": "gpt-4o-audio-preview", "seed": 7, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "input_audio", "input_audio": {"data": base64.b64encode(WAV).decode(),
                                                                             "format": "wav"}}]}], **extra}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return srv.request("POST", "/v1/chat/completions", body)


def streamed(srv, **extra):
    status, h, body = chat(srv, True, **extra)
    ck.check(status == 200 and h.get("content-type", "").startswith("text/event-stream"),
             f"streamed chat: 200 text/event-stream (got {status} {h.get('content-type')}: {body[:200]!r})")
    ok, data = sse_events(body)
    ck.check(ok and data and data[-1] == "[DONE]", f"streamed chat: data: events ending with [DONE] ({body[-200:]!r})")
    chunks = [json.loads(d) for d in data[:-1]]
    ck.check(all(c["object"] == "chat.completion.chunk" for c in chunks), "every event is a chat.completion.chunk")
    ck.check(len({c["id"] for c in chunks}) == 1, "one id across the chunks")
    ck.check(chunks[0]["choices"][0]["delta"].get("role") == "assistant", "the first chunk says role assistant")
    usage = [c for c in chunks if c.get("usage")]
    ck.check(len(usage) == 1 and usage[0]["choices"] == [] and chunks[-1] is usage[0],
             "include_usage: one last usage chunk without choices")
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    ck.check(finish in (["length"], ["stop"]), f"one finish_reason ({finish})")
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    return deltas, usage[0]["usage"] if usage else {}, finish


srv = Server("--layout", "spoken-chat", "--threads", "2", "--max-tokens", "48", name="serve-chat")
try:
    # ---- text answer
    status, h, body = chat(srv, False, max_completion_tokens=10)
    ck.check(status == 200 and h.get("content-type") == "application/json", f"chat: 200 JSON ({status} {body[:300]!r})")
    doc = json.loads(body) if status == 200 else {}
    msg = doc.get("choices", [{}])[0].get("message", {})
    ck.check(doc.get("object") == "chat.completion" and msg.get("role") == "assistant" and
             isinstance(msg.get("content"), str) and msg["content"] and "audio" not in msg,
             f"chat: a text message ({str(doc)[:300]})")
    u = doc.get("usage", {})
    ck.check(u.get("completion_tokens") == 10 and u.get("prompt_tokens", 0) > 10 and
             u.get("total_tokens") == u.get("prompt_tokens", 0) + 10 and doc["choices"][0]["finish_reason"] == "length",
             f"chat: usage and finish_reason length ({u})")
    pd = u.get("prompt_tokens_details", {})
    ck.check(pd.get("audio_tokens", 0) > 0 and pd["audio_tokens"] % 7 == 0 and
             pd.get("text_tokens", 0) > 0 and pd["text_tokens"] + pd["audio_tokens"] == u.get("prompt_tokens"),
             f"chat: prompt_tokens_details splits the prompt into text and the input audio's ids ({pd})")
    deltas, su, _ = streamed(srv, max_completion_tokens=10)
    text = "".join(d.get("content") or "" for d in deltas)
    ck.check(text == msg.get("content"), f"streamed text == non-streamed ({text!r} vs {msg.get('content')!r})")
    ck.check(su.get("completion_tokens") == 10, f"streamed usage ({su})")

    # ---- audio answer
    audio_req = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"},
                 "max_completion_tokens": 40, "logit_bias": {str(SOS): 100}}
    status, h, body = chat(srv, False, **audio_req)
    doc = json.loads(body) if status == 200 else {}
    msg = doc.get("choices", [{}])[0].get("message", {}) if doc else {}
    au = msg.get("audio") or {}
    ck.check(status == 200 and msg.get("content") is None and
             {"id", "data", "transcript", "expires_at"} <= set(au), f"audio chat: message.audio ({str(doc)[:300]})")
    wav = base64.b64decode(au.get("data", "")) if au else b""
    info = wav_info(wav) if wav[:4] == b"RIFF" else None
    ck.check(info is not None and info[:3] == (1, 2, 24000) and info[3] > 0,
             f"audio chat: data is a 24 kHz mono s16 WAV with samples ({info[:4] if info else None})")
    u = doc.get("usage", {}).get("completion_tokens_details", {})
    ck.check(u.get("audio_tokens", 0) > 0, f"audio chat: usage counts audio tokens ({doc.get('usage')})")
    deltas, su, _ = streamed(srv, **audio_req)
    pcm = b"".join(base64.b64decode(d["audio"]["data"]) for d in deltas if d.get("audio", {}).get("data"))
    transcript = "".join(d["audio"].get("transcript", "") for d in deltas if d.get("audio"))
    diff = pcm_max_diff(info[4] if info else b"", pcm)
    ck.check(len(pcm) > 0 and diff is not None and diff <= 1,
             f"streamed pcm16 == the non-streamed WAV's samples, to 1 step of rounding ({len(pcm)} bytes, diff {diff})")
    ck.check(transcript == au.get("transcript"), "streamed transcript == non-streamed")
    ck.check(not any("content" in d and d["content"] for d in deltas), "audio answers carry no delta.content")
    ck.check(su.get("completion_tokens_details", {}).get("audio_tokens") == u.get("audio_tokens"),
             f"streamed usage == non-streamed ({su})")

    # ---- transcriptions
    def transcribe(fmt, file=WAV):
        b = "snacrtBoundary7"
        parts = [("model", None, b"whisper-1"), ("response_format", None, fmt.encode()), ("temperature", None, b"0")]
        if file is not None:
            parts.append(("file", "hello.wav", file))
        body = b"".join(f"--{b}\r\nContent-Disposition: form-data; name=\"{n}\"".encode() +
                        (f"; filename=\"{fn}\"\r\nContent-Type: audio/wav".encode() if fn else b"") +
                        b"\r\n\r\n" + v + b"\r\n" for n, fn, v in parts) + f"--{b}--\r\n".encode()
        return srv.request("POST", "/v1/audio/transcriptions", body,
                           headers={"Content-Type": f"multipart/form-data; boundary={b}"})
    status, h, body = transcribe("json")
    doc = json.loads(body) if status == 200 else {}
    ck.check(status == 200 and isinstance(doc.get("text"), str) and doc["text"], f"transcription json ({status} {body[:200]!r})")
    status, h, tbody = transcribe("text")
    ck.check(status == 200 and h.get("content-type", "").startswith("text/plain") and
             tbody.decode().rstrip("\n") == doc.get("text"), f"transcription text == json's ({tbody[:100]!r})")
    status, h, vbody = transcribe("verbose_json")
    v = json.loads(vbody) if status == 200 else {}
    ck.check(v.get("text") == doc.get("text") and v.get("task") == "transcribe", f"verbose_json ({vbody[:200]!r})")
    status, h, body = transcribe("json", file=None)
    ck.check(status == 400 and json.loads(body)["error"]["param"] == "file", f"no file: 400 naming it ({body[:200]!r})")
    status, h, body = srv.request("POST", "/v1/chat/completions", b"{not json")
    ck.check(status == 400 and "error" in json.loads(body), f"bad JSON: 400 error object ({body[:200]!r})")
    want = ('snacrt_http_requests_total{path="/v1/chat/completions",code="200"} 4',
            'snacrt_http_requests_total{path="/v1/audio/transcriptions",code="200"} 3')
    t0 = time.time()
    while True:   # a request is counted when MHD completes it, which may come just after the client has its answer
        m = srv.metrics()
        if all(w in m for w in want) or time.time() - t0 > 5:
            break
        time.sleep(0.05)
    ck.check('snacrt_http_requests_total{path="/v1/chat/completions",code="200"} 4' in m and
             'snacrt_http_requests_total{path="/v1/audio/transcriptions",code="200"} 3' in m,
             "/metrics counts both routes")
finally:
    srv.stop()
log = srv.log()
ck.check(not sanitizer_report(log), "no sanitizer report")

srv = Server("--threads", "2", "--max-tokens", "4000", name="serve-chat-orpheus")   # orpheus: answers in audio only
try:
    status, _, body = chat(srv, False)
    err = json.loads(body).get("error", {}) if body else {}
    ck.check(status == 400 and err.get("param") == "modalities",
             f"orpheus: a text chat answers 400 naming modalities ({body[:300]!r})")
    b = "B0"
    mp = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n").encode() + WAV + \
        f"\r\n--{b}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--{b}--\r\n".encode()
    status, _, body = srv.request("POST", "/v1/audio/transcriptions", mp,
                                  headers={"Content-Type": f"multipart/form-data; boundary={b}"})
    err = json.loads(body).get("error", {}) if body else {}
    ck.check(status == 400 and "layout" in err.get("message", "") and "spoken-chat" in err.get("message", ""),
             f"orpheus: a transcription answers 400 naming the layout it needs ({body[:300]!r})")
    # a streamed audio answer whose client hangs up after the first chunk is cancelled (same machinery as speech)
    c = srv.conn(30)
    body = json.dumps({"model": "m", "modalities": ["text", "audio"], "stream": True, "max_completion_tokens": 4000,
                       "messages": [{"role": "user", "content": "Say something long."}]})
    c.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    first = r.read(6)
    c.close()
    t0, m = time.time(), ""
    while time.time() - t0 < 10:
        m = srv.metrics()
        if (metric_value(m, "snacrt_http_cancelled_total", 'reason="client_gone"') or 0) >= 1:
            break
        time.sleep(0.05)
    ck.check(r.status == 200 and first.startswith(b"data: ") and
             metric_value(m, "snacrt_http_cancelled_total", 'reason="client_gone"') == 1,
             f"a streamed chat whose client hangs up is cancelled ({r.status} {first[:80]!r}, "
             f"{time.time() - t0:.2f} s)")
    t0 = time.time()
    while True:    # the engine drops it at its next step
        status, _, body = srv.request("GET", "/health")
        if (status == 200 and json.loads(body)["running"] == 0) or time.time() - t0 > 5:
            break
        time.sleep(0.05)
    cancelled = metric_value(srv.metrics(), "snacrt_engine_requests_total", 'result="cancelled"')
    ck.check(status == 200 and json.loads(body)["running"] == 0 and cancelled == 1,
             f"the engine dropped it as cancelled ({body!r}, cancelled {cancelled})")
finally:
    srv.stop()
ck.check(not sanitizer_report(srv.log()), "no sanitizer report (orpheus server)")
ck.finish()
