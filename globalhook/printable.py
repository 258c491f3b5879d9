"""The one printer: untrusted text reaches a terminal without forging output.

Module names, function names, file paths, test ids, commands and notes in a
data file come from the program that was run (or from whoever wrote the
file).  A newline in one would fake report lines; an ANSI escape could clear
the screen, retitle the window or hide lines; a bidirectional override
(U+202E) could show a name reversed.  Two layers keep that out:

- :func:`printable` for each untrusted field, where a view builds its lines:
  the field shows as itself, or as its ``repr()`` (newlines included);
- :class:`EscapingStream` around stdout and stderr while a command runs, so
  that whatever a view forgot (or argparse echoes back) still cannot reach
  the terminal as a control character: :func:`escape_controls`.

The JSON outputs are already safe (``json`` escapes control characters and,
with ``ensure_ascii``, everything outside ASCII).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not from typing: imported by every tracked process at exit
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, TextIO

__all__ = ["printable", "escape_controls", "EscapingStream"]


def printable(text: str) -> str:
    """``text`` itself when every character prints as itself, else its ``repr()``.

    The quotes of the ``repr()`` show that the text was escaped.  "Printable"
    is ``str.isprintable()``: no control characters (newline, tab, ESC),
    format characters (bidirectional overrides), separators other than
    space, or lone surrogates.
    """
    return text if text.isprintable() else repr(text)


def escape_controls(text: str) -> str:
    """``text`` with every non-printable character but the newline escaped as ``repr()`` does.

    For whole lines of output, whose newlines are meant: ESC becomes the four
    characters ``\\x1b``, U+202E the six characters ``\\u202e``.  Output that
    is already clean (nearly always) is returned as it is, checked at C speed.
    """
    if text.replace("\n", "").isprintable():
        return text
    return "".join(char if char == "\n" or char.isprintable() else repr(char)[1:-1] for char in text)


class EscapingStream:
    """A text stream that passes everything written through :func:`escape_controls`.

    globalhook's commands (never a tracked program) write through it; any
    other attribute is the wrapped stream's.
    """

    def __init__(self, stream: "TextIO") -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text))
        return len(text)

    def writelines(self, lines: "Any") -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> "Any":
        return getattr(self._stream, name)
