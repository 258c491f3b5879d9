"""The read set of one call: every (module, name) it read, through every function it called.

The recorder counts lookups per code object for the whole process; it does
not know which call or which thread made them.  A collection learns that for
the calling thread: while it is open, a profile function (``sys.setprofile``,
which is per thread) notes each code object the thread starts or resumes and
takes that code's counts at that moment; when it closes, the counts are taken
again and every name whose count grew was read by this call.  Code objects
seen are kept alive until then, so their counts cannot be folded away.

Exact for the calling thread, with two edges: a code object that another
thread runs at the same time adds that thread's reads of it (more names,
never fewer), and reads made by other threads the call hands work to (a
thread pool) are not seen.  Only tracked code records reads at all.
"""

from __future__ import annotations

import sys
from _thread import _local

from .tracking import RECORDER

TYPE_CHECKING = False  # not from typing: the engine imports little
if TYPE_CHECKING:  # pragma: no cover
    from types import CodeType, FrameType
    from typing import Dict, Iterable, List, Optional, Tuple

__all__ = ["CollectError", "ReadSet", "collect", "collecting", "note_reads"]


class CollectError(RuntimeError):
    """A read set cannot be collected here (another profiler owns this thread)."""


class ReadSet:
    """What one call read: ``reads`` maps (owner module, name) to how often.

    ``namespaces`` maps an owner module's name to the globals its reading
    code ran with (``__main__`` of a notebook may be in no ``sys.modules``).
    """

    __slots__ = ("reads", "namespaces")

    def __init__(self) -> None:
        self.reads: Dict[Tuple[str, str], int] = {}
        self.namespaces: Dict[str, dict] = {}

    def names(self) -> List[str]:
        """``owner.name`` of every read, sorted."""
        return sorted(f"{owner}.{name}" for owner, name in self.reads)

    def __repr__(self) -> str:
        return f"<ReadSet {self.names()}>"


class _Collection:
    __slots__ = ("before", "result", "extra")

    def __init__(self) -> None:
        #: id(code) -> (code, its counts when first seen); the code is kept alive until the end.
        self.before: Dict[int, Tuple[CodeType, Dict[Tuple[str, str], int]]] = {}
        self.result = ReadSet()
        self.extra: Dict[Tuple[str, str], int] = {}


_threads = _local()
_code_reads = RECORDER.code_reads


def _stack() -> List[_Collection]:
    stack = getattr(_threads, "stack", None)
    if stack is None:
        stack = _threads.stack = []
    return stack


def _profile(frame: FrameType, event: str, arg: object) -> None:
    if event != "call":
        return
    code = frame.f_code
    key = id(code)
    for collection in _threads.stack:
        before = collection.before
        if key not in before:
            before[key] = (code, _code_reads(code))
            namespaces = collection.result.namespaces
            owner = dict.get(frame.f_globals, "__name__") if isinstance(frame.f_globals, dict) else None
            if isinstance(owner, str) and owner not in namespaces:
                namespaces[owner] = frame.f_globals


class collect:
    """``with collect() as reads:`` the read set of the block, for the calling thread.

    Collections nest (each gets every read made inside it).  Raises
    :class:`CollectError` when another profiler is set in this thread.
    """

    __slots__ = ("_collection",)

    def __enter__(self) -> ReadSet:
        stack = _stack()
        current = sys.getprofile()
        if current is not None and current is not _profile:
            raise CollectError("another profiler is active in this thread")
        collection = self._collection = _Collection()
        stack.append(collection)
        if current is None:
            sys.setprofile(_profile)
        return collection.result

    def __exit__(self, *exc_info) -> None:
        stack = _stack()
        collection = self._collection
        if collection in stack:
            stack.remove(collection)
        if not stack and sys.getprofile() is _profile:
            sys.setprofile(None)
        result = collection.result
        reads = result.reads
        for code, counts in collection.before.values():
            for key, count in _code_reads(code).items():
                grew = count - counts.get(key, 0)
                if grew > 0:
                    reads[key] = reads.get(key, 0) + grew
        for key, count in collection.extra.items():
            reads[key] = reads.get(key, 0) + count
        collection.before.clear()
        namespaces = result.namespaces
        for owner, _ in reads:
            if owner not in namespaces:
                module = sys.modules.get(owner)
                namespace = getattr(module, "__dict__", None)
                if isinstance(namespace, dict):
                    namespaces[owner] = namespace


def collecting() -> bool:
    """Is a collection open in this thread?"""
    return bool(getattr(_threads, "stack", None))


def note_reads(reads: Iterable[Tuple[str, str]], namespaces: Optional[Dict[str, dict]] = None) -> None:
    """Count reads that did not run (a cache hit replays the names its computation read)
    for every collection open in this thread."""
    stack = getattr(_threads, "stack", None)
    if not stack:
        return
    reads = list(reads)
    for collection in stack:
        extra = collection.extra
        for key in reads:
            extra[key] = extra.get(key, 0) + 1
        if namespaces:
            known = collection.result.namespaces
            for owner, namespace in namespaces.items():
                known.setdefault(owner, namespace)
