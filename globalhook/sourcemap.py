"""Where in its source a function reads a name, found from its bytecode.

The data file names a function by (file, qualified name, first line) and the
names it read, not the lines that read them.  At report time the source file
is compiled again and each recorded function is found among its code objects;
the lines whose ``LOAD_GLOBAL``/``LOAD_NAME`` (``STORE_*``/``DELETE_*`` for
module-level writes) name a recorded name are the lines that did the reading.
A read of another module's attribute (``settings.TAX``, ``from settings
import TAX``) is found the same way, on the instructions that read attributes
by name; those are many, so they are scanned only for functions that made
such a read.
The source may have changed since the run, so every mismatch becomes a note
the reader sees, never a silently wrong highlight.
"""

from __future__ import annotations

import dis
import importlib.util
import marshal
import os
import re
import stat as _stat
import sys
import tokenize
from types import CodeType
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

__all__ = [
    "SourceIndex", "FileSource", "Located", "name_sites", "attribute_sites", "code_tree",
    "LOAD", "STORE", "DELETE", "ATTRIBUTE", "category",
]

LOAD, STORE, DELETE, ATTRIBUTE = "load", "store", "delete", "attribute"

_CATEGORIES: Dict[int, str] = {}
for _opname, _category in (
    ("LOAD_GLOBAL", LOAD),
    ("LOAD_NAME", LOAD),
    ("LOAD_FROM_DICT_OR_GLOBALS", LOAD),  # 3.12+: class-scope annotations, type params
    ("STORE_NAME", STORE),
    ("STORE_GLOBAL", STORE),
    ("DELETE_NAME", DELETE),
    ("DELETE_GLOBAL", DELETE),
):
    if _opname in dis.opmap:
        _CATEGORIES[dis.opmap[_opname]] = _category
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
# How far each opcode's argument is shifted above its index in co_names: from
# 3.11 the low bit of LOAD_GLOBAL's says "push NULL too", from 3.12 that of
# LOAD_ATTR says "load a method" (LOAD_METHOD is then a pseudo-instruction).
_SHIFTS: Dict[int, int] = {dis.opmap["LOAD_GLOBAL"]: 1 if sys.version_info >= (3, 11) else 0}
_ATTRIBUTE_OPS: Dict[int, str] = {}
for _opname in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM"):
    if dis.opmap.get(_opname, 256) < 256:  # pseudo-instructions never reach co_code
        _ATTRIBUTE_OPS[dis.opmap[_opname]] = ATTRIBUTE
_SHIFTS[dis.opmap["LOAD_ATTR"]] = 1 if sys.version_info >= (3, 12) else 0

_KIND_CATEGORY = {
    "global": LOAD, "builtin": LOAD, "missing": LOAD, "store": STORE, "delete": DELETE, "attribute": ATTRIBUTE,
}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the tokenizer counts as a line end, no more

Sites = Dict[Tuple[str, str], List[int]]


def category(kind: str) -> Optional[str]:
    """Which instructions make a lookup of this kind (None for kinds no instruction makes)."""
    return _KIND_CATEGORY.get(kind)


def _line_starts(code: CodeType) -> Tuple[List[int], List[Optional[int]]]:
    """(first offsets, their lines) of the code's line table, in offset order."""
    table = list(code.co_lines()) if hasattr(code, "co_lines") else list(dis.findlinestarts(code))
    return [row[0] for row in table], [row[-1] for row in table]


def name_sites(code: CodeType) -> Sites:
    """(category, name) -> sorted lines where this code object's own instructions touch the name.

    Reads ``co_code`` directly: a regular expression finds the candidate
    opcodes in C, so 10^5 functions take well under a second (a loop over
    :func:`dis.get_instructions` would take many).  Nested code objects are
    not included.
    """
    return _sites(code, _CANDIDATES, _CATEGORIES)


def attribute_sites(code: CodeType) -> Sites:
    """(``attribute``, name) -> sorted lines where this code reads an attribute ``name`` by name.

    ``settings.TAX``, ``settings.f()`` and ``from settings import TAX`` all
    name the attribute in the instruction; ``getattr(settings, "TAX")`` does not.
    """
    return _sites(code, _ATTRIBUTE_CANDIDATES, _ATTRIBUTE_OPS)


def _sites(code: CodeType, candidates: "re.Pattern[bytes]", categories: Dict[int, str]) -> Sites:
    raw = code.co_code
    names = code.co_names
    hits: List[Tuple[int, str, str]] = []
    for match in candidates.finditer(raw):
        offset = match.start()
        if offset & 1:
            continue  # an argument byte that happens to equal an opcode
        op = raw[offset]
        arg = raw[offset + 1]
        shift = 8
        before = offset - 2
        while before >= 0 and raw[before] == _EXTENDED_ARG:
            arg |= raw[before + 1] << shift
            shift += 8
            before -= 2
        index = arg >> _SHIFTS.get(op, 0)
        if index < len(names):
            hits.append((offset, categories[op], names[index]))
    if not hits:
        return {}
    # Hits come in offset order: one walk over the line table places them all.
    found: Dict[Tuple[str, str], set] = {}
    at = 0
    for start, end, line in _line_ranges(code, len(raw)):
        while at < len(hits) and hits[at][0] < end:
            offset, kind, name = hits[at]
            if offset >= start and line is not None:
                found.setdefault((kind, name), set()).add(line)
            at += 1
        if at == len(hits):
            break
    return {key: sorted(lines) for key, lines in found.items()}


def _line_ranges(code: CodeType, size: int) -> Iterator[Tuple[int, int, Optional[int]]]:
    """(start, end, line) for each run of bytecode, in offset order."""
    if hasattr(code, "co_lines"):  # 3.10+
        return code.co_lines()
    starts = list(dis.findlinestarts(code))
    ends = [offset for offset, _ in starts[1:]] + [size]
    return ((offset, end, line) for (offset, line), end in zip(starts, ends))


def _opcode_class(ops: Dict[int, str]) -> "re.Pattern[bytes]":
    return re.compile(b"[" + b"".join(re.escape(bytes([op])) for op in sorted(ops)) + b"]")


_CANDIDATES = _opcode_class(_CATEGORIES)
_ATTRIBUTE_CANDIDATES = _opcode_class(_ATTRIBUTE_OPS)


def _own_last_line(code: CodeType) -> int:
    """The last line this code object's own instructions belong to."""
    return max(filter(None, _line_starts(code)[1]), default=code.co_firstlineno)


def code_tree(code: CodeType) -> Iterator[Tuple[CodeType, str]]:
    """Every code object under a module's code, with its qualified name (as the recorder names it)."""
    from .tracking import _code_tree

    return _code_tree(code)


def _last_line(code: CodeType) -> int:
    """The last line any instruction of this code or its nested code belongs to."""
    last = code.co_firstlineno
    stack = [code]
    while stack:
        each = stack.pop()
        if hasattr(each, "co_positions"):  # 3.11+: end lines of multi-line expressions too
            for _line, end, _col, _end_col in each.co_positions():
                if end is not None and end > last:
                    last = end
        else:
            for line in _line_starts(each)[1]:
                if line is not None and line > last:
                    last = line
        stack.extend(c for c in each.co_consts if isinstance(c, CodeType))
    return last


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _cached_code(path: str, raw: bytes, stat: os.stat_result) -> Optional[CodeType]:
    """The module's code from its ``__pycache__`` file when that is current, else None.

    The run that made the data imported these modules, so their bytecode is
    usually cached: loading it is many times faster than compiling, and it is
    what ``compile(source, path, "exec", dont_inherit=True)`` gives (that is how
    the import system makes it).  Checked the way the import system checks it.
    """
    try:
        cached = importlib.util.cache_from_source(path)
        with open(cached, "rb") as f:
            data = f.read()
    except (OSError, ValueError, NotImplementedError):
        return None
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return None
    flags = int.from_bytes(data[4:8], "little")
    if flags == 0:
        if (
            int.from_bytes(data[8:12], "little") != int(stat.st_mtime) & 0xFFFFFFFF
            or int.from_bytes(data[12:16], "little") != stat.st_size & 0xFFFFFFFF
        ):
            return None
    elif flags & 0b1:
        if data[8:16] != importlib.util.source_hash(raw):
            return None
    else:
        return None
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


class Located:
    """One recorded function found (or not) in its current source."""

    __slots__ = ("source", "code", "first", "last", "notes", "_sites", "_attribute_sites")

    def __init__(self, source: "FileSource", code: Optional[CodeType], notes: List[str]) -> None:
        self.source = source
        self.code = code
        self.notes = notes
        self._sites: Optional[Sites] = None
        self._attribute_sites: Optional[Sites] = None
        self.first = self.last = 0
        if code is not None:
            self.first, self.last = source.span(code)

    def sites(self) -> Sites:
        """(category, name) -> lines, for this function's own code ({} when not found)."""
        if self._sites is None:
            self._sites = name_sites(self.code) if self.code is not None else {}
        return self._sites

    def lines_in(self, what: Optional[str], name: str) -> List[int]:
        """Lines where this function's code makes a lookup of this category of ``name``."""
        if what == ATTRIBUTE:
            if self._attribute_sites is None:
                self._attribute_sites = attribute_sites(self.code) if self.code is not None else {}
            return self._attribute_sites.get((what, name), [])
        return self.sites().get((what, name), []) if what else []

    def lines_of(self, kind: str, name: str) -> List[int]:
        """Lines where this function's code makes a lookup of this kind of ``name``."""
        return self.lines_in(category(kind), name)


class FileSource:
    """A source file compiled once: its lines and its code objects by qualified name."""

    def __init__(self, path: str, since: Optional[float] = None, problem: Optional[str] = None) -> None:
        self.path = path
        self.lines: List[str] = []
        self.problem: Optional[str] = problem
        self.changed = False
        self._exact: Dict[Tuple[str, int], CodeType] = {}
        self._by_name: Dict[Tuple[str, int], CodeType] = {}
        self._starts: Dict[str, List[Tuple[int, CodeType]]] = {}
        self._spans: Dict[int, Tuple[int, int]] = {}
        if problem is not None:
            return
        try:
            if not _stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block open() for ever
                self.problem = "source not shown: not a regular file"
                return
            with open(path, "rb") as f:
                raw = f.read()
            stat = os.stat(path)
            encoding, _ = tokenize.detect_encoding(iter(raw.splitlines(keepends=True)).__next__)
            text = raw.decode(encoding)
        except FileNotFoundError:
            self.problem = "source file not found"
            return
        except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
            self.problem = f"cannot read the source ({exc.__class__.__name__})"
            return
        self.lines = _LINE_BREAK.split(text)
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.changed = since is not None and stat.st_mtime > since
        module = _cached_code(path, raw, stat)
        if module is None:
            try:
                module = compile(raw, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                self.problem = "the source no longer compiles"
                return
        for code, qualname in code_tree(module):
            line = code.co_firstlineno
            self._exact.setdefault((qualname, line), code)
            self._by_name.setdefault((code.co_name, line), code)
            self._starts.setdefault(qualname, []).append((line, code))

    def find(self, qualname: str, line: int) -> Located:
        """The code object of a recorded function, with notes on anything that does not match."""
        notes: List[str] = []
        if self.problem:
            return Located(self, None, [f"{self.problem}: {self.path}"])
        if self.changed:
            notes.append("the file was modified after the run: lines may have moved")
        code = self._exact.get((qualname, line))
        if code is None:
            code = self._by_name.get((qualname.rpartition(".")[2], line))
        if code is None:
            elsewhere = self._starts.get(qualname)
            if elsewhere:
                new_line, code = min(elsewhere, key=lambda item: abs(item[0] - line))
                notes.append(f"the source has changed since the run: it now starts at line {new_line}, not {line}")
            else:
                notes.append(
                    f"not found in the current source at line {line} (the source has changed since the run, "
                    "or this Python compiles it differently)"
                )
        return Located(self, code, notes)

    def span(self, code: CodeType) -> Tuple[int, int]:
        """First and last line of a function's source, decorators and trailing lines included."""
        key = id(code)
        found = self._spans.get(key)
        if found is not None:
            return found
        first = max(code.co_firstlineno, 1)
        head = self.lines[first - 1].lstrip() if first <= len(self.lines) else ""
        block = head.startswith(("@", "def ", "async ", "class "))
        if code.co_name == "<module>" and first == 1:
            last = len(self.lines)
        elif block:
            # The body's own lines, then the indentation rule below for the rest.
            last = min(max(_own_last_line(code), first), len(self.lines))
        else:
            # A lambda or comprehension: its instructions, nested code included.
            last = min(max(_last_line(code), first), len(self.lines))
        if block:
            # A body goes on while lines are blank or indented deeper than its header.
            indent = _indent(self.lines[first - 1])
            end = last
            while end < len(self.lines):
                text = self.lines[end]
                if text.strip() and _indent(text) <= indent:
                    break
                end += 1
            while end > last and not self.lines[end - 1].strip():
                end -= 1
            last = end
        self._spans[key] = (first, last)
        return first, last


class SourceIndex:
    """Compiles each source file once, however many functions it holds.

    ``since`` is the time (seconds since the epoch) the run ended: a file
    modified after it is noted as changed.  ``roots``, when given, are the
    only folders whose files are read: a data file from elsewhere names
    whatever paths it likes, and a report that embeds sources must not show
    ``/some/where/secret_settings.py`` because a data file named it.
    ``paths`` maps recorded folders to local ones (a run on another machine,
    in a container), as coverage.py's ``[paths]`` does; the mapped path must
    still be under a root.
    """

    def __init__(
        self,
        since: Optional[float] = None,
        roots: Optional[Sequence[str]] = None,
        paths: Sequence[Tuple[str, str]] = (),
    ) -> None:
        self.since = since
        self.roots = None if roots is None else [os.path.realpath(root) for root in roots]
        self.paths = [(recorded.rstrip("/\\"), local) for recorded, local in paths]
        self._files: Dict[str, FileSource] = {}

    def local_path(self, path: str) -> str:
        """Where the recorded ``path`` is here: the first ``paths`` entry whose folder holds it."""
        for recorded, local in self.paths:
            if path == recorded or path.startswith(recorded + "/") or path.startswith(recorded + "\\"):
                return os.path.join(local, path[len(recorded) + 1 :]) if path != recorded else local
        return path

    def outside_roots(self, path: str) -> bool:
        """Is ``path`` (once symlinks are followed) outside every root?"""
        if self.roots is None:
            return False
        real = os.path.realpath(path)
        return not any(real != root and os.path.commonpath([root, real]) == root for root in self.roots)

    def file(self, path: str) -> FileSource:
        found = self._files.get(path)
        if found is None:
            local = self.local_path(path)
            if self.outside_roots(local):
                found = FileSource(local, self.since, problem="source not shown: outside the source roots (see --source-root)")
            else:
                found = FileSource(local, self.since)
            self._files[path] = found
        return found

    def find(self, path: str, qualname: str, line: int) -> Located:
        return self.file(path).find(qualname, line)
