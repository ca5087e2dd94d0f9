"""serve_openai_sdk.py: start `snacrt serve` with the tiny models under OpenAI's model names and run the official
OpenAI Node SDK against it (tests/web/openai_sdk_test.mjs); then OpenAI's documented curl request, unchanged,
when curl is installed. Run by tests/test_serve_openai_sdk.sh, which sees to node and npm first."""
import os
import shutil
import subprocess
import sys
import tempfile

from serve_util import Checker, SRC, Server, serving

C = Checker("serve_openai_sdk")


def main():
    with serving(C, Server("--max-tokens", 700, "--served-model-name", "gpt-4o-mini-tts", "--served-model-name",
                           "tts-1", name="openai-sdk")) as srv:
        url = f"http://127.0.0.1:{srv.port}"
        r = subprocess.run(["node", os.path.join(SRC, "tests/web/openai_sdk_test.mjs"), url],
                           cwd=os.path.join(SRC, "tests/web"), timeout=900)
        C.check(r.returncode == 0, f"OpenAI SDK test exit code {r.returncode}")
        if shutil.which("curl"):   # https://platform.openai.com/docs/guides/text-to-speech, as written there
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "speech.mp3")
                r = subprocess.run(["curl", "-sS", "-f", f"{url}/v1/audio/speech", "-H",
                                    "Authorization: Bearer $OPENAI_API_KEY", "-H", "Content-Type: application/json",
                                    "-d", '{"model": "gpt-4o-mini-tts", "input": "Today is a wonderful day to build '
                                    'something people love!", "voice": "coral", "instructions": "Speak in a cheerful '
                                    'and positive tone."}', "--output", out], timeout=120)
                data = open(out, "rb").read() if os.path.exists(out) else b""
                C.check(r.returncode == 0 and data[:1] == b"\xff" and data[1] & 0xe0 == 0xe0,
                        f"OpenAI's documented curl: exit {r.returncode}, {data[:16]!r}")
        m = srv.metrics()
        C.check("snacrt_time_to_first_byte_seconds_count" in m and
                "snacrt_time_to_first_byte_seconds_count 0\n" not in m, "time to first byte in /metrics")
    C.finish()


if __name__ == "__main__":
    main()
