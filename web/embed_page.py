#!/usr/bin/env python3
"""embed_page.py: turn web/index.html into host/serve/http_page.c (the page `snacrt serve` shows at "/"), so the
binary is self-contained. Run after editing the page:  python3 web/embed_page.py
--check: exit 1 when http_page.c is not what this script would write (tests/test_serve_api.sh runs it)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "web", "index.html")
DST = os.path.join(ROOT, "host", "serve", "http_page.c")


def c_literal_lines(data: bytes):
    out = []
    for line in data.split(b"\n"):
        s = ['"']
        for b in line:
            c = chr(b)
            if c == "\\":
                s.append("\\\\")
            elif c == '"':
                s.append('\\"')
            elif c == "?":
                s.append("\\?")  # no trigraphs
            elif 32 <= b < 127:
                s.append(c)
            else:
                s.append("\\%03o" % b)
        s.append('\\n"')
        out.append("".join(s))
    if data.endswith(b"\n"):
        out.pop()  # the last split element is empty
    else:
        out[-1] = out[-1][:-3] + '"'  # no trailing newline in the file
    return out


def generate() -> str:
    with open(SRC, "rb") as f:
        data = f.read()
    lines = c_literal_lines(data)
    return (
        "/* http_page.c: the web page served at \"/\" by `snacrt serve`, generated from web/index.html by\n"
        " * web/embed_page.py (do not edit by hand; tests/test_serve_api.sh checks that it matches). */\n"
        "#include \"serve/http_server.h\"\n\n"
        "const char srt_http_page_html[] =\n    "
        + "\n    ".join(lines)
        + ";\n\nconst size_t srt_http_page_html_len = sizeof srt_http_page_html - 1;\n"
    )


def main():
    text = generate()
    if "--check" in sys.argv[1:]:
        try:
            with open(DST, encoding="utf-8") as f:
                cur = f.read()
        except OSError:
            cur = None
        if cur != text:
            print("embed_page.py: host/serve/http_page.c is out of date: run python3 web/embed_page.py",
                  file=sys.stderr)
            sys.exit(1)
        return
    with open(DST + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(DST + ".tmp", DST)


if __name__ == "__main__":
    main()
