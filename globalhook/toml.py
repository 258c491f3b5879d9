"""A TOML reader that imports nothing, for reading config before a program starts.

``tomllib`` (and ``tomli``) import ``typing``, ``datetime``, ``re`` and
``string``: loaded by ``globalhook run`` before the program's first line, those
could never be tracked, and programs that must patch modules before anything
imports them would break.  This reader is a port of tomli's parser (MIT,
Copyright 2021 Taneli Hukkinen; the same code is CPython's ``tomllib``) with
those imports taken out: numbers are matched by hand, and dates and times,
which would need ``datetime``, raise :class:`Unsupported`.

It never decides alone that a document is invalid: callers hand any document
it refuses (:class:`TOMLError` or :class:`Unsupported`) to the real
``tomllib``, which then gives the result or the error message.  So the one
promise this module must keep is that whatever it accepts, it reads exactly as
``tomllib`` does; a differential test holds it to that.
"""

TYPE_CHECKING = False  # neither typing nor __future__ (annotations naming typing are strings)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, FrozenSet, List, Tuple

    Key = Tuple[str, ...]

__all__ = ["TOMLError", "Unsupported", "loads"]


class TOMLError(ValueError):
    """Not valid TOML (the message is this reader's; ask ``tomllib`` for the real one)."""


class Unsupported(Exception):
    """Valid or not, a document this reader leaves to ``tomllib`` (dates and times)."""


_ASCII_CTRL = frozenset(chr(i) for i in range(32)) | frozenset(chr(127))
_ILLEGAL_BASIC_STR_CHARS = _ASCII_CTRL - frozenset("\t")
_ILLEGAL_MULTILINE_BASIC_STR_CHARS = _ASCII_CTRL - frozenset("\t\n")
_ILLEGAL_COMMENT_CHARS = _ILLEGAL_BASIC_STR_CHARS
_WS = frozenset(" \t")
_WS_AND_NEWLINE = _WS | frozenset("\n")
_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_KEY_INITIAL_CHARS = _BARE_KEY_CHARS | frozenset("\"'")
_ESCAPES = {
    "\\b": "\u0008",
    "\\t": "\u0009",
    "\\n": "\u000A",
    "\\f": "\u000C",
    "\\r": "\u000D",
    '\\"': "\u0022",
    "\\\\": "\u005C",
}

# Flags on keys (tomllib's Flags): an inline table or array is frozen; a
# table made by a [header] (or by dotted keys) cannot be declared again.
_FROZEN = 0
_EXPLICIT_NEST = 1


def loads(text: str) -> "Dict[str, Any]":
    """The document as dicts, lists, str, int, float and bool, as ``tomllib.loads`` gives it."""
    src = text.replace("\r\n", "\n")
    pos = 0
    data: "Dict[str, Any]" = {}
    flags = _Flags()
    header: "Key" = ()
    while True:
        pos = _skip(src, pos, _WS)
        try:
            char = src[pos]
        except IndexError:
            break
        if char == "\n":
            pos += 1
            continue
        if char in _KEY_INITIAL_CHARS:
            pos = _key_value_rule(src, pos, data, flags, header)
            pos = _skip(src, pos, _WS)
        elif char == "[":
            flags.finalize_pending()
            if src.startswith("[[", pos):
                pos, header = _create_list_rule(src, pos, data, flags)
            else:
                pos, header = _create_dict_rule(src, pos, data, flags)
            pos = _skip(src, pos, _WS)
        elif char != "#":
            raise _error(src, pos, "Invalid statement")
        pos = _skip_comment(src, pos)
        try:
            char = src[pos]
        except IndexError:
            break
        if char != "\n":
            raise _error(src, pos, "Expected newline or end of document after a statement")
        pos += 1
    return data


class _Flags:
    def __init__(self) -> None:
        self._flags: "Dict[str, dict]" = {}
        self._pending: "List[Tuple[Key, int]]" = []

    def add_pending(self, key: "Key", flag: int) -> None:
        self._pending.append((key, flag))

    def finalize_pending(self) -> None:
        for key, flag in self._pending:
            self.set(key, flag, recursive=False)
        self._pending.clear()

    def unset_all(self, key: "Key") -> None:
        cont = self._flags
        for k in key[:-1]:
            if k not in cont:
                return
            cont = cont[k]["nested"]
        cont.pop(key[-1], None)

    def set(self, key: "Key", flag: int, *, recursive: bool) -> None:
        cont = self._flags
        for k in key:
            if k not in cont:
                cont[k] = {"flags": set(), "recursive_flags": set(), "nested": {}}
            last = cont[k]
            cont = last["nested"]
        last["recursive_flags" if recursive else "flags"].add(flag)

    def is_(self, key: "Key", flag: int) -> bool:
        if not key:
            return False
        cont = self._flags
        for k in key[:-1]:
            if k not in cont:
                return False
            inner = cont[k]
            if flag in inner["recursive_flags"]:
                return True
            cont = inner["nested"]
        if key[-1] in cont:
            inner = cont[key[-1]]
            return flag in inner["flags"] or flag in inner["recursive_flags"]
        return False


def _get_or_create_nest(data: dict, key: "Key", access_lists: bool = True) -> dict:
    cont: "Any" = data
    for k in key:
        if k not in cont:
            cont[k] = {}
        cont = cont[k]
        if access_lists and isinstance(cont, list):
            cont = cont[-1]
        if not isinstance(cont, dict):
            raise KeyError("There is no nest behind this key")
    return cont


def _append_nest_to_list(data: dict, key: "Key") -> None:
    cont = _get_or_create_nest(data, key[:-1])
    last = key[-1]
    if last in cont:
        items = cont[last]
        if not isinstance(items, list):
            raise KeyError("An object other than list found behind this key")
        items.append({})
    else:
        cont[last] = [{}]


def _skip(src: str, pos: int, chars: "FrozenSet[str]") -> int:
    try:
        while src[pos] in chars:
            pos += 1
    except IndexError:
        pass
    return pos


def _skip_until(src: str, pos: int, expect: str, error_on: "FrozenSet[str]", error_on_eof: bool) -> int:
    new_pos = src.find(expect, pos)
    if new_pos < 0:
        new_pos = len(src)
        if error_on_eof:
            raise _error(src, new_pos, f"Expected {expect!r}")
    if not error_on.isdisjoint(src[pos:new_pos]):
        while src[pos] not in error_on:
            pos += 1
        raise _error(src, pos, f"Found invalid character {src[pos]!r}")
    return new_pos


def _skip_comment(src: str, pos: int) -> int:
    if src.startswith("#", pos):
        return _skip_until(src, pos + 1, "\n", _ILLEGAL_COMMENT_CHARS, error_on_eof=False)
    return pos


def _skip_comments_and_array_ws(src: str, pos: int) -> int:
    while True:
        before = pos
        pos = _skip(src, pos, _WS_AND_NEWLINE)
        pos = _skip_comment(src, pos)
        if pos == before:
            return pos


def _create_dict_rule(src: str, pos: int, data: dict, flags: _Flags) -> "Tuple[int, Key]":
    pos = _skip(src, pos + 1, _WS)
    pos, key = _parse_key(src, pos)
    if flags.is_(key, _EXPLICIT_NEST) or flags.is_(key, _FROZEN):
        raise _error(src, pos, f"Cannot declare {key} twice")
    flags.set(key, _EXPLICIT_NEST, recursive=False)
    try:
        _get_or_create_nest(data, key)
    except KeyError:
        raise _error(src, pos, "Cannot overwrite a value") from None
    if not src.startswith("]", pos):
        raise _error(src, pos, "Expected ']' at the end of a table declaration")
    return pos + 1, key


def _create_list_rule(src: str, pos: int, data: dict, flags: _Flags) -> "Tuple[int, Key]":
    pos = _skip(src, pos + 2, _WS)
    pos, key = _parse_key(src, pos)
    if flags.is_(key, _FROZEN):
        raise _error(src, pos, f"Cannot mutate immutable namespace {key}")
    flags.unset_all(key)
    flags.set(key, _EXPLICIT_NEST, recursive=False)
    try:
        _append_nest_to_list(data, key)
    except KeyError:
        raise _error(src, pos, "Cannot overwrite a value") from None
    if not src.startswith("]]", pos):
        raise _error(src, pos, "Expected ']]' at the end of an array declaration")
    return pos + 2, key


def _key_value_rule(src: str, pos: int, data: dict, flags: _Flags, header: "Key") -> int:
    pos, key, value = _parse_key_value_pair(src, pos)
    parent, stem = key[:-1], key[-1]
    abs_parent = header + parent
    for i in range(1, len(key)):
        cont_key = header + key[:i]
        if flags.is_(cont_key, _EXPLICIT_NEST):
            raise _error(src, pos, f"Cannot redefine namespace {cont_key}")
        flags.add_pending(cont_key, _EXPLICIT_NEST)
    if flags.is_(abs_parent, _FROZEN):
        raise _error(src, pos, f"Cannot mutate immutable namespace {abs_parent}")
    try:
        nest = _get_or_create_nest(data, abs_parent)
    except KeyError:
        raise _error(src, pos, "Cannot overwrite a value") from None
    if stem in nest:
        raise _error(src, pos, "Cannot overwrite a value")
    if isinstance(value, (dict, list)):
        flags.set(header + key, _FROZEN, recursive=True)
    nest[stem] = value
    return pos


def _parse_key_value_pair(src: str, pos: int) -> "Tuple[int, Key, Any]":
    pos, key = _parse_key(src, pos)
    if not src.startswith("=", pos):
        raise _error(src, pos, "Expected '=' after a key in a key/value pair")
    pos = _skip(src, pos + 1, _WS)
    pos, value = _parse_value(src, pos)
    return pos, key, value


def _parse_key(src: str, pos: int) -> "Tuple[int, Key]":
    pos, part = _parse_key_part(src, pos)
    key: "Key" = (part,)
    pos = _skip(src, pos, _WS)
    while src.startswith(".", pos):
        pos = _skip(src, pos + 1, _WS)
        pos, part = _parse_key_part(src, pos)
        key += (part,)
        pos = _skip(src, pos, _WS)
    return pos, key


def _parse_key_part(src: str, pos: int) -> "Tuple[int, str]":
    char = src[pos : pos + 1]
    if char and char in _BARE_KEY_CHARS:
        start = pos
        pos = _skip(src, pos, _BARE_KEY_CHARS)
        return pos, src[start:pos]
    if char == "'":
        return _parse_literal_str(src, pos)
    if char == '"':
        return _parse_basic_str(src, pos + 1, multiline=False)
    raise _error(src, pos, "Invalid initial character for a key part")


def _parse_array(src: str, pos: int) -> "Tuple[int, list]":
    pos = _skip_comments_and_array_ws(src, pos + 1)
    array: list = []
    if src.startswith("]", pos):
        return pos + 1, array
    while True:
        pos, value = _parse_value(src, pos)
        array.append(value)
        pos = _skip_comments_and_array_ws(src, pos)
        char = src[pos : pos + 1]
        if char == "]":
            return pos + 1, array
        if char != ",":
            raise _error(src, pos, "Unclosed array")
        pos = _skip_comments_and_array_ws(src, pos + 1)
        if src.startswith("]", pos):
            return pos + 1, array


def _parse_inline_table(src: str, pos: int) -> "Tuple[int, dict]":
    pos = _skip(src, pos + 1, _WS)
    table: dict = {}
    flags = _Flags()
    if src.startswith("}", pos):
        return pos + 1, table
    while True:
        pos, key, value = _parse_key_value_pair(src, pos)
        parent, stem = key[:-1], key[-1]
        if flags.is_(key, _FROZEN):
            raise _error(src, pos, f"Cannot mutate immutable namespace {key}")
        try:
            nest = _get_or_create_nest(table, parent, access_lists=False)
        except KeyError:
            raise _error(src, pos, "Cannot overwrite a value") from None
        if stem in nest:
            raise _error(src, pos, f"Duplicate inline table key {stem!r}")
        nest[stem] = value
        pos = _skip(src, pos, _WS)
        char = src[pos : pos + 1]
        if char == "}":
            return pos + 1, table
        if char != ",":
            raise _error(src, pos, "Unclosed inline table")
        if isinstance(value, (dict, list)):
            flags.set(key, _FROZEN, recursive=True)
        pos = _skip(src, pos + 1, _WS)


def _parse_escape(src: str, pos: int, multiline: bool) -> "Tuple[int, str]":
    escape = src[pos : pos + 2]
    pos += 2
    if multiline and escape in ("\\ ", "\\\t", "\\\n"):
        # A line-ending backslash: skip whitespace and newlines up to the next
        # character; only whitespace may follow the backslash on its line.
        if escape != "\\\n":
            pos = _skip(src, pos, _WS)
            try:
                char = src[pos]
            except IndexError:
                return pos, ""
            if char != "\n":
                raise _error(src, pos, "Unescaped '\\' in a string")
            pos += 1
        return _skip(src, pos, _WS_AND_NEWLINE), ""
    if escape == "\\u":
        return _parse_hex_char(src, pos, 4)
    if escape == "\\U":
        return _parse_hex_char(src, pos, 8)
    try:
        return pos, _ESCAPES[escape]
    except KeyError:
        raise _error(src, pos, "Unescaped '\\' in a string") from None


def _parse_hex_char(src: str, pos: int, length: int) -> "Tuple[int, str]":
    digits = src[pos : pos + length]
    if len(digits) != length or not _HEX_DIGITS.issuperset(digits):
        raise _error(src, pos, "Invalid hex value")
    pos += length
    codepoint = int(digits, 16)
    if not (0 <= codepoint <= 55295 or 57344 <= codepoint <= 1114111):
        raise _error(src, pos, "Escaped character is not a Unicode scalar value")
    return pos, chr(codepoint)


def _parse_literal_str(src: str, pos: int) -> "Tuple[int, str]":
    start = pos + 1
    pos = _skip_until(src, start, "'", _ILLEGAL_BASIC_STR_CHARS, error_on_eof=True)
    return pos + 1, src[start:pos]


def _parse_multiline_str(src: str, pos: int, literal: bool) -> "Tuple[int, str]":
    pos += 3
    if src.startswith("\n", pos):
        pos += 1
    if literal:
        delim = "'"
        end = _skip_until(src, pos, "'''", _ILLEGAL_MULTILINE_BASIC_STR_CHARS, error_on_eof=True)
        result = src[pos:end]
        pos = end + 3
    else:
        delim = '"'
        pos, result = _parse_basic_str(src, pos, multiline=True)
    # Up to two more quotes right before the closing three belong to the string.
    if not src.startswith(delim, pos):
        return pos, result
    pos += 1
    if not src.startswith(delim, pos):
        return pos, result + delim
    return pos + 1, result + delim * 2


def _parse_basic_str(src: str, pos: int, multiline: bool) -> "Tuple[int, str]":
    error_on = _ILLEGAL_MULTILINE_BASIC_STR_CHARS if multiline else _ILLEGAL_BASIC_STR_CHARS
    result = ""
    start = pos
    while True:
        try:
            char = src[pos]
        except IndexError:
            raise _error(src, pos, "Unterminated string") from None
        if char == '"':
            if not multiline:
                return pos + 1, result + src[start:pos]
            if src.startswith('"""', pos):
                return pos + 3, result + src[start:pos]
            pos += 1
            continue
        if char == "\\":
            result += src[start:pos]
            pos, escaped = _parse_escape(src, pos, multiline)
            result += escaped
            start = pos
            continue
        if char in error_on:
            raise _error(src, pos, f"Illegal character {char!r}")
        pos += 1


def _parse_value(src: str, pos: int) -> "Tuple[int, Any]":
    char = src[pos : pos + 1]
    if char == '"':
        if src.startswith('"""', pos):
            return _parse_multiline_str(src, pos, literal=False)
        return _parse_basic_str(src, pos + 1, multiline=False)
    if char == "'":
        if src.startswith("'''", pos):
            return _parse_multiline_str(src, pos, literal=True)
        return _parse_literal_str(src, pos)
    if char == "t" and src.startswith("true", pos):
        return pos + 4, True
    if char == "f" and src.startswith("false", pos):
        return pos + 5, False
    if char == "[":
        return _parse_array(src, pos)
    if char == "{":
        return _parse_inline_table(src, pos)
    if _looks_like_date_or_time(src, pos):
        raise Unsupported("dates and times are read by tomllib")
    end, is_float = _match_number(src, pos)
    if end > pos:
        text = src[pos:end]
        return end, float(text) if is_float else int(text, 0)
    if src[pos : pos + 3] in ("inf", "nan"):
        return pos + 3, float(src[pos : pos + 3])
    if src[pos : pos + 4] in ("-inf", "+inf", "-nan", "+nan"):
        return pos + 4, float(src[pos : pos + 4])
    raise _error(src, pos, "Invalid value")


def _looks_like_date_or_time(src: str, pos: int) -> bool:
    """What tomllib would try as a date (``dddd-``) or a local time (``dd:``)."""
    head = src[pos : pos + 5]
    if len(head) >= 3 and head[2] == ":" and _DIGITS.issuperset(head[:2]):
        return True
    return len(head) == 5 and head[4] == "-" and _DIGITS.issuperset(head[:4])


def _digits(src: str, pos: int, allowed: "FrozenSet[str]") -> int:
    """End of ``d(_?d)*`` over ``allowed`` starting at ``pos`` (``pos`` when there is none)."""
    char = src[pos : pos + 1]
    if not char or char not in allowed:
        return pos
    pos += 1
    while True:
        char = src[pos : pos + 1]
        if char and char in allowed:
            pos += 1
        elif char == "_" and src[pos + 1 : pos + 2] in allowed:
            pos += 2
        else:
            return pos


_RADIX = {"x": _HEX_DIGITS, "b": frozenset("01"), "o": frozenset("01234567")}


def _match_number(src: str, pos: int) -> "Tuple[int, bool]":
    """tomllib's ``RE_NUMBER`` by hand: (end of the match, whether it is a float)."""
    if src.startswith(("0x", "0b", "0o"), pos):
        end = _digits(src, pos + 2, _RADIX[src[pos + 1]])
        if end > pos + 2:
            return end, False
    start = pos
    if src.startswith(("+", "-"), pos):
        pos += 1
    if src.startswith("0", pos):
        end = pos + 1
    else:
        end = _digits(src, pos, _DIGITS)
        if end == pos or src[pos] == "0":
            return start, False
    is_float = False
    if src.startswith(".", end):
        fraction = _digits(src, end + 1, _DIGITS)
        if fraction > end + 1:
            end, is_float = fraction, True
    if src.startswith(("e", "E"), end):
        exponent = end + 1
        if src.startswith(("+", "-"), exponent):
            exponent += 1
        after = _digits(src, exponent, _DIGITS)
        if after > exponent:
            end, is_float = after, True
    return end, is_float


def _error(src: str, pos: int, message: str) -> TOMLError:
    if pos >= len(src):
        where = "end of document"
    else:
        line = src.count("\n", 0, pos) + 1
        column = pos + 1 if line == 1 else pos - src.rindex("\n", 0, pos)
        where = f"line {line}, column {column}"
    return TOMLError(f"{message} (at {where})")
