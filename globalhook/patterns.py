"""Which modules get tracked: the include/exclude allowlist.

A pattern without wildcards names a module and its submodules, the way
typeguard and beartype name packages: ``pkg`` matches ``pkg`` and
``pkg.sub`` but not ``pkg_other``.  A pattern with ``*``, ``?`` or ``[...]``
is matched against the whole dotted name with :mod:`fnmatch`.  Exclusions
always win.  With no include pattern at all, the default is every module
whose file lies under a root folder (the current directory), outside virtual
environments and site-packages.

The finder asks for a decision on every import, so decisions are cached and
the common "no" is answered from the name alone whenever it can be.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not from typing (imported before the program starts)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["PatternError", "ModuleFilter", "validate_pattern", "is_stdlib_module"]

#: Never tracked, whatever the patterns say: the tool must not observe itself.
SELF_PACKAGE = "globalhook"

# This module is imported before the program starts: it uses neither re nor
# fnmatch (nor typing), so that the program can still track them.  Patterns
# with [...] are matched by fnmatch, imported when such a pattern is used.
_WILDCARDS = "*?["


def _has_wildcard(text: str) -> bool:
    return any(char in _WILDCARDS for char in text)


def _is_word(char: str) -> bool:
    """What ``\\w`` matches in a str pattern: str.isalnum() characters and '_'."""
    return char.isalnum() or char == "_"


def _valid_characters(text: str) -> bool:
    """Identifier characters, dots and fnmatch syntax; '-' and '!' only inside [...]."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "[":
            j = i + 1
            if text.startswith("!", j):
                j += 1
            start = j
            while j < n and (_is_word(text[j]) or text[j] == "-"):
                j += 1
            if j == start or not text.startswith("]", j):
                return False
            i = j + 1
        elif _is_word(char) or char in ".*?":
            i += 1
        else:
            return False
    return n > 0


def _glob_match(pattern: str, name: str) -> bool:
    """``fnmatch.fnmatchcase`` for patterns whose only wildcards are ``*`` and ``?``."""
    p = n = 0
    star, star_n = -1, 0
    while n < len(name):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == name[n]):
            p += 1
            n += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, star_n = p, n
            p += 1
        elif star >= 0:
            p = star + 1
            star_n += 1
            n = star_n
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


class PatternError(ValueError):
    """A pattern that can never match a module name."""


def validate_pattern(pattern: object) -> str:
    """Return ``pattern`` stripped, or raise :class:`PatternError` saying why not."""
    if not isinstance(pattern, str):
        raise PatternError(f"pattern must be a string, not {type(pattern).__name__}")
    text = pattern.strip()
    if not text:
        raise PatternError("empty pattern")
    if not _valid_characters(text):
        raise PatternError(f"pattern {pattern!r} has characters that cannot appear in a module name")
    if text.startswith(".") or text.endswith(".") or ".." in text:
        raise PatternError(f"pattern {pattern!r} is not a dotted module name")
    for part in text.split("."):
        if not _has_wildcard(part) and not part.isidentifier():
            raise PatternError(f"pattern {pattern!r}: {part!r} is not a valid module name")
    return text


def _stdlib_names() -> frozenset:
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return frozenset(names)
    # Python 3.9: list the standard library folders instead.
    import sysconfig

    found = set(sys.builtin_module_names)
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib"):
        folder = paths.get(key)
        if not folder or not os.path.isdir(folder):
            continue
        for entry in os.listdir(folder):
            if entry in ("site-packages", "dist-packages"):
                continue
            base = entry.split(".", 1)[0]
            if entry.endswith(".py") or os.path.isfile(os.path.join(folder, entry, "__init__.py")):
                found.add(base)
        dynload = os.path.join(folder, "lib-dynload")
        if os.path.isdir(dynload):
            found.update(entry.split(".", 1)[0] for entry in os.listdir(dynload))
    return frozenset(found)


_STDLIB: Optional[frozenset] = None


def is_stdlib_module(fullname: str) -> bool:
    """True when the top-level package of ``fullname`` is part of the standard library."""
    global _STDLIB
    if _STDLIB is None:
        _STDLIB = _stdlib_names()
    return fullname.partition(".")[0] in _STDLIB


class _PatternSet:
    """Plain names matched by prefix, wildcard patterns as ``fnmatch.fnmatchcase`` does."""

    def __init__(self, patterns: "Iterable[str]") -> None:
        self.patterns: "Tuple[str, ...]" = tuple(validate_pattern(p) for p in patterns)
        self.plain = tuple(p for p in self.patterns if not _has_wildcard(p))
        self.wild = tuple(p for p in self.patterns if _has_wildcard(p))
        self._fnmatch = None
        if any("[" in p for p in self.wild):
            from fnmatch import fnmatchcase

            self._fnmatch = fnmatchcase

    def by_name(self, fullname: str) -> bool:
        return any(fullname == p or fullname.startswith(p + ".") for p in self.plain)

    def by_wildcard(self, fullname: str) -> bool:
        for pattern in self.wild:
            if "[" in pattern:
                if self._fnmatch(fullname, pattern):  # type: ignore[misc]
                    return True
            elif _glob_match(pattern, fullname):
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self.patterns)


def _is_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class ModuleFilter:
    """Decide, cheaply and repeatably, whether a module is to be tracked."""

    def __init__(
        self,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        root: Optional[str] = None,
    ) -> None:
        self.include = _PatternSet(include)
        self.exclude = _PatternSet(exclude)
        self.root = os.path.realpath(root if root is not None else os.getcwd())
        prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
        # An environment below the root is left out; a prefix that holds the
        # root (a project in /usr/src with Python in /usr) is not a reason.
        self._outside = tuple(
            sorted(
                real
                for real in (os.path.realpath(p) for p in prefixes if p)
                if not _is_under(self.root, real)
            )
        )
        self._by_name: Dict[str, Optional[bool]] = {}

    @property
    def uses_paths(self) -> bool:
        """True when the decision needs the module's file (no include patterns given)."""
        return not self.include

    def excluded(self, fullname: str) -> bool:
        return self.exclude.by_name(fullname) or self.exclude.by_wildcard(fullname)

    def decide_name(self, fullname: str) -> Optional[bool]:
        """Decide from the name alone: True, False, or None when the file must be seen."""
        try:
            return self._by_name[fullname]
        except KeyError:
            pass
        decision = self._decide_name(fullname)
        self._by_name[fullname] = decision
        return decision

    def _decide_name(self, fullname: str) -> Optional[bool]:
        if fullname == SELF_PACKAGE or fullname.startswith(SELF_PACKAGE + "."):
            return False
        if self.excluded(fullname):
            return False
        if fullname == "__main__":
            return True  # the program itself, unless excluded
        if self.include:
            if self.include.by_name(fullname):
                return True  # named explicitly: even a stdlib module
            return self.include.by_wildcard(fullname) and not is_stdlib_module(fullname)
        # The path rule decides, even for a stdlib name: a project's own
        # code.py under the root is tracked, the standard library's is not.
        return None

    def wants_path(self, origin: Optional[str]) -> bool:
        """The default rule: a file under the root, outside any environment."""
        if not origin or not os.path.isabs(origin):
            return False
        path = os.path.realpath(origin)
        if not _is_under(path, self.root):
            return False
        parts = os.path.relpath(path, self.root).split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not any(_is_under(path, prefix) for prefix in self._outside)

    def wants(self, fullname: str, origin: Optional[str] = None) -> bool:
        decision = self.decide_name(fullname)
        if decision is None:
            return self.wants_path(origin)
        return decision

    def describe(self) -> List[str]:
        """Human-readable summary, for reports and error messages."""
        if self.include:
            lines = [f"include: {', '.join(self.include.patterns)}"]
        else:
            lines = [f"include: files under {self.root} (default)"]
        if self.exclude:
            lines.append(f"exclude: {', '.join(self.exclude.patterns)}")
        return lines
