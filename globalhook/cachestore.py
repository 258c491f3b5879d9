"""The on-disk store of ``@globalhook.cache(store=DIR)``: one file per (function code, arguments).

Layout: ``DIR/<tag>/<module>.<qualname>/<code digest>/<argument digest>.ghc``,
where the tag names this store format, the Python (``cache_tag``) and the
platform: entries written by another format, Python or platform are never
even opened.  Each file is a header line naming the same things, a JSON
line (the read set: ``owner``, ``name`` and the value's fingerprint digest;
the payload's size and BLAKE2b digest), then the result's pickle.  A file
whose header does not match, or whose payload is short or altered, is a miss.

Files are written beside their place and renamed over it
(:func:`globalhook.atomic.write_atomically`), so two threads or processes
filling one store never leave a half-written entry: a reader sees the old
entry or the new one, and the last writer wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import shutil
import sys

from .atomic import write_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, List, Optional, Tuple

    Deps = List[Tuple[str, str, str]]

__all__ = ["FORMAT", "DiskStore", "store_tag"]

#: The store format; a new one is a new folder, old entries are ignored.
FORMAT = 1
_MAGIC = b"globalhook-cache"
_SUFFIX = ".ghc"


def store_tag() -> str:
    """The folder name shared by entries this process can read."""
    abi = "t" if "free-threading" in sys.version else ""
    return f"v{FORMAT}-{sys.implementation.cache_tag}{abi}-{sys.platform}-{platform.machine() or 'any'}"


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)[:120] or "_"


class DiskStore:
    """The entries of one cached function in a store folder."""

    def __init__(self, root: str, qualified_name: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        self.tag = store_tag()
        self.function = qualified_name
        self.folder = os.path.join(self.root, self.tag, _safe(qualified_name))

    def _path(self, code: str, key: str) -> str:
        return os.path.join(self.folder, code, key + _SUFFIX)

    def load(self, code: str, key: str) -> "Optional[Tuple[Deps, Any]]":
        """(read set, result) of an entry, or None (absent, foreign, damaged or unreadable)."""
        header = self.load_header(code, key)
        if header is None:
            return None
        deps, payload = header
        try:
            return deps, pickle.loads(payload)
        except Exception:  # a result whose class is gone or changed: recompute
            return None

    def load_header(self, code: str, key: str) -> "Optional[Tuple[Deps, bytes]]":
        try:
            with open(self._path(code, key), "rb") as file:
                data = file.read()
        except OSError:
            return None
        return _parse(data, self.tag, self.function)

    def save(self, code: str, key: str, deps: "Deps", result: "Any") -> None:
        """Write an entry; raises pickle errors for a result that cannot be stored, OSError for the disk."""
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        header = {
            "format": FORMAT,
            "tag": self.tag,
            "function": self.function,
            "reads": [list(dep) for dep in deps],
            "size": len(payload),
            "blake2b": hashlib.blake2b(payload, digest_size=16).hexdigest(),
        }
        line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
        folder = os.path.join(self.folder, code)
        os.makedirs(folder, exist_ok=True)
        write_atomically(self._path(code, key), _MAGIC + b"\n" + line + b"\n" + payload)

    def other_codes(self, code: str, key: str) -> "List[str]":
        """Code digests other than ``code`` that hold an entry for these arguments."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        return [name for name in names if name != code and os.path.exists(self._path(name, key))]

    def clear(self) -> None:
        """Remove every entry of this function (all code versions, this Python and platform)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _parse(data: bytes, tag: str, function: str) -> "Optional[Tuple[Deps, bytes]]":
    magic, _, rest = data.partition(b"\n")
    line, _, payload = rest.partition(b"\n")
    if magic != _MAGIC:
        return None
    try:
        header = json.loads(line.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("tag") != tag:
        return None
    if header.get("function") != function or header.get("size") != len(payload):
        return None
    if header.get("blake2b") != hashlib.blake2b(payload, digest_size=16).hexdigest():
        return None
    reads = header.get("reads")
    if not isinstance(reads, list):
        return None
    deps = []
    for dep in reads:
        if not (isinstance(dep, list) and len(dep) == 3 and all(isinstance(part, str) for part in dep)):
            return None
        deps.append((dep[0], dep[1], dep[2]))
    return deps, payload
