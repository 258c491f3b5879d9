"""The tracers globalhook must beat: the least code that yields the same data.

Each peer counts, per (code object, name), the global-name loads executed by
the code of one module, seen one instruction at a time:

- ``settrace``: ``sys.settrace`` with ``f_trace_opcodes = True`` on that
  module's frames (line events off), looking each executed offset up in a
  per-code table of ``LOAD_GLOBAL``/``LOAD_NAME`` offsets built once with ``dis``.
- ``monitoring`` (3.12+): ``sys.monitoring`` ``INSTRUCTION`` events on that
  module's code objects (enabled per code at its first ``PY_START``), same
  table lookup: sees every instruction, like the settrace peer.
- ``monitoring-lean`` (3.12+): the same, but the callback returns ``DISABLE``
  for every instruction that is not a name load, so afterwards only the loads
  call back.  This is the strongest pure-Python peer we know of.

Peers count loads only; splitting them into global/builtin/missing would cost
them more, so they are given that for free.
"""

from __future__ import annotations

import dis
import sys
from types import CodeType
from typing import Callable, Dict, List, Optional, Tuple

_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})

Counts = Dict[Tuple[int, str], int]


def load_offsets(code: CodeType) -> Dict[int, str]:
    """Byte offset -> name for every global-name load in ``code`` (not nested code)."""
    return {ins.offset: ins.argval for ins in dis.get_instructions(code) if ins.opname in _LOADS}


class Peer:
    """A tracer that can be started and stopped around a call; subclasses fill ``counts``."""

    name = "peer"

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace
        self.counts: Counts = {}
        self._codes: Dict[int, CodeType] = {}  # keeps ids unique while they are keys

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def total(self) -> int:
        return sum(self.counts.values())

    def wrap(self, func: Callable[[], object]) -> Callable[[], object]:
        """``func`` run under this tracer."""

        def traced() -> object:
            self.start()
            try:
                return func()
            finally:
                self.stop()

        return traced


class SettracePeer(Peer):
    name = "settrace"

    def __init__(self, namespace: dict) -> None:
        super().__init__(namespace)
        self._local_tracers: Dict[int, Callable] = {}

    def _local_tracer(self, code: CodeType) -> Callable:
        offsets = load_offsets(code).get
        counts = self.counts
        code_id = id(code)

        def local(frame, event, arg):
            if event == "opcode":
                name = offsets(frame.f_lasti)
                if name is not None:
                    key = (code_id, name)
                    counts[key] = counts.get(key, 0) + 1
            return local

        self._codes[code_id] = code
        return local

    def _global(self, frame, event, arg):
        if frame.f_globals is not self.namespace:
            return None
        code = frame.f_code
        local = self._local_tracers.get(id(code))
        if local is None:
            local = self._local_tracers[id(code)] = self._local_tracer(code)
        frame.f_trace_lines = False
        frame.f_trace_opcodes = True
        frame.f_trace = local  # 3.13 needs it set here, or opcode events never start
        return local

    def start(self) -> None:
        if sys.version_info[:2] == (3, 12):
            # 3.12 only arms opcode events when some frame already asks for
            # them as tracing starts (CPython gh-103615, gh-114480).
            frame = sys._getframe()
            frame.f_trace_opcodes = True
            sys.settrace(self._global)
            frame.f_trace_opcodes = False
        else:
            sys.settrace(self._global)

    def stop(self) -> None:
        sys.settrace(None)


class MonitoringPeer(Peer):
    """``sys.monitoring`` INSTRUCTION events (3.12+); ``lean`` disables non-load offsets."""

    name = "monitoring"

    def __init__(self, namespace: dict, lean: bool = False) -> None:
        super().__init__(namespace)
        self.lean = lean
        self.name = "monitoring-lean" if lean else "monitoring"
        self._filename = namespace.get("__file__")
        self._tables: Dict[int, Dict[int, str]] = {}
        self._instrumented: List[CodeType] = []
        self._tool: Optional[int] = None

    def _on_start(self, code: CodeType, offset: int):
        mon = sys.monitoring
        if code.co_filename == self._filename and id(code) not in self._tables:
            self._tables[id(code)] = load_offsets(code)
            self._codes[id(code)] = code
            self._instrumented.append(code)
            mon.set_local_events(self._tool, code, mon.events.INSTRUCTION)
        return mon.DISABLE

    def _make_on_instruction(self) -> Callable:
        tables, counts = self._tables, self.counts
        disable = sys.monitoring.DISABLE
        lean = self.lean

        def on_instruction(code, offset):
            name = tables[id(code)].get(offset)
            if name is not None:
                key = (id(code), name)
                counts[key] = counts.get(key, 0) + 1
            elif lean:
                return disable
            return None

        return on_instruction

    def start(self) -> None:
        mon = sys.monitoring
        self._tool = next(i for i in range(6) if mon.get_tool(i) is None)
        mon.use_tool_id(self._tool, "globalhook-benchmark-peer")
        mon.register_callback(self._tool, mon.events.PY_START, self._on_start)
        mon.register_callback(self._tool, mon.events.INSTRUCTION, self._make_on_instruction())
        mon.set_events(self._tool, mon.events.PY_START)

    def stop(self) -> None:
        mon = sys.monitoring
        tool = self._tool
        mon.set_events(tool, 0)
        for code in self._instrumented:
            mon.set_local_events(tool, code, 0)
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.register_callback(tool, mon.events.INSTRUCTION, None)
        mon.free_tool_id(tool)
        # Each call starts like the first: re-arm what DISABLE turned off.
        self._instrumented.clear()
        self._tables.clear()
        mon.restart_events()


def peer_kinds() -> List[str]:
    """The peers this Python supports."""
    kinds = ["settrace"]
    if hasattr(sys, "monitoring"):
        kinds += ["monitoring", "monitoring-lean"]
    return kinds


def make_peer(kind: str, namespace: dict) -> Peer:
    if kind == "settrace":
        return SettracePeer(namespace)
    if kind == "monitoring":
        return MonitoringPeer(namespace)
    if kind == "monitoring-lean":
        return MonitoringPeer(namespace, lean=True)
    raise ValueError(f"unknown peer {kind!r}")
