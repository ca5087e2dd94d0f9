"""serve_openai_chat_sdk.py: start `snacrt serve --layout spoken-chat` with the tiny models and run the official
OpenAI Node SDK's chat and transcription calls against it (tests/web/openai_chat_sdk_test.mjs). Run by
tests/test_serve_openai_chat_sdk.sh, which sees to node and npm first."""
import os
import subprocess
import sys

from serve_util import Checker, SRC, Server, serving

C = Checker("serve_openai_chat_sdk")


def main():
    with serving(C, Server("--layout", "spoken-chat", "--threads", "2", "--max-tokens", "48",
                           name="openai-chat-sdk")) as srv:
        url = f"http://127.0.0.1:{srv.port}"
        r = subprocess.run(["node", os.path.abspath(os.path.join(SRC, "tests/web/openai_chat_sdk_test.mjs")), url,
                            os.path.abspath(os.path.join(SRC, "tests/data/speech/hello.wav"))],
                           cwd=os.path.join(SRC, "tests/web"), timeout=300)
        C.check(r.returncode == 0, f"OpenAI SDK chat test exit code {r.returncode}")
    C.finish()


if __name__ == "__main__":
    main()
