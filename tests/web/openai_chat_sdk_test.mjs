// openai_chat_sdk_test.mjs: the official OpenAI Node SDK (`openai` from npm) against `snacrt serve --layout
// spoken-chat` with the tiny random-weight models (structure, not meaning): chat.completions.create with an
// input_audio WAV and modalities ["text","audio"], whole and streamed with the same seed (the streamed chunks'
// audio.data and transcript reassemble into the whole answer's WAV samples and transcript); a text answer, whole
// and streamed alike; audio.transcriptions.create with a file (json and text); an error as an SDK exception.
// Usage: node openai_chat_sdk_test.mjs BASE_URL WAV (tests/serve_openai_chat_sdk.py starts the server).
import OpenAI, { toFile } from "openai";
import { readFileSync } from "node:fs";

const [base, wavPath] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk-unused", maxRetries: 0, timeout: 120000 });
let failed = 0, passed = 0;
function check(ok, what) {
  if (ok) passed++;
  else { failed++; console.error(`FAIL openai_chat_sdk: ${what}`); }
}
const wav = readFileSync(wavPath);
const messages = [{ role: "user", content: [
  { type: "text", text: "What is in this recording?" },
  { type: "input_audio", input_audio: { data: wav.toString("base64"), format: "wav" } }] }];
const SOS = 128257;   // spoken-chat's start_of_speech: logit_bias makes the random model answer in audio

async function both(params) {
  const whole = await client.chat.completions.create({ ...params, messages });
  const stream = await client.chat.completions.create({ ...params, messages, stream: true,
                                                         stream_options: { include_usage: true } });
  let text = "", transcript = "", usage = null, finish = null;
  const pcm = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.finish_reason) finish = c.finish_reason;
    text += c.delta.content || "";
    const a = c.delta.audio;
    if (a?.transcript) transcript += a.transcript;
    if (a?.data) pcm.push(Buffer.from(a.data, "base64"));
  }
  return { whole, text, transcript, pcm: Buffer.concat(pcm), usage, finish };
}

// audio in, text and audio out
const a = await both({ model: "gpt-4o-audio-preview", modalities: ["text", "audio"],
                       audio: { voice: "alloy", format: "wav" }, seed: 7, max_completion_tokens: 40,
                       logit_bias: { [SOS]: 100 } });
const msg = a.whole.choices[0].message;
const data = Buffer.from(msg.audio?.data || "", "base64");
check(a.whole.object === "chat.completion" && msg.audio?.id && typeof msg.audio?.expires_at === "number" &&
      typeof msg.audio?.transcript === "string", `audio message: ${JSON.stringify(msg).slice(0, 300)}`);
check(data.subarray(0, 4).toString() === "RIFF" && data.readUInt32LE(24) === 24000 && data.length > 44,
      `audio data is a 24 kHz WAV with samples (${data.length} bytes)`);
const samples = data.subarray(44);
let maxDiff = samples.length === a.pcm.length ? 0 : Infinity;
for (let i = 0; maxDiff !== Infinity && i < samples.length; i += 2)
  maxDiff = Math.max(maxDiff, Math.abs(samples.readInt16LE(i) - a.pcm.readInt16LE(i)));
check(a.pcm.length > 0 && maxDiff <= 1, `streamed audio.data == the WAV's samples (${a.pcm.length} vs ` +
      `${samples.length} bytes, max diff ${maxDiff})`);
check(a.transcript === msg.audio?.transcript, "streamed transcript == whole");
check(a.usage?.completion_tokens === a.whole.usage.completion_tokens && a.finish === a.whole.choices[0].finish_reason,
      `streamed usage and finish == whole (${JSON.stringify(a.usage)} ${a.finish})`);

// text out
const t = await both({ model: "gpt-4o-audio-preview", seed: 3, max_completion_tokens: 12 });
check(typeof t.whole.choices[0].message.content === "string" && t.whole.choices[0].message.content.length > 0 &&
      t.text === t.whole.choices[0].message.content, `streamed text == whole (${JSON.stringify(t.text)})`);

// transcriptions
const tr = await client.audio.transcriptions.create({ file: await toFile(wav, "hello.wav"), model: "whisper-1",
                                                      temperature: 0 });
check(typeof tr.text === "string" && tr.text.length > 0, `transcription json: ${JSON.stringify(tr).slice(0, 200)}`);
const trText = await client.audio.transcriptions.create({ file: await toFile(wav, "hello.wav"), model: "whisper-1",
                                                          temperature: 0, response_format: "text" });
check(typeof trText === "string" && trText.replace(/\n$/, "") === tr.text, `transcription text == json's (${trText})`);

// an error
try {
  await client.chat.completions.create({ model: "gpt-4o-audio-preview", messages: [] });
  check(false, "empty messages succeeded");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && e.status === 400, `empty messages: ${e.status} ${e.message}`);
}

console.log(`openai_chat_sdk: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
