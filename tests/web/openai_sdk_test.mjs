// openai_sdk_test.mjs: the official OpenAI Node SDK (`openai` from npm) against `snacrt serve`, as a user's app
// calls it: audio.speech.create in every format (mp3 default, opus, wav, pcm, flac; aac refused naming the
// supported ones), stream_format "audio" and "sse" read as they arrive (the first audio must come before the
// answer is complete: both times are printed), speed, OpenAI's voice names and models.list / models.retrieve, an unknown
// model (404 model_not_found). Usage: node openai_sdk_test.mjs BASE_URL (the server was started with
// --served-model-name gpt-4o-mini-tts --served-model-name tts-1 by tests/serve_openai_sdk.py).
import OpenAI from "openai";

const base = process.argv[2];
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk-unused", maxRetries: 0, timeout: 120000 });
let failed = 0, passed = 0;
function check(ok, what) {
  if (ok) passed++;
  else { failed++; console.error(`FAIL openai_sdk: ${what}`); }
}
const input = "Today is a wonderful day to build something people love!";
const magic = {
  mp3: (b) => b[0] === 0xff && (b[1] & 0xe0) === 0xe0,
  opus: (b) => b.subarray(0, 4).toString() === "OggS" && b.includes("OpusHead"),
  wav: (b) => b.subarray(0, 4).toString() === "RIFF" && b.subarray(8, 12).toString() === "WAVE",
  flac: (b) => b.subarray(0, 4).toString() === "fLaC",
  pcm: (b) => b.length > 0 && b.length % 2 === 0,
};

// models
const list = await client.models.list();
const ids = list.data.map((m) => m.id);
check(ids.includes("gpt-4o-mini-tts") && ids.includes("tts-1"), `models.list: ${ids}`);
const one = await client.models.retrieve("gpt-4o-mini-tts");
check(one.id === "gpt-4o-mini-tts" && one.object === "model", `models.retrieve: ${JSON.stringify(one)}`);
for (const call of [() => client.models.retrieve("no-such-model"),
                    () => client.audio.speech.create({ model: "no-such-model", voice: "alloy", input })]) {
  try { await call(); check(false, "an unknown model succeeded"); }
  catch (e) {
    check(e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === "model_not_found",
          `unknown model: ${e.status} ${e.code} ${e.message}`);
  }
}

// every format, whole; OpenAI's default (no response_format) is mp3
for (const fmt of [undefined, "mp3", "opus", "wav", "pcm", "flac"]) {
  const res = await client.audio.speech.create({ model: "gpt-4o-mini-tts", voice: "coral", input,
    instructions: "Speak in a cheerful and positive tone.", ...(fmt ? { response_format: fmt } : {}),
    seed: 7, max_tokens: 84 });
  const b = Buffer.from(await res.arrayBuffer());
  check(res.status === 200 && magic[fmt || "mp3"](b), `format ${fmt}: ${res.status} ${b.length} bytes ` +
        `${res.headers.get("content-type")} ${b.subarray(0, 8).toString("hex")}`);
}
try {
  await client.audio.speech.create({ model: "tts-1", voice: "alloy", input, response_format: "aac" });
  check(false, "aac succeeded");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && /mp3, opus, wav, pcm, flac/.test(e.message), `aac: ${e.message}`);
}

// OpenAI's voice names (the layout's aliases) and case
for (const voice of ["alloy", "ash", "ballad", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse", "Tara"]) {
  const res = await client.audio.speech.create({ model: "tts-1", voice, input: "Hi.", response_format: "pcm",
    max_tokens: 14 });
  check(res.status === 200, `voice ${voice}: ${res.status}`);
  await res.arrayBuffer();
}

// streaming as the SDK asks for it: the first audio arrives before the answer is complete
async function timed(res) {
  const t0 = performance.now();
  const reader = res.body.getReader();
  const chunks = [];
  let first = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (value.length && first === null) first = performance.now() - t0;
    chunks.push(Buffer.from(value));
  }
  return { first, end: performance.now() - t0, body: Buffer.concat(chunks), n: chunks.length };
}
const long = "The quick brown fox jumps over the lazy dog, again and again, while the sun goes down slowly.";
for (const fmt of ["mp3", "opus", "wav", "pcm"]) {
  const t0 = performance.now();
  const res = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: long, response_format: fmt,
    stream_format: "audio", seed: 3, max_tokens: 420 });
  const head = performance.now() - t0;
  const t = await timed(res);
  const first = head + t.first, end = head + t.end;
  console.log(`openai_sdk: stream_format audio ${fmt}: first audio byte at ${first.toFixed(0)} ms, ` +
              `complete at ${end.toFixed(0)} ms, ${t.body.length} bytes in ${t.n} reads`);
  check(magic[fmt](t.body), `stream ${fmt}: bytes are ${fmt}`);
  check(t.first !== null && first < 0.8 * end, `stream ${fmt}: first byte ${first.toFixed(0)} ms is not ` +
        `well before the end ${end.toFixed(0)} ms`);
}
{
  const t0 = performance.now();
  const res = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: long, response_format: "mp3",
    stream_format: "sse", seed: 3, max_tokens: 420 });
  check((res.headers.get("content-type") || "").startsWith("text/event-stream"), "sse content type");
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = "", firstDelta = null, deltas = 0, done = null, audio = [];
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += dec.decode(value, { stream: true });
    let at;
    while ((at = text.indexOf("\n\n")) >= 0) {
      const ev = text.slice(0, at);
      text = text.slice(at + 2);
      const data = JSON.parse(ev.replace(/^data: /, ""));
      if (data.type === "speech.audio.delta") {
        if (firstDelta === null) firstDelta = performance.now() - t0;
        deltas++;
        audio.push(Buffer.from(data.audio, "base64"));
      } else if (data.type === "speech.audio.done") done = data;
      else check(false, `unknown event ${ev.slice(0, 80)}`);
    }
  }
  const endMs = performance.now() - t0;
  console.log(`openai_sdk: stream_format sse mp3: first delta at ${firstDelta?.toFixed(0)} ms, complete at ` +
              `${endMs.toFixed(0)} ms, ${deltas} deltas, usage ${JSON.stringify(done?.usage)}`);
  check(deltas > 1 && magic.mp3(Buffer.concat(audio)), `sse: ${deltas} deltas of mp3`);
  check(done && done.usage && done.usage.output_tokens > 0 &&
        done.usage.total_tokens === done.usage.input_tokens + done.usage.output_tokens, `sse done: ${JSON.stringify(done)}`);
  check(firstDelta !== null && firstDelta < 0.8 * endMs, `sse: first delta ${firstDelta} ms not well before ${endMs} ms`);
}
// speed: time-stretched without pitch change, whole and streamed alike (84 tokens = 12 frames of 2048 samples)
for (const [speed, stream] of [[2, false], [2, true], [0.5, true]]) {
  const res = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input, response_format: "pcm", speed,
    seed: 7, max_tokens: 84, ...(stream ? { stream_format: "audio" } : {}) });
  const n = Buffer.from(await res.arrayBuffer()).length / 2, want = 12 * 2048 / speed;
  check(res.status === 200 && Math.abs(n - want) < 0.1 * want && res.headers.get("x-snacrt-speed") === String(speed),
        `speed ${speed}${stream ? " streamed" : ""}: ${n} samples, want about ${want}`);
}
console.log(`openai_sdk: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
