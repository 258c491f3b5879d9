"""What ``pytest --globalhook`` keeps for test selection: the data's ``selection`` object.

Made once per process when its data is saved, never per test or per read:

- ``tests``: per test id, the module globals its phases read (``reads``), the
  names it looked up that were not module globals (``absent``: a builtin, or
  missing; a definition added later under that name changes what it finds),
  the wider-scope fixtures it used (``fixtures``, whose reads are kept once
  under their own label), its static roots (``roots``: its function or class,
  its fixtures' functions, its conftest files), a digest of the environment
  variables it read (``env``) and its ``outcome``;
- ``collect`` and ``fixtures``: reads made while a test file was collected
  and in fixtures of class, module, package or session scope;
- ``modules``: per module, its file, whether it was tracked, and the digest
  of each definition (:mod:`globalhook.definitions`);
- ``environment``: a digest of the Python version and installed distributions.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

__all__ = ["COLLECT", "FIXTURE", "environment_digest", "reads_by_label", "module_key", "module_records"]

#: Context label suffixes of what is not one test's phase.
COLLECT = "|collect"
FIXTURE = "|fixture"

_READ_KINDS = ("global", "attribute")
_ABSENT_KINDS = ("builtin", "missing")
_OWN_PACKAGES = ("globalhook", "_pytest", "pytest", "pluggy", "xdist", "execnet")
#: Environment variables the test runner sets for one run, test or worker: a
#: test that reads the whole environment (``dict(os.environ)``, a subprocess's
#: ``env``) reads them too, and their values differ every run whatever the
#: change, so counting them selected such a test on every run.
RUN_VARIABLES = frozenset({"GLOBALHOOK_PYTEST_RUN", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER",
                           "PYTEST_XDIST_TESTRUNUID"})


def environment_digest() -> str:
    """Python's version and every installed distribution's name and version, as one digest.

    Distributions are known by their metadata folders' names on ``sys.path``
    (``name-version.dist-info``, ``.egg-info``): an upgrade renames the folder,
    and listing folders costs a fraction of reading every ``METADATA`` file,
    which every recording run would pay.
    """
    import hashlib

    from . import __version__

    parts = [sys.version, sys.implementation.cache_tag or "", sys.platform, __version__]
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as found:
                parts.extend(item.name for item in found if item.name.endswith((".dist-info", ".egg-info")))
        except (OSError, TypeError, ValueError):  # a zip file, a folder gone, a path entry that is not one
            continue
    return hashlib.blake2b("\n".join(sorted(parts)).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


def environment_variables_digest(names: "Iterable[str]") -> str:
    """A digest of the values of ``names`` in this environment (never the values themselves)."""
    import hashlib

    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(set(names)):
        value = os.environ.get(name)
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(b"-" if value is None else b"=" + value.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


class _Reads:
    __slots__ = ("reads", "absent", "env")

    def __init__(self) -> None:
        self.reads: Dict[str, Set[str]] = {}
        self.absent: Dict[str, Set[str]] = {}
        self.env: Set[str] = set()

    def as_data(self) -> "Dict[str, Any]":
        data: Dict[str, Any] = {
            "reads": {m: " ".join(sorted(n)) for m, n in sorted(self.reads.items())},
            "absent": {m: " ".join(sorted(n)) for m, n in sorted(self.absent.items())},
        }
        if self.env:
            data["env"] = {"names": " ".join(sorted(self.env)), "digest": environment_variables_digest(self.env)}
        return data


def reads_by_label(lookups: "Any", files: "Dict[str, str]") -> "Dict[str, _Reads]":
    """What each context read: test ids (phases folded together) and fixture labels; and
    ``<file>|collect``: what the code of a test file (``files``: module name -> file) read
    outside any test, as it was collected.

    ``lookups``: the data's lookups, entries or a compact table (as the save
    at exit has them).  Runs once per process at save: from a table, once per
    row (a place and a name, read in many contexts) rather than once per entry,
    and a context's label once per context.
    """
    if isinstance(lookups, dict):
        return _reads_by_label_of_table(lookups, files)
    from .compact import encode

    return _reads_by_label_of_table(encode(list(lookups)), files)


def _reads_by_label_of_table(table: "Dict[str, Any]", files: "Dict[str, str]") -> "Dict[str, _Reads]":
    from .compact import rows_of
    from .pertest import split_context
    from .selection import is_tool_read, owner_of, reader_of

    found: Dict[str, _Reads] = {}
    places: Dict[Tuple[str, str, str], Tuple[str, str, bool]] = {}
    #: context index -> label (None: not a test's phase); index 0 ("") is decided per row.
    labels: Dict[int, Optional[str]] = {}
    heads: Dict[str, Optional[str]] = {}
    strings: List[str] = table["strings"]
    for (module, function, _, _, name, kind, owner_text, reader_text, _), row, _ in rows_of(table):
        place = places.get((module, owner_text, reader_text))
        if place is None:
            shape = {"module": module, "owner": owner_text, "reader_module": reader_text}
            place = places[module, owner_text, reader_text] = (owner_of(shape), reader_of(shape), is_tool_read(shape))
        owner, reader, tool = place
        if tool:
            continue
        if kind in _READ_KINDS:
            what = 0
        elif kind in _ABSENT_KINDS:
            what = 1
        elif kind == "read" and owner_text == "os.environ":
            what = 2
        else:
            what = 3  # nothing to note, but its contexts get their (empty) record, as every entry's does
        head = heads.get(function, "")
        if head == "":
            head = heads[function] = function.split(".", 1)[0] if function and not function.startswith("<") else None
        for at in range(9, len(row), 2):
            context = row[at]
            if not context:
                if reader not in files or reader == owner:
                    continue  # a test file reading its own globals: followed statically
                label: Optional[str] = files[reader] + COLLECT
            elif context in labels:
                label = labels[context]
            else:
                label = text = strings[context]
                if not text.endswith(FIXTURE):
                    label, phase = split_context(text)
                    if not phase:
                        label = None
                labels[context] = label
            if label is None:
                continue
            reads = found.get(label)
            if reads is None:
                reads = found[label] = _Reads()
            if what == 3:
                continue
            if what == 0:
                names = reads.reads.get(owner)
                if names is None:
                    names = reads.reads[owner] = set()
                names.add(name)
            elif what == 1:
                reads.absent.setdefault(module, set()).add(name)
            elif name not in RUN_VARIABLES:
                reads.env.add(name)
            if head is not None:
                names = reads.reads.get(reader)
                if names is None:
                    names = reads.reads[reader] = set()
                names.add(head)
    return found


def module_key(module: object, root: str) -> "Optional[str]":
    """The key of a module in the data: its name; a conftest's with its file (many share the name)."""
    name = getattr(module, "__name__", None)
    if not isinstance(name, str):
        return None
    if name == "conftest":
        path = getattr(module, "__file__", None)
        return f"conftest@{relative(path, root)}" if isinstance(path, str) else None
    return name


def relative(path: str, root: str) -> str:
    """``path`` relative to the run's root where it lies below it (with ``/``), else absolute."""
    full = os.path.abspath(path)
    try:
        inside = os.path.commonpath([full, os.path.abspath(root)]) == os.path.abspath(root)
    except ValueError:  # another drive
        inside = False
    return os.path.relpath(full, root).replace(os.sep, "/") if inside else full


def is_project(name: str, module: object) -> bool:
    """Modules whose definitions selection fingerprints: tracked ones, and the program's own."""
    from .fingerprint import is_project_module

    if name.split(".", 1)[0] in _OWN_PACKAGES:
        return False
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        tracked = type(vars(module)) is not dict
    except TypeError:
        return False
    return tracked or is_project_module(name)


def module_records(
    wanted: "Iterable[str]", root: str, old: "Dict[str, Any]", loaded: "Dict[str, object]"
) -> "Dict[str, Dict[str, Any]]":
    """Definitions of each module in ``wanted`` (keys), by its file now.

    ``loaded`` maps keys to module objects of this process; ``old`` is the
    previous data's ``modules`` (a file unchanged in size and time keeps its
    digests, not parsed again; a file modified within :data:`RACY_MARGIN_NS`
    of now gets no ``stat``, so it is never trusted by it).  A module whose file is gone is left out.
    """
    records: Dict[str, Dict[str, Any]] = {}
    for key in sorted(set(wanted)):
        module = loaded.get(key)
        previous = old.get(key) if isinstance(old.get(key), dict) else None
        path = getattr(module, "__file__", None) if module is not None else None
        tracked = False
        if module is not None:
            try:
                tracked = type(vars(module)) is not dict
            except TypeError:
                pass
        elif previous is not None:
            tracked = bool(previous.get("tracked"))
            shown = previous.get("file")
            if isinstance(shown, str) and shown:
                path = shown if os.path.isabs(shown) else os.path.join(root, shown)
        if not isinstance(path, str) or not path.endswith(".py"):
            continue
        try:
            info = os.stat(path)
        except OSError:
            continue
        stamp = [info.st_size, info.st_mtime_ns]
        shown_path = relative(path, root)
        if previous is not None and previous.get("stat") == stamp and previous.get("file") == shown_path \
                and isinstance(previous.get("defs"), dict) and isinstance(previous.get("refs"), dict):
            defs, refs = previous["defs"], previous["refs"]
        else:
            from .definitions import digests, encode_refs, file_definitions  # only for a file changed since

            found = file_definitions(path, key.partition("@")[0])
            if found is None:
                continue
            defs, refs = digests(found), encode_refs(found)
            if _racy(info.st_mtime_ns):
                stamp = None
        records[key] = {"file": shown_path, "tracked": tracked, "stat": stamp, "defs": defs, "refs": refs}
    return records


#: How far a file's time may trail the clock and still share a timer tick with an edit to come (ns).
RACY_MARGIN_NS = 2 * 10**9


def _racy(mtime_ns: int) -> bool:
    """Is a file's (size, time) too fresh to stand for its content?

    Git's "racy clean" rule: an edit of the same size made within the same tick
    of the file system's clock (a second or two on some, a few milliseconds on
    others) leaves both unchanged.  A file whose time is not older than now,
    less a margin, is kept without a stamp, so the next run reads it again
    (by then it is old enough to be trusted).
    """
    import time

    return mtime_ns >= time.time_ns() - RACY_MARGIN_NS
