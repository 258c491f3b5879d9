"""A TOML reader that imports nothing, for reading config before a program starts.

``tomllib`` (and ``tomli``) import ``typing``, ``datetime``, ``re`` and
``string``: loaded by ``globalhook run`` before the program's first line, those
could never be tracked, and programs that must patch modules before anything
imports them would break.

It never decides alone that a document is invalid: callers hand any document
it refuses (:class:`TOMLError` or :class:`Unsupported`) to the real
``tomllib``, which then gives the result or the error message.  So the one
promise this module must keep is that whatever it accepts, it reads exactly as
``tomllib`` does; a differential test holds it to that.  It reads the TOML 1.0
that pyproject.toml files are made of, and leaves to ``tomllib`` dates and
times (which would need ``datetime``), integers beyond 64 bits, and the few
doubtful ways of reopening a table (dotted keys into a table that a header
only named on the way, or into an array of tables).
"""

TYPE_CHECKING = False  # neither typing nor __future__ (annotations naming typing are strings)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Tuple

__all__ = ["MAX_DEPTH", "TOMLError", "TooDeep", "Unsupported", "loads"]


class TOMLError(ValueError):
    """Not valid TOML (the message is this reader's; ask ``tomllib`` for the real one)."""


class Unsupported(Exception):
    """Valid or not, a document this reader leaves to ``tomllib``."""


class TooDeep(Unsupported):
    """Arrays or inline tables nested deeper than :data:`MAX_DEPTH`.

    Found at that depth, before any deep recursion: the start-up hook gives
    up on such a file at once (no config is nested like that); commands
    still hand it to ``tomllib``.
    """


#: Nesting of arrays and inline tables this reader follows (pyproject.toml files use a handful).
MAX_DEPTH = 64


_SPACE = frozenset(" \t")
_BLANK = frozenset(" \t\n")
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_RADIX = {"0x": (16, _HEX), "0o": (8, frozenset("01234567")), "0b": (2, frozenset("01"))}
_NUMBER_START = _DEC | frozenset("+-in")
_SIGN = frozenset("+-")
_EXPONENT = frozenset("eE")
_ENDS = ("", "\n")
# Control characters may not appear raw in strings or comments (tab may; newline only in multi-line strings).
_CONTROL = frozenset(chr(i) for i in range(32) if i != 9) | {"\x7f"}
_CONTROL_MULTILINE = _CONTROL - {"\n"}
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}

# What made a table: the reader keeps it in ``kinds``, by id() (every table
# stays referenced from the result while reading, so ids stay unique).
# A table made by a dotted key has the number of its scope (the section or
# inline table whose key made it) as kind: only that scope may add to it.
_IMPLICIT = "implicit"  # named on the way to a header ([a.b] names a); [a] may still define it
_HEADER = "header"  # defined by [a] or [[a]]
_INLINE = "inline"  # {...}: closed to everything outside its braces


def loads(text: str) -> "Dict[str, Any]":
    """The document as ``tomllib.loads`` reads it, or TOMLError / Unsupported."""
    try:
        return _Reader(text.replace("\r\n", "\n")).document()
    except RecursionError:
        raise Unsupported("nested too deeply") from None


class _Reader:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0
        self.kinds: "Dict[int, Any]" = {}  # id(table) -> what made it (see above)
        self.arrays_of_tables = set()  # ids of the lists that [[...]] made
        self.scopes = 0  # numbers the sections and inline tables
        self.depth = 0  # arrays and inline tables open around the current value

    def error(self, message: str, pos: int = -1) -> TOMLError:
        pos = self.pos if pos < 0 else pos
        line = self.src.count("\n", 0, pos) + 1
        column = pos - self.src.rfind("\n", 0, pos)
        return TOMLError(f"{message} (at line {line}, column {column})")

    def char(self) -> str:
        return self.src[self.pos : self.pos + 1]

    def expect(self, text: str, what: str) -> None:
        if not self.src.startswith(text, self.pos):
            raise self.error(f"expected {what}")
        self.pos += len(text)

    def new_scope(self) -> int:
        self.scopes += 1
        return self.scopes

    # -- layout -------------------------------------------------------------

    def skip_space(self) -> None:
        src, pos = self.src, self.pos
        while src[pos : pos + 1] in _SPACE:
            pos += 1
        self.pos = pos

    def skip_comment(self) -> None:
        if self.char() == "#":
            end = self.src.find("\n", self.pos)
            end = len(self.src) if end < 0 else end
            if not _CONTROL.isdisjoint(self.src[self.pos : end]):
                raise self.error("control character in a comment")
            self.pos = end

    def skip_blank(self) -> None:
        """Spaces, comments and newlines (inside arrays)."""
        while True:
            self.skip_space()
            self.skip_comment()
            if self.char() != "\n":
                return
            self.pos += 1

    def document(self) -> "Dict[str, Any]":
        root: "Dict[str, Any]" = {}
        table, scope = root, self.new_scope()
        while True:
            self.skip_space()
            self.skip_comment()
            if self.char() == "":
                return root
            if self.char() == "\n":
                self.pos += 1
                continue
            if self.char() == "[":
                table, scope = self.header(root), self.new_scope()
            else:
                self.key_value(table, scope)
            self.skip_space()
            self.skip_comment()
            if self.char() not in _ENDS:
                raise self.error("expected the end of the line")

    # -- keys and tables ----------------------------------------------------

    def key(self) -> "Tuple[str, ...]":
        parts = []
        while True:
            self.skip_space()
            start = self.pos
            if self.char() in ('"', "'"):
                parts.append(self.string(self.char(), False))
            else:
                while self.src[self.pos : self.pos + 1] in _BARE:
                    self.pos += 1
                if self.pos == start:
                    raise self.error("expected a key")
                parts.append(self.src[start : self.pos])
            self.skip_space()
            if self.char() != ".":
                return tuple(parts)
            self.pos += 1

    def header(self, root: dict) -> dict:
        """Read ``[a.b]`` or ``[[a.b]]``; return the table that the lines below it fill."""
        start = self.pos
        self.pos += 1
        array = self.char() == "["
        if array:
            self.pos += 1
        keys = self.key()
        self.expect("]]" if array else "]", "']]'" if array else "']'")
        table = root
        for key in keys[:-1]:
            if key not in table:
                table[key] = {}
                self.kinds[id(table[key])] = _IMPLICIT
            child = table[key]
            if id(child) in self.arrays_of_tables:
                child = child[-1]
            elif not isinstance(child, dict) or self.kinds.get(id(child)) == _INLINE:
                raise self.error(f"{key!r} is not a table that a header may extend", start)
            table = child
        key = keys[-1]
        child = table.get(key)
        if array:
            if key not in table:
                table[key] = child = []
                self.arrays_of_tables.add(id(child))
            elif id(child) not in self.arrays_of_tables:
                raise self.error(f"{key!r} is defined already and is not an array of tables", start)
            new: dict = {}
            child.append(new)
        elif key not in table:
            new = table[key] = {}
        elif isinstance(child, dict) and self.kinds.get(id(child)) == _IMPLICIT:
            new = child
        else:
            raise self.error(f"{key!r} is defined already", start)
        self.kinds[id(new)] = _HEADER
        return new

    def key_value(self, table: dict, scope: int) -> None:
        start = self.pos
        keys = self.key()
        self.expect("=", "'='")
        self.skip_space()
        value = self.value()
        for key in keys[:-1]:
            if key not in table:
                table[key] = {}
                self.kinds[id(table[key])] = scope
            child = table[key]
            kind = self.kinds.get(id(child)) if isinstance(child, dict) else None
            if kind != scope:  # not made by this scope's own dotted keys
                if kind == _IMPLICIT or id(child) in self.arrays_of_tables or isinstance(kind, int):
                    raise Unsupported(f"a dotted key reopens table {key!r}")
                raise self.error(f"{key!r} is defined already", start)
            table = child
        if keys[-1] in table:
            raise self.error(f"{keys[-1]!r} is defined already", start)
        table[keys[-1]] = value

    # -- values -------------------------------------------------------------

    def value(self) -> "Any":
        c = self.char()
        if c == '"' or c == "'":
            return self.string(c, self.src.startswith(c * 3, self.pos))
        if c == "[" or c == "{":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise TooDeep(f"nested more than {MAX_DEPTH} deep")
            found = self.array() if c == "[" else self.inline_table()
            self.depth -= 1
            return found
        for word, value in (("true", True), ("false", False)):
            if self.src.startswith(word, self.pos):
                self.pos += len(word)
                return value
        if c in _NUMBER_START:
            return self.number()
        raise self.error("expected a value")

    def array(self) -> list:
        self.pos += 1
        items = []
        while True:
            self.skip_blank()
            if self.char() == "]":
                break
            items.append(self.value())
            self.skip_blank()
            if self.char() != ",":
                break
            self.pos += 1
        self.expect("]", "',' or ']'")
        return items

    def inline_table(self) -> dict:
        self.pos += 1
        table: dict = {}
        self.kinds[id(table)] = _INLINE
        scope = self.new_scope()
        self.skip_space()
        if self.char() != "}":
            while True:
                self.key_value(table, scope)
                self.skip_space()
                if self.char() != ",":
                    break
                self.pos += 1
        self.expect("}", "',' or '}'")
        return table

    def string(self, quote: str, multiline: bool) -> str:
        """A string from its opening quote(s): ``"`` strings have escapes, ``'`` strings do not."""
        src = self.src
        self.pos += 3 if multiline else 1
        if multiline and self.char() == "\n":
            self.pos += 1
        forbidden = _CONTROL_MULTILINE if multiline else _CONTROL
        out = []
        while True:
            end = src.find(quote, self.pos)  # the plain text runs to the next quote or backslash
            end = len(src) if end < 0 else end
            backslash = src.find("\\", self.pos, end) if quote == '"' else -1
            end = end if backslash < 0 else backslash
            run = src[self.pos : end]
            if not forbidden.isdisjoint(run):
                i = self.pos + min(run.index(c) for c in forbidden.intersection(run))
                raise self.error("unterminated string" if src[i] == "\n" else "control character in a string", i)
            out.append(run)
            self.pos = end
            if end == len(src):
                raise self.error("unterminated string")
            if src[end] == "\\":
                out.append(self.escape(multiline))
            elif not multiline:
                self.pos += 1
                return "".join(out)
            elif src.startswith(quote * 3, end):
                self.pos += 3
                while self.pos < end + 5 and self.char() == quote:
                    self.pos += 1  # up to two quotes just before the closing ones belong to the string
                out.append(quote * (self.pos - end - 3))
                return "".join(out)
            else:
                out.append(quote)
                self.pos += 1

    def escape(self, multiline: bool) -> str:
        c = self.src[self.pos + 1 : self.pos + 2]
        if c in _ESCAPES:
            self.pos += 2
            return _ESCAPES[c]
        if c == "u" or c == "U":
            size = 4 if c == "u" else 8
            digits = self.src[self.pos + 2 : self.pos + 2 + size]
            if len(digits) == size and all(d in _HEX for d in digits):
                code = int(digits, 16)
                if code < 0xD800 or 0xE000 <= code <= 0x10FFFF:
                    self.pos += 2 + size
                    return chr(code)
            raise self.error("invalid unicode escape")
        if multiline and c in _BLANK:  # a backslash ending a line trims all blanks after it
            self.pos += 1
            self.skip_space()
            if self.char() != "\n":
                raise self.error("backslash followed by spaces but not by a newline")
            while self.char() in _BLANK:
                self.pos += 1
            return ""
        raise self.error("invalid escape")

    def number(self) -> "Any":
        src, start = self.src, self.pos
        end = start
        while src[end : end + 1] in _DEC:
            end += 1
        if end > start and src[end : end + 1] in ("-", ":"):
            raise Unsupported("dates and times")
        if self.char() in _SIGN:
            self.pos += 1
        if src.startswith(("inf", "nan"), self.pos):
            self.pos += 3
            return float(src[start : self.pos])
        prefix = src[self.pos : self.pos + 2]
        if self.pos == start and prefix in _RADIX:
            self.pos += 2
            base, digits = _RADIX[prefix]
            value = int(self.digits(digits), base)
        else:
            integral = self.digits(_DEC)
            if integral[0] == "0" and len(integral) > 1:
                raise self.error("leading zero", start)
            fraction = self.char() == "."
            if fraction:
                self.pos += 1
                self.digits(_DEC)
            exponent = self.char() in _EXPONENT
            if exponent:
                self.pos += 1
                if self.char() in _SIGN:
                    self.pos += 1
                self.digits(_DEC)
            text = src[start : self.pos].replace("_", "")
            if fraction or exponent:
                return float(text)
            if len(integral) > 19:
                raise Unsupported("integer beyond 64 bits")
            value = int(text)
        if not -(2**63) <= value < 2**63:
            raise Unsupported("integer beyond 64 bits")
        return value

    def digits(self, allowed: "frozenset") -> str:
        """Digits with single underscores between them; returns them without the underscores."""
        start = self.pos
        while True:
            if self.char() not in allowed:
                raise self.error("expected a digit")
            while self.char() in allowed:
                self.pos += 1
            if self.char() != "_":
                return self.src[start : self.pos].replace("_", "")
            self.pos += 1
