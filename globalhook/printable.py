"""Show untrusted text on a terminal without letting it forge output.

Module names, function names, file paths, commands and notes in a data file
come from the program that was run (or from whoever wrote the file).  A
newline in one would fake report lines, an ANSI escape could recolour or
hide them.  Text reports and messages pass every such string through
:func:`printable` first; the JSON report is already safe (``json`` escapes
control characters).
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` itself when every character prints as itself, else its ``repr()``.

    The quotes of the ``repr()`` show that the text was escaped.  "Printable"
    is ``str.isprintable()``: no control characters (newline, tab, ESC),
    format characters (bidirectional overrides), separators other than
    space, or lone surrogates.
    """
    return text if text.isprintable() else repr(text)
