"""The tracking dict and the recorder: the hot path.

A tracked module is born with a :class:`TrackingDict` as its one and only
``__dict__``, so every function defined in it has that dict as
``__globals__``.  Because the dict is not an exact ``dict``, CPython's
``LOAD_GLOBAL`` and module-level ``LOAD_NAME`` go through
``PyObject_GetItem`` and so through :meth:`TrackingDict.__getitem__`, which
attributes the lookup to the code object that made it (the caller's frame).

Counts live in per-kind tables keyed by ``(id(code), name)``: code objects
compare and hash by value (two identical functions in different files are
equal, and hashing one walks its bytecode), so identity is both right and
cheaper.  Each value is an :func:`itertools.count`; ``next()`` on it is a
single C call, so counts stay exact when many threads look names up at once,
with no lock on the hot path.

Code objects are never kept alive: each one that makes a lookup gets a
record, a weak reference whose callback takes the code's id out of every
table before CPython frees the code (so an id is never the key of two code
objects) and hands its counts over to be folded into totals keyed by
(module, file, line, function, name, kind).  Memory grows with the code
objects alive and the distinct names each looks up, plus one total per
distinct (function identity, name, kind); never with the number of lookups
or of code objects ever made (``eval`` in a loop).

Code whose globals are another namespace can subscript this one too (a
tool's ``frame.f_globals[name]``, ``vars(module)[name]``): such a read is
that code's, kept with this namespace's module as its owner, like a read of
the module's attribute (:func:`_foreign_read`).  A few lookups are the
interpreter's own and are not counted (:func:`_interpreter_probe`).

Only names and counts are kept, never values.  A key is kept verbatim only
when it is a ``str`` that is a valid identifier (all that a name lookup can
produce); any other key (``globals()["tok-" + secret]``, ``globals()[obj]``)
is counted under a fixed placeholder, without calling its ``repr()``.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock
from _weakref import ref as _ref
from itertools import count as _count

TYPE_CHECKING = False  # not from typing: this module is imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from types import CodeType, FunctionType
    from typing import Callable, Dict, FrozenSet, Iterator, List, Optional, Tuple

    _Table = Dict[str, _count]
    #: (module, file, first line, function, name, kind) -> count
    _Key = Tuple[str, str, int, str, str, str, str, str]

__all__ = ["TrackingDict", "Recorder", "RECORDER", "KINDS", "CORE", "is_tracking_dict", "count_config", "add_entries"]

#: Kinds of lookup, in report order.  New kinds are added at the end.
KINDS = ("global", "builtin", "missing", "store", "delete", "attribute", "read", "write")
#: Slots of a code object's tables tuple (see _new_tables): one per kind up to attribute...
GLOBAL, BUILTIN, MISSING, STORE, DELETE, ATTRIBUTE = range(6)
#: ...then the reads of tracked modules' attributes that were not found (kind
#: "missing", with an owner); like ATTRIBUTE's, {owner module name: {attribute name: counter}}...
ATTRIBUTE_MISSING = ATTRIBUTE + 1
#: ...then the reads and writes of configuration names (an environment
#: variable, a framework's setting: see configreads), kinds "read" and
#: "write", each {owner: {name: counter}}.
READ_TABLE, WRITE_TABLE = ATTRIBUTE_MISSING + 1, ATTRIBUTE_MISSING + 2
#: Owner labels of configuration reads :meth:`Recorder.code_reads` has handed out
#: (not modules: what they hold now comes from configreads.current_value).
CONFIG_OWNERS: "set" = set()

#: Placeholders recorded instead of keys that a name lookup cannot produce.
NON_IDENTIFIER_KEY = "<non-identifier str key>"
OTHER_TYPE_KEY = "<key of another type>"

# Per kind: id(code) -> {name: counter}.  Module globals (an exact dict, so
# the hot path's own global reads stay specialised).  Inner tables are made
# once per code object, for every kind at once, and are never replaced: the
# compiled core caches them on the code object itself.
_global_counts: Dict[int, _Table] = {}
_builtin_counts: Dict[int, _Table] = {}
_missing_counts: Dict[int, _Table] = {}
_store_counts: Dict[int, _Table] = {}
_delete_counts: Dict[int, _Table] = {}
_attribute_counts: Dict[int, Dict[str, _Table]] = {}
_attribute_missing_counts: Dict[int, Dict[str, _Table]] = {}
_read_counts: Dict[int, Dict[str, _Table]] = {}
_write_counts: Dict[int, Dict[str, _Table]] = {}
_TABLES = (
    _global_counts, _builtin_counts, _missing_counts, _store_counts, _delete_counts,
    _attribute_counts, _attribute_missing_counts, _read_counts, _write_counts,
)


#: How many tables a context and a code object have (the _TABLES).
_TABLE_COUNT = len(_TABLES)


def _py_new_tables(count: int) -> tuple:
    """One code object's inner tables: one per kind up to attribute, the attribute misses, reads, writes."""
    tables = tuple([{} for _ in range(count)])
    _hide(tables)
    for table in tables:
        _hide(table)  # free-threaded builds and 3.14 track every dict from the start
    return tables


def _py_file_tables(outer: tuple, code_id: int, inner: tuple) -> None:
    """Files one code object's ``inner`` tables under ``code_id`` in a context's ``outer`` ones."""
    for table, each in zip(outer, inner):
        table.setdefault(code_id, each)
        _hide(table)


def _no_hide(obj: object) -> None:
    pass


def _gc_hider():
    """The compiled core's ``hide_from_gc`` (used by the pure-Python core too where it is built).

    Everything the recorder allocates on first sight (records, tables,
    counters) is made while the program runs, inside the program's heap: a
    program that counts ``gc.get_objects()`` around some work (sortedcontainers'
    test_ref_counts) would count them.  None of them can be part of a cycle,
    so they are untracked.  Without the compiled module this does nothing.
    """
    try:
        from globalhook import _ctracking
    except ImportError:
        return _no_hide
    return getattr(_ctracking, "hide_from_gc", _no_hide)


#: Untracks one of the recorder's own containers (see _gc_hider).
_hide = _gc_hider()


def _table_makers():
    """The compiled core's ``new_tables``/``file_tables`` where built (a suite
    makes tens of thousands of context tables: one per code object and test phase)."""
    try:
        from globalhook import _ctracking
    except ImportError:
        return _py_new_tables, _py_file_tables
    make, file = getattr(_ctracking, "new_tables", None), getattr(_ctracking, "file_tables", None)
    if make is None or file is None:
        return _py_new_tables, _py_file_tables
    return make, file


_new_tables, _file_tables = _table_makers()

# Contexts (globalhook.context): each label has tables of its own, the shape of
# _TABLES.  Switching rebinds the five per-kind names above, so the hot path
# reads the current context's tables with no extra step; _TABLES itself always
# stays the tables of "" (no context).  The compiled core caches per-code
# tables, so it is told of every switch (a new epoch) and fetches them again.
_context = ""
_context_tables: Dict[str, Tuple[Dict[int, _Table], ...]] = {"": _TABLES}


class _CodeRecord(_ref):
    """What is known of one code object that made a lookup, without keeping it alive.

    A weak reference to the code (callback :func:`_forget`) that carries the
    code's identity for the data (file, first line, function) and its tables
    (the inner tables of every kind, and name -> module noted on first sight).
    """

    __slots__ = ("code_id", "file", "line", "function", "tables", "owners", "contexts", "reader")


#: code id -> record of that code object, for every code object alive that made a lookup.
_records: Dict[int, _CodeRecord] = {}
#: code id -> offsets of the instructions that load a name (see _load_sites).
_sites: Dict[int, FrozenSet[int]] = {}
#: Records of code objects that died, waiting to be folded into _folded.
_dead: List[_CodeRecord] = []
#: (module, file, line, function, name, kind, context, owner) -> count, for code objects that died.
_folded: Dict[_Key, int] = {}
#: Files whose code's counts are dropped when it dies (globalhook's own probes, see forget_file).
_forgotten_files: set = set()
#: Guards _folded; taken by readers, never on the hot path nor in a weakref callback.
_lock = allocate_lock()
#: Fold dead records from the slow path once this many wait.
_FOLD_AT = 1024
_CodeType = type((lambda: None).__code__)
_HAS_QUALNAME = hasattr(_CodeType, "co_qualname")  # 3.11+

_MISSING = object()
#: Serialises context switches (the hot path never takes it).
_switch_lock = allocate_lock()
#: Tells the compiled core that its cached per-code tables are stale (set by _select_core).
_new_epoch = None
#: Empties one inner table; the compiled core's also drops the counters it caches.
_clear_counts = dict.clear
#: Counts the `global` writes the compiled core's dict watcher left pending (first sights; 3.12+).
_flush_writes = None
#: The compiled core's reader of the recorder's rows (the save); None: _record_counts alone.
_save_rows = None
#: Makes the counters: itertools.count, or the compiled core's Tally (same repr).
_new_counter = _count
_getframe = sys._getframe
_id = id
_next = next
_type = type
_dict_getitem = dict.__getitem__
_dict_setitem = dict.__setitem__
_dict_delitem = dict.__delitem__
_dict_get = dict.get
_str = str.__str__  # an exact str with the text of any str, running no code of a subclass
_type_name = type.__dict__["__name__"].__get__

_LOAD_OPS = frozenset(("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"))


def _record(code: CodeType) -> _CodeRecord:
    """Slow path, once per code object: its record, made on first sight."""
    record = _records.get(_id(code))
    if record is not None:
        return record
    record = _CodeRecord(code, _forget)
    code_id = record.code_id = _id(code)
    record.file = _str(code.co_filename)
    record.line = code.co_firstlineno
    record.function = _str(code.co_qualname if _HAS_QUALNAME else code.co_name)
    record.tables = _new_tables(_TABLE_COUNT)
    record.owners = {}
    _hide(record.owners)
    record.reader = None  # the module of the code's globals, noted on its first attribute read
    record.contexts = None  # label -> inner tables, for the contexts it recorded in
    _hide(record)
    found = _records.setdefault(code_id, record)
    if found is record:
        _hide(_records)
        for table, inner in zip(_TABLES, record.tables):
            table[code_id] = inner
            _hide(table)
        if len(_dead) >= _FOLD_AT and _lock.acquire(False):
            try:
                _fold_dead()
            finally:
                _lock.release()
    return found


def _code_tables(code: CodeType) -> Tuple[_Table, ...]:
    """The inner tables of every kind for ``code`` (the compiled core caches them)."""
    record = _records.get(_id(code))
    if record is None:
        record = _record(code)
    label = _context
    return record.tables if not label else _tables_in_context(record, label)


def _code_owners(code: CodeType) -> Dict[str, str]:
    """``code``'s name -> module, noted by :func:`_first`: a name in it needs no
    :func:`_first` in a new context (the compiled core makes its counter)."""
    record = _records.get(_id(code))
    return (record if record is not None else _record(code)).owners


def _tables_in_context(record: _CodeRecord, label: str) -> Tuple[_Table, ...]:
    """Slow path, once per (code object, context): that context's inner tables.

    Not filed under the code in the context's per-kind tables here: only the
    Python fast paths read those (the pure-Python core's, configuration and
    foreign reads), and their first sight files them (:func:`_tables_now`).
    The compiled core, which makes most of them (a pytest run: one per code
    object and test phase), keeps them on the code object itself.
    """
    contexts = record.contexts
    if contexts is None:
        contexts = record.contexts = {}
        _hide(contexts)
    tables = contexts.get(label)
    if tables is None:
        tables = contexts.setdefault(label, _new_tables(_TABLE_COUNT))
        _hide(contexts)
    return tables


def switch_context(label: str) -> str:
    """Make ``label`` the current context ("" for none); returns the previous label."""
    global _context, _global_counts, _builtin_counts, _missing_counts, _store_counts, _delete_counts
    global _attribute_counts, _attribute_missing_counts, _read_counts, _write_counts
    with _switch_lock:
        previous = _context
        if label != previous:
            if _flush_writes is not None:
                _flush_writes()  # pending global writes belong to the context they were made in
            tables = _context_tables.get(label)
            if tables is None:
                tables = _context_tables.setdefault(label, _new_tables(_TABLE_COUNT))
                _hide(_context_tables)
            _context = label
            (_global_counts, _builtin_counts, _missing_counts, _store_counts, _delete_counts,
             _attribute_counts, _attribute_missing_counts, _read_counts, _write_counts) = tables
            if _new_epoch is not None:
                _new_epoch()
    return previous


def current_context() -> str:
    return _context


def _forget(
    record: _CodeRecord, _records=_records, _TABLES=_TABLES, _sites=_sites, _dead=_dead, _contexts=_context_tables
) -> None:
    """Weak-reference callback: a code object is dying.

    CPython calls it before it frees the code, so the id leaves every table
    while no other object can have it.  Only atomic dict and list operations:
    it can run at any point of any thread, inside the recorder's own methods
    too, and at interpreter exit after this module's globals were cleared
    (hence the tables bound as defaults).
    """
    code_id = record.code_id
    if _records.get(code_id) is not record:
        return
    for table in _TABLES:
        table.pop(code_id, None)
    if record.contexts:
        for label in list(record.contexts):
            for table in _contexts[label]:
                table.pop(code_id, None)
    _sites.pop(code_id, None)
    _records.pop(code_id, None)
    _dead.append(record)


def _fold_dead(upto: Optional[int] = None) -> None:
    """Add the counts of dead code objects to the totals (hold ``_lock``).

    Only the first ``upto`` records waiting: a reader that has just listed
    the code objects alive leaves those that died since for the next fold.
    Other threads (and weak-reference callbacks) only ever append.
    """
    if upto is None:
        upto = len(_dead)
    batch = _dead[:upto]
    del _dead[:upto]
    folded = _folded
    get = folded.get
    for record in batch:
        if record.file in _forgotten_files:
            continue
        for key, count in _record_counts(record):
            if key not in folded:
                _hide(key)
            folded[key] = get(key, 0) + count
    _hide(folded)


def _labelled_tables(record: _CodeRecord) -> List[Tuple[str, Tuple[_Table, ...]]]:
    """(context label, inner tables) of one code object, "" first."""
    found = [("", record.tables)]
    if record.contexts:
        found.extend(list(record.contexts.items()))
    return found


#: The kinds of a record's tables by name (in order), and those by owner with their table's index:
#: what _record_counts reads, and the compiled core's save_rows the same way.
_OWN_KINDS = KINDS[:ATTRIBUTE]
_BY_OWNER = (("attribute", ATTRIBUTE), ("missing", ATTRIBUTE_MISSING), ("read", READ_TABLE), ("write", WRITE_TABLE))


def _record_counts(record: _CodeRecord) -> Iterator[Tuple[_Key, int]]:
    """((module, file, line, function, name, kind, context, owner), count) of one code object, counts > 0.

    ``owner`` is "" for the code's own module's names; for attribute reads it
    is the module read, for configuration reads and writes the object
    (``os.environ``), and ``module`` the reader's module.
    """
    owners = record.owners
    value = _counter_value
    for label, tables in _labelled_tables(record):
        for kind, inner in zip(_OWN_KINDS, tables):
            if inner:
                for name, counter in list(inner.items()):  # one C call: other threads may add names
                    count = value(counter)
                    if count > 0:
                        yield (owners.get(name, "<unknown>"), record.file, record.line, record.function, name, kind, label, ""), count
        for kind, at in _BY_OWNER:
            by_owner = tables[at]
            if by_owner:
                reader = record.reader or "<unknown>"
                for owner, inner in list(by_owner.items()):
                    for name, counter in list(inner.items()):
                        count = value(counter)
                        if count > 0:
                            yield (reader, record.file, record.line, record.function, name, kind, label, owner), count


def _key_label(key: object) -> str:
    """What the data records for a key that is not an exact str identifier.

    Never calls the key's own methods (``repr``, ``str``, ``__eq__``...):
    only the type's name, and a str subclass's text through ``str`` itself.
    """
    cls = _type(key)
    if issubclass(cls, str):
        text = _str(key)
        return text if text.isidentifier() else NON_IDENTIFIER_KEY
    type_name = _str(_type_name(cls))
    return f"<key of type {type_name}>" if type_name.isidentifier() else OTHER_TYPE_KEY


def _module_name(namespace: dict) -> str:
    name = _dict_get(namespace, "__name__")
    if _type(name) is str:
        return name
    return _str(name) if issubclass(_type(name), str) else "<unknown>"


def _tables_now(code: CodeType) -> tuple:
    """``(record, tables)``: the tables ``code`` counts into in the current context, made on first
    sight and filed in the context's per-kind tables, where the Python fast paths find them."""
    record = _records.get(_id(code))
    if record is None:
        record = _record(code)
    label = _context
    if not label:
        return record, record.tables
    tables = _tables_in_context(record, label)
    outer = _context_tables[label]
    if record.code_id not in outer[GLOBAL]:
        _file_tables(outer, record.code_id, tables)
    return record, tables


def _counter_in(table: dict, name: str) -> object:
    """``table[name]``, made on first sight, and kept out of the collector's lists (see _gc_hider)."""
    counter = table.get(name)
    if counter is None:
        counter = _new_counter()
        _hide(counter)
        counter = table.setdefault(name, counter)
        _hide(table)
    return counter


def _owned_counter(by_owner: dict, owner: str, name: str) -> object:
    """``by_owner[owner][name]``, made (and hidden, as :func:`_counter_in`) on first sight."""
    inner = by_owner.get(owner)
    if inner is None:
        inner = {}
        _hide(inner)
        inner = by_owner.setdefault(owner, inner)
        _hide(by_owner)
    return _counter_in(inner, name)


def _first(kind: int, code: CodeType, name: object, namespace: dict) -> None:
    """Slow path: count one lookup whose counter the hot path did not find.

    That is the first lookup of a name of one kind by one code object, and
    every lookup of a key that is recorded under a placeholder.
    """
    if _type(name) is not str or not name.isidentifier():
        name = _key_label(name)
    record, tables = _tables_now(code)
    _next(_counter_in(tables[kind], name))
    owners = record.owners
    if name not in owners:
        owners.setdefault(name, _module_name(namespace))


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name[:2] == "__" and name[-2:] == "__"


#: Reads by the import system's own frozen code (``_handle_fromlist`` asks
#: ``hasattr(package, name)`` for every ``from package import name``) are
#: not the program's: they are never counted.
_IMPORT_SYSTEM_FILES = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")


def _first_attribute(missing: bool, code: CodeType, owner: str, name: object, namespace: object) -> None:
    """Slow path: count one read of a tracked module's attribute whose counter the hot path did not find.

    ``missing``: the read raised AttributeError.  ``owner``: the tracked
    module's ``__name__``; ``namespace``: the reading frame's globals (whose
    ``__name__`` is the reader's module, noted once per code object).
    """
    if _str(code.co_filename) in _IMPORT_SYSTEM_FILES:
        return
    if _type(name) is not str or not name.isidentifier():
        name = _key_label(name)
    if _type(owner) is not str:
        owner = _str(owner) if isinstance(owner, str) else "<unknown>"
    record, tables = _tables_now(code)
    _next(_owned_counter(tables[ATTRIBUTE_MISSING if missing else ATTRIBUTE], owner, name))
    if record.reader is None:
        record.reader = _module_name(namespace) if isinstance(namespace, dict) else "<unknown>"


def _count_attribute(module: object, name: str, missing: bool) -> None:
    """The pure-Python core's attribute hot path (the compiled core's is in C)."""
    try:
        frame = _getframe(2)  # 0: here, 1: __getattribute__, 2: the reader
    except ValueError:
        return
    code = frame.f_code
    owner = _dict_get(_module_dict(module), "__name__")
    try:
        if missing:
            _next(_attribute_missing_counts[_id(code)][owner][name])
        else:
            _next(_attribute_counts[_id(code)][owner][name])
    except (KeyError, TypeError):
        _first_attribute(missing, code, owner, name, frame.f_globals)


#: globalhook's own files: a read made by its code (reading GLOBALHOOK_* to start a child) is never the program's.
_OWN_FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


def count_config(write: bool, owner: str, name: str, frame: object, fallback: bool = False) -> None:
    """Count a read or write of a configuration name for the innermost tracked code from ``frame`` up.

    ``frame`` is the first frame outside the recording wrapper; frames of
    code that is not tracked (the standard library, a framework) are passed
    over, so a read is charged to the tracked function that called into them.
    Nothing is counted when no tracked code is on the stack, unless
    ``fallback``: then ``frame``'s own code is charged (a framework's write
    that matters for the current context, such as a settings override).
    Nor when the walk passes the import system before it finds tracked
    code (what a library reads while it is being imported is its own doing,
    not the importer's), or globalhook's own code.  ``owner`` and ``name``
    must be exact str (see configreads.name_label).
    """
    found = _config_caller(frame) if _config_caller is not None else NotImplemented
    if found is NotImplemented:
        found = _walk_to_tracked(frame)
    if found is None:
        if not fallback or frame is None:
            return
        found = (frame.f_code, frame.f_globals)  # type: ignore[attr-defined]
    code, namespace = found
    try:
        _next((_write_counts if write else _read_counts)[_id(code)][owner][name])
    except KeyError:
        _first_config(WRITE_TABLE if write else READ_TABLE, code, owner, name, namespace)


def _walk_to_tracked(frame: object) -> Optional[Tuple[CodeType, dict]]:
    """:func:`count_config`'s walk, where the compiled core's ``config_caller`` cannot make it."""
    # TrackingDict is read where it is compared, never held in a local: the
    # attach probe counts the references to it (live._probe), and a walk in
    # another thread would hold one for its whole length.
    while frame is not None:
        if _type(frame.f_globals) is TrackingDict:  # type: ignore[attr-defined]
            return frame.f_code, frame.f_globals  # type: ignore[attr-defined]
        filename = frame.f_code.co_filename  # type: ignore[attr-defined]
        if filename in _IMPORT_SYSTEM_FILES or filename.startswith(_OWN_FILES):
            return None  # a library being imported, or globalhook itself (its runner, its own settings)
        frame = frame.f_back  # type: ignore[attr-defined]
    return None


#: The compiled core's walk of count_config (set once TrackingDict exists), or None.
_config_caller = None


def _first_config(slot: int, code: CodeType, owner: str, name: str, namespace: dict) -> None:
    """Slow path of :func:`count_config`: the first count of one (owner, name) by one code object."""
    record, tables = _tables_now(code)
    _next(_owned_counter(tables[slot], owner, name))
    if record.reader is None:
        record.reader = _module_name(namespace)


def _load_sites(code: CodeType) -> FrozenSet[int]:
    """Offsets at which ``code`` loads a name (and the EXTENDED_ARGs before them).

    A failed lookup made by one of these instructions goes on to the
    frame's builtins (a builtin, or a missing name); one made anywhere else
    (``globals()[name]``) raises ``KeyError`` (a missing name).  Knowing
    which also lets the hot path hand back the builtin itself instead of
    raising and catching an exception.
    """
    found = _sites.get(_id(code))
    if found is None:
        offsets = _scan_sites(code) if _OPCODES is not None else _dis_sites(code)
        _record(code)  # its entry in _sites goes when the code does
        found = frozenset(offsets)
        _hide(found)
        found = _sites.setdefault(_id(code), found)
        _hide(_sites)
    return found


#: CPython's opcodes of (the name loads, EXTENDED_ARG) per version, so that
#: finding load sites imports nothing (``dis`` would be loaded for the
#: program at its first builtin).  Other versions and implementations ask ``dis``.
_OPCODES = {
    (3, 9): ((116, 101), 144),
    (3, 10): ((116, 101), 144),
    (3, 11): ((116, 101), 144),
    (3, 12): ((116, 101, 175), 144),
    (3, 13): ((91, 92, 90), 71),
    (3, 14): ((92, 93, 91), 69),
}.get(sys.version_info[:2]) if sys.implementation.name == "cpython" else None


def _scan_sites(code: CodeType) -> List[int]:
    """Load sites read straight from ``co_code``: 2-byte units, inline caches are opcode 0."""
    loads, extended_arg = _OPCODES  # type: ignore[misc]
    raw = code.co_code
    offsets = []
    prefix_start = -1
    for offset in range(0, len(raw), 2):
        op = raw[offset]
        if op == extended_arg:
            if prefix_start < 0:
                prefix_start = offset
            continue
        if op in loads:
            offsets.extend(range(offset if prefix_start < 0 else prefix_start, offset + 1, 2))
        prefix_start = -1
    return offsets


def _dis_sites(code: CodeType) -> List[int]:
    import dis

    offsets = []
    prefix: List[int] = []
    for instruction in dis.get_instructions(code):
        if instruction.opname == "EXTENDED_ARG":
            prefix.append(instruction.offset)
            continue
        if instruction.opname in _LOAD_OPS:
            offsets.append(instruction.offset)
            offsets.extend(prefix)
        prefix = []
    return offsets


#: CPython's SETUP_ANNOTATIONS opcode per version (see _interpreter_probe).
_SETUP_ANNOTATIONS = {
    (3, 9): 85, (3, 10): 85, (3, 11): 85, (3, 12): 85, (3, 13): 37, (3, 14): 36,
}.get(sys.version_info[:2]) if sys.implementation.name == "cpython" else None
_BUILTINS_NAME = "__builtins__"
_ANNOTATIONS_NAME = "__annotations__"


def _interpreter_probe(code: CodeType, name: str, lasti: int) -> bool:
    """Is this lookup one the interpreter makes for itself, not the program's read?

    Two are known.  Module-level annotations make ``SETUP_ANNOTATIONS`` ask
    the namespace for ``__annotations__`` (a miss before the first one), and
    C code that imports (``PyImport_Import``: 3.12+ subscripting a generic
    implemented in C, ``Generic[T]``, ``Mapped[int]``) reads ``__builtins__``
    from the running frame's globals.  A program reads ``__builtins__`` by
    name (a name-loading instruction); anywhere else it is the interpreter.
    Both cores ask only for these two names.
    """
    if name == _BUILTINS_NAME:
        return lasti not in _load_sites(code)
    if name == _ANNOTATIONS_NAME and _SETUP_ANNOTATIONS is not None:
        raw = code.co_code
        return 0 <= lasti < len(raw) and raw[lasti] == _SETUP_ANNOTATIONS
    return False


def _foreign_read(code: CodeType, name: object, found: bool, namespace: dict, reader_globals: object, lasti: int) -> None:
    """Count a read of ``namespace`` made by code whose globals are another namespace.

    ``frame.f_globals["__tracebackhide__"]`` in pytest, ``vars(module)[name]``:
    the reader is that code and its own module, the owner this namespace's
    module, as for a read of the module's attribute (kinds ``attribute`` and
    ``missing``).  A miss at a name-loading instruction (``exec`` given this
    namespace as its locals) is not counted: the lookup goes on in the
    frame's own globals and builtins.
    """
    if not found and lasti in _load_sites(code):
        return
    owner = _module_name(namespace)
    try:
        if found:
            _next(_attribute_counts[_id(code)][owner][name])
        else:
            _next(_attribute_missing_counts[_id(code)][owner][name])
    except (KeyError, TypeError):
        _first_attribute(not found, code, owner, name, reader_globals)


def _counter_value(counter: _count) -> int:
    """How many steps a counter has made (the compiled core's Tally has a faster reader)."""
    # repr(count(n)) is 'count(n)'; reading it does not advance the counter.
    return int(repr(counter)[6:-1])


def _builtin_of(builtins: object, name: object) -> object:
    """The builtin ``name`` names in a builtins namespace that is not an exact dict.

    A dict subclass is read as a plain dict; any other mapping is asked by
    CPython itself, so the name counts as a builtin without running its code.
    """
    return _dict_get(builtins, name, _MISSING) if isinstance(builtins, dict) else None


class _PyTrackingDict(dict):
    """The pure-Python core: a module namespace that records every lookup.

    ``__slots__ = ()`` keeps the instance layout identical to ``dict``; the
    native module strategy depends on that to put one in a module's
    ``md_dict`` slot.
    """

    __slots__ = ()

    def __getitem__(self, name):
        value = _dict_get(self, name, _MISSING)
        try:
            frame = _getframe(1)
        except ValueError:  # called from C with no Python frame: nothing to attribute
            return _dict_getitem(self, name)
        if frame.f_globals is not self:  # another module's code reads this namespace
            _foreign_read(frame.f_code, name, value is not _MISSING, self, frame.f_globals, frame.f_lasti)
            if value is _MISSING:
                raise KeyError(name)
            return value
        if value is not _MISSING:
            if name is _BUILTINS_NAME and _interpreter_probe(frame.f_code, name, frame.f_lasti):
                return value
            try:
                _next(_global_counts[_id(frame.f_code)][name])
            except KeyError:
                _first(GLOBAL, frame.f_code, name, self)
            return value
        # Not a global.  At one of CPython's own name-loading instructions the
        # lookup goes on to the frame's builtins: a builtin, or a missing name
        # (NameError).  We do that lookup here, the same one without an
        # exception.  Anywhere else (``globals()[name]``) the program gets
        # KeyError: a missing name, whatever the builtins hold.
        code = frame.f_code
        builtins = frame.f_builtins
        exact = _type(builtins) is dict
        value = _dict_get(builtins, name, _MISSING) if exact else _builtin_of(builtins, name)
        if value is not _MISSING:
            sites = _sites.get(_id(code))
            if sites is None:
                sites = _load_sites(code)
            if frame.f_lasti in sites:
                try:
                    _next(_builtin_counts[_id(code)][name])
                except KeyError:
                    _first(BUILTIN, code, name, self)
                if exact:  # this dict is the frame's globals (checked above): hand the builtin back
                    return value
                raise KeyError(name)
        if _type(name) is str and name == _ANNOTATIONS_NAME and _interpreter_probe(code, name, frame.f_lasti):
            raise KeyError(name)
        try:
            _next(_missing_counts[_id(code)][name])
        except KeyError:
            _first(MISSING, code, name, self)
        raise KeyError(name)

    def __setitem__(self, name, value):
        _dict_setitem(self, name, value)
        try:
            code = _getframe(1).f_code
        except ValueError:
            return
        try:
            _next(_store_counts[_id(code)][name])
        except KeyError:
            _first(STORE, code, name, self)

    def __delitem__(self, name):
        _dict_delitem(self, name)
        try:
            code = _getframe(1).f_code
        except ValueError:
            return
        try:
            _next(_delete_counts[_id(code)][name])
        except KeyError:
            _first(DELETE, code, name, self)


#: The version of the C core's interface this file expects (GH_API in _ctracking.c).
_C_API = 7
#: The CPythons the compiled core knows (_ctracking.c stops the build on others).
C_VERSIONS = ((3, 9), (3, 14))


def _ctracking_module_type() -> type:
    from globalhook import _ctracking

    return _ctracking.AttributeModule


def _c_core_expected() -> bool:
    """Should the compiled core be there?  (A CPython the core knows; free-threaded from 3.14t.)"""
    if sys.implementation.name != "cpython" or not C_VERSIONS[0] <= sys.version_info[:2] <= C_VERSIONS[1]:
        return False
    free_threaded = "free-threading" in sys.version  # not sysconfig: the runner imports little
    return not (free_threaded and sys.version_info[:2] < (3, 14))


def _select_core() -> Tuple[str, type, Optional[str], str]:
    """Pick the compiled core when it is built, unless GLOBALHOOK_CORE says otherwise.

    Returns (core, base class, problem, reason); ``problem`` is a one-line
    message when the environment asked for something that cannot be had,
    ``reason`` says in a few words why this core is the one in use.
    """
    wanted = os.environ.get("GLOBALHOOK_CORE", "").strip().lower() or "auto"
    if wanted not in ("auto", "c", "python"):
        problem = f"GLOBALHOOK_CORE: expected 'auto', 'c' or 'python', got {wanted!r}"
        return "python", _PyTrackingDict, problem, problem
    if wanted == "python":
        return "python", _PyTrackingDict, None, "GLOBALHOOK_CORE=python asked for it"
    try:
        from globalhook import _ctracking
    except ImportError as error:
        if _c_core_expected():
            reason = (
                f"the compiled core is not built for this Python ({error}); reinstall globalhook "
                "with a C compiler at hand (pip install -v shows why its build failed)"
            )
        elif sys.implementation.name == "cpython" and "free-threading" in sys.version and sys.version_info < (3, 14):
            reason = "the compiled core needs free-threaded CPython 3.14t or newer"
        else:
            known = "{}.{}-{}.{}".format(*C_VERSIONS[0], *C_VERSIONS[1])
            reason = (
                f"the compiled core knows CPython {known}, not {sys.implementation.name} "
                f"{sys.version_info[0]}.{sys.version_info[1]}"
            )
        problem = f"GLOBALHOOK_CORE=c: {reason}" if wanted == "c" else None
        return "python", _PyTrackingDict, problem, reason
    if getattr(_ctracking, "API", None) != _C_API:
        # A stale build left next to newer sources: never mix the two.
        reason = "the compiled core is out of date; reinstall globalhook"
        problem = f"GLOBALHOOK_CORE=c: {reason}" if wanted == "c" else None
        return "python", _PyTrackingDict, problem, reason
    global _new_counter, _counter_value, _new_epoch, _flush_writes, _clear_counts, _save_rows
    _ctracking.setup(_code_tables, _first, _load_sites, _code_owners)
    _ctracking.setup_attributes(_first_attribute)
    _ctracking.setup_reads(_interpreter_probe, _foreign_read)
    _new_epoch = getattr(_ctracking, "new_epoch", None)
    _clear_counts = _ctracking.clear_counts
    _flush_writes = _ctracking.flush_writes if getattr(_ctracking, "WATCHES_WRITES", 0) else None
    _new_counter = _ctracking.Tally
    _counter_value = _ctracking.Tally.value.__get__
    _save_rows = getattr(_ctracking, "save_rows", None)
    asked = "GLOBALHOOK_CORE=c asked for it" if wanted == "c" else "built for this Python"
    return "c", _ctracking.TrackingDictBase, None, f"{asked}; reads {_ctracking.FRAMES}"


#: "c" when the compiled accelerator is in use, else "python"; CORE_REASON says why.
CORE, _Base, CORE_PROBLEM, CORE_REASON = _select_core()
#: One line for ``globalhook run`` to show: the pure-Python core where the compiled one should be.
CORE_WARNING: Optional[str] = (
    f"running on the pure-Python core, several times slower: {CORE_REASON} "
    "(GLOBALHOOK_CORE=python silences this)"
    if CORE == "python" and CORE_PROBLEM is None
    and os.environ.get("GLOBALHOOK_CORE", "").strip().lower() != "python" and _c_core_expected()
    else None
)


class TrackingDict(_Base):  # type: ignore[valid-type,misc]
    """A module namespace that records every lookup CPython routes through it.

    Because it is not an exact ``dict``, ``LOAD_GLOBAL`` and module-level
    ``LOAD_NAME`` call its ``__getitem__`` (from :class:`_PyTrackingDict` or
    the compiled core), which counts the lookup for the calling code object.
    """

    __slots__ = ()

    def __reduce_ex__(self, protocol):
        # Pickle and copy like the plain dict a module namespace would be.
        return (dict, (dict(self),))


def _connect_config_walk() -> None:
    """Hand count_config's walk to the compiled core, which reads frames in place."""
    global _config_caller
    if CORE != "c":
        return
    from globalhook import _ctracking

    if hasattr(_ctracking, "setup_config_walk"):
        _ctracking.setup_config_walk(TrackingDict, _IMPORT_SYSTEM_FILES, _OWN_FILES)
        _config_caller = _ctracking.config_caller


_connect_config_walk()


def is_tracking_dict(obj: object) -> bool:
    return isinstance(obj, TrackingDict)


# -- reads of a tracked module's attributes ----------------------------------

_ModuleType = type(sys)
_module_getattribute = _ModuleType.__getattribute__
_module_dict = _ModuleType.__dict__["__dict__"].__get__
_object_getattribute = object.__getattribute__


class _ModuleHook:
    """``__getattr__`` of the pure core's module type: the module's own (PEP 562), or its error.

    A descriptor: CPython calls it when ``__getattribute__`` raised
    AttributeError, takes what ``__get__`` returns and calls that with the
    name, straight from the reader's frame: the module's ``__getattr__`` sees
    its caller (``stacklevel=2`` warnings, ``sys._getframe(1)``) and the
    traceback has no frame of globalhook's, as for a plain module.  Without
    a hook, a plain module with the same name and spec raises the error a
    module raises ("module 'm' has no attribute 'x'", the circular-import
    hints), from C.
    """

    __slots__ = ()

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        namespace = _module_dict(instance)
        hook = _dict_get(namespace, "__getattr__")
        if hook is not None:
            return hook
        twin = _ModuleType("")
        twin_namespace = _module_dict(twin)
        twin_namespace.clear()
        for key in ("__name__", "__spec__"):
            if key in namespace:
                twin_namespace[key] = _dict_get(namespace, key)
        return twin.__getattribute__


class _PyAttributeModule(_ModuleType):
    """The pure-Python core's module type: records reads of its attributes.

    ``types.ModuleType`` reads its dict in C (and 3.12+ specialises
    ``LOAD_ATTR`` for exact modules), so a module whose attribute reads are
    seen must be of a subclass with its own ``__getattribute__``.  No slots
    of its own: the layout stays ModuleType's, so ``__class__`` assignment to
    and from other module subclasses keeps working.  Named ``module`` (in
    ``builtins``) like ModuleType, so ``repr(type(m))`` and pickling's error
    messages read as for a plain module.  Dunder names (``__name__``,
    ``__spec__``, ``__path__``, ``__dict__``...: the import system's) are not
    counted.

    An attribute the module lacks is handed on to :class:`_ModuleHook` (the
    module's PEP 562 ``__getattr__``) by CPython itself, so that hook runs
    from the reader's frame.  Such a read is counted when it reaches the
    hook, before its outcome is known: as ``attribute`` when the module has
    a ``__getattr__`` (it may still raise: the compiled core counts that as
    ``missing``), as ``missing`` when it has none.
    """

    __slots__ = ()

    def __getattribute__(self, name):
        if _type(name) is str and len(name) > 4 and name[:2] == "__" and name[-2:] == "__":
            if name == "__getattr__":  # the module's own, as ModuleType answers it
                return _module_getattribute(self, name)
            return _object_getattribute(self, name)
        try:
            value = _object_getattribute(self, name)
        except AttributeError:
            _count_attribute(self, name, "__getattr__" not in _module_dict(self))
            raise
        _count_attribute(self, name, False)
        return value

    __getattr__ = _ModuleHook()

    def __reduce_ex__(self, protocol):
        # What pickle and copy say of any module (copyreg's protocols 0 and 1
        # would otherwise try to build a ModuleType from it).
        raise TypeError("cannot pickle 'module' object")


_PyAttributeModule.__name__ = _PyAttributeModule.__qualname__ = "module"
_PyAttributeModule.__module__ = "builtins"

#: The type of native tracked modules whose attribute reads are recorded.
AttributeModule = _ctracking_module_type() if CORE == "c" else _PyAttributeModule  # type: ignore[name-defined]


def _reads_of(code: CodeType) -> Iterator[Tuple[str, str, int, bool]]:
    """``(owner, name, count, own)`` of every read one code object made, in every context, counts > 0.

    ``own``: a global, builtin or missing name of the code's own module
    (``owner`` is that module); otherwise a read of a tracked module's
    attribute or of a configuration name (whose owner joins CONFIG_OWNERS).
    """
    record = _records.get(_id(code))
    if record is None or record() is not code:
        return
    owners = record.owners
    for _, tables in _labelled_tables(record):
        for kind in (GLOBAL, BUILTIN, MISSING):
            for name, counter in list(tables[kind].items()):
                count = _counter_value(counter)
                if count > 0:
                    yield owners.get(name, "<unknown>"), name, count, True
        for slot in (ATTRIBUTE, ATTRIBUTE_MISSING, READ_TABLE):
            for owner, inner in list(tables[slot].items()):
                if slot == READ_TABLE:
                    CONFIG_OWNERS.add(owner)
                for name, counter in list(inner.items()):
                    count = _counter_value(counter)
                    if count > 0:
                        yield owner, name, count, False


#: Makers of entries that no table holds, which :meth:`Recorder.lookups` adds:
#: engine modules above this one register theirs (:mod:`globalhook.globalwrites`,
#: the `global` writes a bytecode scan found), so that this module imports none of them.
_EXTRA_ENTRIES: List[Callable[[], List[dict]]] = []


def add_entries(source: Callable[[], List[dict]]) -> None:
    """Have :meth:`Recorder.lookups` add the entries ``source()`` returns to the tables' own."""
    if source not in _EXTRA_ENTRIES:
        _EXTRA_ENTRIES.append(source)


class Recorder:
    """The process-wide view of the tables: totals, qualified names, notes.

    There is one recorder per process (:data:`RECORDER`), because the hot path
    writes to module-level tables.
    """

    def __init__(self) -> None:
        #: file -> {(first line, name): qualified name} (Python < 3.11 only).
        self._by_file: Dict[str, Dict[Tuple[int, str], str]] = {}
        #: module name -> reason it matched the patterns but is not tracked.
        self.not_tracked: Dict[str, str] = {}

    # -- attribution -------------------------------------------------------

    def register_code(self, code: CodeType) -> None:
        """Remember qualified names for a module's code tree (needed before 3.11).

        Python < 3.11 code objects carry only ``co_name``.  Code compiled by
        globalhook itself (the ``__main__`` it runs) is registered here, as
        its file's map; any other file's code tree is read (from its bytecode
        cache, or compiled) once, when first reported.
        """
        if _HAS_QUALNAME:
            return
        found = self._by_file.setdefault(code.co_filename, {})
        for each, qualname in _code_tree(code):
            found.setdefault((each.co_firstlineno, each.co_name), qualname)

    def qualname(self, code: CodeType) -> str:
        if _HAS_QUALNAME:
            return code.co_qualname  # type: ignore[attr-defined]
        return self._qualname(code.co_filename, code.co_firstlineno, code.co_name)

    def _qualname(self, filename: str, line: int, name: str) -> str:
        return self._file_qualnames(filename).get((line, name), name)

    def _file_qualnames(self, filename: str) -> Dict[Tuple[int, str], str]:
        """(first line, name) -> qualified name for every code object of a source file."""
        found = self._by_file.get(filename)
        if found is None:
            found = {}
            tree = _file_code(filename)  # None: gone, changed or not Python: fall back to co_name
            if tree is not None:
                for each, qualname in _code_tree(tree):
                    found.setdefault((each.co_firstlineno, each.co_name), qualname)
            self._by_file[filename] = found
        return found

    # -- reading -----------------------------------------------------------

    def rows(self) -> List[Tuple[str, str, int, str, str, str, str, str, int]]:
        """(module, file, line, function, name, kind, context, owner, count) for everything so far, unsorted.

        ``owner`` is "" except for reads of a tracked module's attributes
        (kind ``attribute``, or ``missing`` for a failed read): then it is the
        module read, and ``module`` the module of the code that read it.

        The same key can appear more than once (two code objects alike, or
        one alive and others that died); :meth:`lookups` sums them.
        ``function`` is the code's ``co_qualname`` (``co_name`` before 3.11).
        Alive code objects are read from their tables, dead ones from the
        totals they were folded into; none is counted twice, also when one
        dies while this runs.  (One that another thread is freeing at that
        very moment may be left for the next call.)
        """
        if _flush_writes is not None:
            _flush_writes()
        with _lock:
            waiting = len(_dead)  # first: a code that dies from now on is still in the list below
            records = list(_records.values())
            _fold_dead(waiting)
            rows = [(*key, count) for key, count in _folded.items() if count > 0]
        if _save_rows is not None:
            import gc

            enabled = gc.isenabled()
            gc.disable()  # no Python code may run while the compiled reader walks a table
            try:
                start = len(rows)
                if _save_rows(records, rows, _OWN_KINDS, _BY_OWNER, "<unknown>"):
                    return rows
                del rows[start:]  # a table it does not read (counters of the pure-Python core): the long way
            finally:
                if enabled:
                    gc.enable()
        append = rows.append
        for record in records:
            for key, count in _record_counts(record):
                append((*key, count))
        return rows

    def lookups(self) -> List[dict]:
        """The recorded lookups as data-file entries (names and counts only), summed and sorted."""
        import gc

        enabled = gc.isenabled()
        gc.disable()  # many new objects, none of them garbage: collections would walk them again and again
        try:
            rows = self.sorted_rows()
            result: List[dict] = []
            append = result.append
            last = None
            for module, file, line, function, name, kind, context, owner, count in rows:
                key = (module, file, line, function, name, kind, context, owner)
                if key == last:
                    result[-1]["count"] += count
                    continue
                last = key
                entry = {
                    "module": module,
                    "function": function,
                    "file": file,
                    "line": line,
                    "name": name,
                    "kind": kind,
                    "count": count,
                }
                if context:
                    entry["context"] = context
                if owner:
                    entry["owner"] = owner
                    entry["reader_module"] = module
                append(entry)
            static = self.static_entries()
            if static:
                result.extend(static)
                result.sort(key=_entry_order)
            return result
        finally:
            if enabled:
                gc.enable()

    def sorted_rows(self) -> List[Tuple[str, str, int, str, str, str, str, str, int]]:
        """:meth:`rows` with qualified names, sorted by key: equal keys side by side, not yet summed.

        What :meth:`lookups` is made of, for a writer that encodes the data
        file straight from it (:func:`globalhook.compact.encode_rows`).
        """
        rows = self.rows()
        if not _HAS_QUALNAME:
            rows = self._with_qualnames(rows)
        rows.sort()
        return rows

    def static_entries(self) -> List[dict]:
        """Entries no table holds (``global`` writes a bytecode scan found), which :meth:`lookups` adds."""
        return [entry for source in _EXTRA_ENTRIES for entry in source()]

    def _with_qualnames(self, rows: list) -> list:
        """The same rows with each ``co_name`` replaced by its qualified name (Python < 3.11)."""
        resolved: Dict[Tuple[str, int, str], str] = {}
        result = []
        for module, file, line, function, name, kind, context, owner, count in rows:
            qualname = resolved.get((file, line, function))
            if qualname is None:
                qualname = resolved[file, line, function] = self._qualname(file, line, function)
            result.append((module, file, line, qualname, name, kind, context, owner, count))
        return result

    def reads(self, func: FunctionType) -> Dict[str, int]:
        """Names read by one function's own code (globals, builtins, missing).

        Reads of a tracked module's attributes are keyed ``"owner.name"``
        (``"settings.TAX"``), found or not, and so are reads of configuration
        names (``"os.environ.HOME"``).
        """
        result: Dict[str, int] = {}
        for owner, name, count, own in _reads_of(getattr(func, "__code__", func)):
            key = name if own else f"{owner}.{name}"
            result[key] = result.get(key, 0) + count
        return result

    def code_reads(self, code: CodeType) -> Dict[Tuple[str, str], int]:
        """``{(owner module, name): count}`` of what one code object read so far, in every context.

        Globals, builtins and missing names are owned by the module of the
        code's globals; reads of a tracked module's attributes by that module;
        reads of configuration names by their owner label (``os.environ``,
        ``django.conf.settings``), which then joins :data:`CONFIG_OWNERS`.
        Counts only grow while the code is alive: a caller that keeps the code
        alive and takes this before and after some work learns which names
        the work read (:mod:`globalhook.readsets`).
        """
        result: Dict[Tuple[str, str], int] = {}
        for owner, name, count, _ in _reads_of(code):
            key = (owner, name)
            result[key] = result.get(key, 0) + count
        return result

    def total(self) -> int:
        return sum(row[-1] for row in self.rows())

    # -- lifecycle ---------------------------------------------------------

    def forget_file(self, filename: str) -> None:
        """Drop what code from one file recorded (globalhook's own probes).

        A code object of that file may be dying in another thread right now
        (the garbage collector runs in whichever thread allocates): out of the
        records already, not yet among the dead.  Its counts are dropped when
        it is folded, whenever that is.
        """
        # Inner tables are emptied in place, never removed: the compiled core
        # caches them on the code objects.
        if _flush_writes is not None:
            _flush_writes()
        _forgotten_files.add(filename)
        with _lock:
            _fold_dead()
            for record in list(_records.values()):
                if record.file == filename:
                    for _, tables in _labelled_tables(record):
                        for inner in tables:
                            _clear_counts(inner)
                    record.owners.clear()
            for key in [key for key in _folded if key[1] == filename]:
                del _folded[key]

    def clear(self) -> None:
        """Forget every count (a forked child starts empty), keep names known."""
        if _flush_writes is not None:
            _flush_writes()  # then forgotten with the rest
        with _lock:
            records = list(_records.values())  # first: one that dies after this is in the list
            del _dead[:]
            _folded.clear()
            for record in records:
                for _, tables in _labelled_tables(record):
                    for inner in tables:
                        _clear_counts(inner)
                record.owners.clear()


def _entry_order(entry: dict) -> tuple:
    """Recorder.lookups() order: the key of a row, static entries after the counted ones."""
    return (entry["module"], entry["file"], entry["line"], entry["function"], entry["name"], entry["kind"],
            entry.get("context", ""), bool(entry.get("static")))


def _new_lock_in_child() -> None:
    """A forked child gets a free lock, whatever other threads of the parent held."""
    global _lock
    _lock = allocate_lock()
    if _flush_writes is not None:
        from globalhook import _ctracking

        _ctracking.writes_after_fork()  # 3.14t: a lock another thread held at fork() is free


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def _file_code(path: str) -> Optional[CodeType]:
    """A module file's code: its fresh bytecode cache, else its source compiled
    (a ``.pyc`` path: that file).  Never writes a cache; None when the file is
    gone, changed or not Python."""
    from importlib.machinery import SourceFileLoader, SourcelessFileLoader

    loader_type = SourcelessFileLoader if path.endswith(".pyc") else SourceFileLoader
    loader = loader_type("<globalhook>", path)
    loader.set_data = lambda *args, **kwargs: None  # read a fresh bytecode cache, never write one
    try:
        return loader.get_code("<globalhook>")
    except (ImportError, OSError, SyntaxError, ValueError, EOFError):
        return None


def _code_tree(code: CodeType) -> Iterator[Tuple[CodeType, str]]:
    """Every code object under a module's code, with its qualified name.

    ``co_qualname`` from 3.11; before that, CPython's rules: children of a
    function get ``.<locals>.``, children of a class body get ``Class.``; a
    class body stores its own ``__qualname__`` as its first constant.
    """
    yield code, code.co_name
    stack: List[Tuple[CodeType, Optional[str], bool]] = [(code, None, False)]
    while stack:
        parent, parent_qualname, in_function = stack.pop()
        for const in parent.co_consts:
            if not isinstance(const, _CodeType):
                continue
            is_class = _is_class_body(const)
            if _HAS_QUALNAME:
                qualname = const.co_qualname  # type: ignore[attr-defined]
            elif is_class and const.co_consts and isinstance(const.co_consts[0], str):
                qualname = const.co_consts[0]
            elif parent_qualname is None:
                qualname = const.co_name
            elif in_function:
                qualname = f"{parent_qualname}.<locals>.{const.co_name}"
            else:
                qualname = f"{parent_qualname}.{const.co_name}"
            yield const, qualname
            stack.append((const, qualname, not is_class))


def _is_class_body(code: CodeType) -> bool:
    names = code.co_names
    return "__module__" in names and "__qualname__" in names and code.co_argcount == 0 and not (
        code.co_flags & 0x20  # CO_GENERATOR
    )


RECORDER = Recorder()
