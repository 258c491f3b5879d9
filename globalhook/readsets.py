"""The read set of one call: every (module, name) it read, through every function it called.

The recorder counts lookups per code object for the whole process; it does
not know which call made them.  A collection learns that: while it is open,
each code object that starts or resumes is noted with its counts at that
moment; when it closes, the counts are taken again and every name whose count
grew was read.  Code objects noted are kept alive until then, so their counts
cannot be folded away.

Two ways to note code: on CPython 3.12+ (GIL builds) sys.monitoring, each
code location reported once per collection (a computation runs at nearly full
speed), which notes code started by any thread while the collection is open;
elsewhere a profile function (``sys.setprofile``, per thread: a Python call for
every call made, so several times slower for call-heavy code), which notes the
calling thread's code only.  Either way a code object that another thread runs
at the same time adds that thread's reads of it (more names, never fewer), and
reads made by threads the call hands work to (a thread pool) and that run code
it did not run itself are not seen.  Only tracked code records reads at all.
"""

from __future__ import annotations

import sys
from _thread import _local, allocate_lock

from .tracking import RECORDER

TYPE_CHECKING = False  # not from typing: the engine imports little
if TYPE_CHECKING:  # pragma: no cover
    from types import CodeType, FrameType
    from typing import Dict, Iterable, List, Optional, Tuple

__all__ = ["CollectError", "ReadSet", "collect", "collecting", "note_reads", "uses_monitoring"]


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


# -- 3.12+ (GIL builds): sys.monitoring, each code location reported once ----------------
#
# A profile function costs a Python call for every call the computation makes
# (5-10x slower for call-heavy code).  sys.monitoring's PY_START/PY_RESUME
# callback can return DISABLE: each code location then reports once, and a
# computation runs at nearly full speed.  A location disabled stays disabled
# for every thread, so a callback notes its code for *every* open collection,
# whatever the thread (more names for a collection whose thread did not run
# it, never fewer), and each new collection restarts the events.  A callback
# that overlapped a restart does not disable (the generation number).  Free-
# threaded builds keep the profile function: there a restart can land between
# a callback's check and its return.

_monitoring = getattr(sys, "monitoring", None) if "free-threading" not in sys.version else None
_tool: Optional[int] = None
_open: List[_Collection] = []
_generation = 0
_open_lock = allocate_lock()


def _monitoring_tool() -> Optional[int]:
    """A sys.monitoring tool id of ours (3 or 4, whichever is free), or None."""
    global _tool
    if _tool is None and _monitoring is not None:
        for candidate in (4, 3):
            if _monitoring.get_tool(candidate) is None:
                _monitoring.use_tool_id(candidate, "globalhook read sets")
                for event in (_monitoring.events.PY_START, _monitoring.events.PY_RESUME):
                    _monitoring.register_callback(candidate, event, _on_start)
                _tool = candidate
                break
    return _tool


def _on_start(code: CodeType, offset: int) -> object:
    generation = _generation
    key = id(code)
    namespace = None
    for collection in tuple(_open):
        before = collection.before
        if key not in before:
            before[key] = (code, _code_reads(code))
            if namespace is None:
                frame = sys._getframe(1)
                namespace = frame.f_globals if frame.f_code is code else {}
            owner = dict.get(namespace, "__name__") if isinstance(namespace, dict) else None
            namespaces = collection.result.namespaces
            if isinstance(owner, str) and owner not in namespaces:
                namespaces[owner] = namespace
    if generation == _generation:
        return _monitoring.DISABLE  # type: ignore[union-attr]
    return None


def _open_monitored(collection: _Collection) -> bool:
    """Start noting code for ``collection`` through sys.monitoring; False where it cannot."""
    global _generation
    tool = _monitoring_tool()
    if tool is None:
        return False
    with _open_lock:
        _open.append(collection)
        _generation += 1
        if len(_open) == 1:
            _monitoring.set_events(tool, _monitoring.events.PY_START | _monitoring.events.PY_RESUME)  # type: ignore[union-attr]
        _monitoring.restart_events()  # type: ignore[union-attr]
    return True


def _close_monitored(collection: _Collection) -> None:
    with _open_lock:
        if collection in _open:
            _open.remove(collection)
            if not _open and _tool is not None:
                _monitoring.set_events(_tool, 0)  # type: ignore[union-attr]


class collect:
    """``with collect() as reads:`` the read set of the block.

    Collections nest (each gets every read made inside it).  Raises
    :class:`CollectError` where a profile function is needed (before 3.12,
    free-threaded builds) and another profiler is set in this thread.
    """

    __slots__ = ("_collection", "_monitored")

    def __enter__(self) -> ReadSet:
        stack = _stack()
        collection = self._collection = _Collection()
        self._monitored = _open_monitored(collection)
        if not self._monitored:
            current = sys.getprofile()
            if current is not None and current is not _profile:
                raise CollectError("another profiler is active in this thread")
            if current is None:
                sys.setprofile(_profile)
        stack.append(collection)
        return collection.result

    def __exit__(self, *exc_info) -> None:
        stack = _stack()
        collection = self._collection
        if collection in stack:
            stack.remove(collection)
        if self._monitored:
            _close_monitored(collection)
        elif not any(True for _ in stack) and sys.getprofile() is _profile:
            sys.setprofile(None)
        result = collection.result
        reads = result.reads
        for code, counts in list(collection.before.values()):
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


def uses_monitoring() -> bool:
    """Do collections use sys.monitoring here (3.12+ GIL builds, a tool id free), not a profile function?"""
    return _monitoring_tool() is not None


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
