"""Show the file name of a docs example's file block as the block's caption.

A page writes a file of a runnable example as a fence whose info string names
it (```` ```python file=shop/tax.py ````, see tests/test_docs_examples.py).
Markdown renderers ignore everything after the language, so before MyST
parses a page, each such fence becomes a ``code-block`` with that caption.
"""

from __future__ import annotations

import re

FILE_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<language>[\w+-]+)[ \t]+file=(?P<path>\S+)[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                        re.M | re.S)


def with_captions(text: str) -> str:
    def caption(match: "re.Match[str]") -> str:
        fence, body = match.group("fence"), match.group("body")
        if not body.strip():
            body = "# (an empty file)\n"
        return f"{fence}{{code-block}} {match.group('language')}\n:caption: `{match.group('path')}`\n\n{body}{fence}"

    return FILE_FENCE.sub(caption, text)


def _source_read(app, docname, source) -> None:
    source[0] = with_captions(source[0])


def setup(app):
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
