"""The pytest side of test selection: record what it needs, and with ``--globalhook-select`` use it.

Registered by :mod:`globalhook.pytest_plugin` whenever ``--globalhook`` is on.
Reads a test file's own code makes outside any test (its module-level code as
it is collected, ``parametrize`` arguments, ``pytest_generate_tests``) count
for every test of that file; the plugin's labeller gives wider-scope fixtures
(``setup_class``/``setup_module`` are such fixtures too) labels of their own.
When the data is saved, each test gets a record (:mod:`globalhook.testrecords`).

With ``--globalhook-select`` the decision (:mod:`globalhook.testselect`) is
made after every other plugin has chosen (``-k``, ``-m``, node ids), in
every xdist worker alike, from the same data file; the tests left out go
through pytest's ``deselected`` hook.  An xdist controller collects nothing:
its workers send it their decision (``config.workeroutput``), so that its
summary counts the deselected tests and says what was selected, as a run
without xdist does.  A selected run keeps the records of
the tests it did not run, unless what they depend on has changed since, and
replaces those of the tests that ran.
"""

from __future__ import annotations

import os
import sys

import pytest

from .testrecords import COLLECT, FIXTURE

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional, Set, Tuple

__all__ = ["TestRecorder", "fixture_label", "roots_of", "Roots"]


def fixture_label(fixturedef: object) -> str:
    """The context label of a wider-scope fixture: its place and name."""
    return f"{getattr(fixturedef, 'baseid', '')}::{getattr(fixturedef, 'argname', '?')}{FIXTURE}"


class TestRecorder:
    """Per-test records for selection, and the selection itself when asked for."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, session: object, config: "pytest.Config", select: bool) -> None:
        self.session = session
        self.config = config
        self.select = select
        self.root = str(config.rootpath)
        self.items: Dict[str, Any] = {}
        self.outcomes: Dict[str, str] = {}
        self.old: Optional[Dict[str, Any]] = None
        self.selector = None
        #: The ids the decision left out at collection (its verdicts, kept for the save).
        self._left_out: Set[str] = set()
        self._environment: Optional[str] = None
        self.notes: List[str] = []
        #: On an xdist controller: the ids its workers left out.
        self.deselected: Set[str] = set()
        session.extra_data["selection"] = self.selection_data  # type: ignore[attr-defined]

    def environment(self) -> str:
        if self._environment is None:
            from .testrecords import environment_digest

            self._environment = environment_digest()
        return self._environment

    # -- labels ------------------------------------------------------------

    # -- choosing ----------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        if self.select:
            from .gcpause import paused

            with paused():  # what the decision learns stays (memos, definitions): full collections walked it again and again
                self._select(config, items)
        self.items = {item.nodeid: item for item in items}

    def _select(self, config, items) -> None:
        self.old = self._load_old()
        if self.old is None:
            return
        from .testselect import Selector

        self.selector = selector = Selector(self.old, self.root, self.environment())
        chosen, left_out = [], []
        roots = Roots(self.root)
        for item in items:
            if not isinstance(item, pytest.Function):
                chosen.append(item)  # doctests and other files' items: always run
                continue
            decision = selector.decide(item.nodeid, [r.rpartition(":")[::2] for r in roots(item)])
            (chosen if decision.run else left_out).append(item)
        self._left_out = {item.nodeid for item in left_out}
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = chosen
        workeroutput = getattr(config, "workeroutput", None)
        if isinstance(workeroutput, dict):  # an xdist worker: the controller reports them
            workeroutput[_WORKER_KEY] = {"deselected": [item.nodeid for item in left_out]}
        self._say(f"selected {len(chosen)} of {len(chosen) + len(left_out)} tests "
                  "(the others read nothing that changed)")

    def _load_old(self) -> "Optional[Dict[str, Any]]":
        from .data import DataError
        from .data import load_stored as load  # the lookups table left as stored: only ``selection`` is read

        path = self.session.config.data_file  # type: ignore[attr-defined]
        if not os.path.exists(path):
            self._say(f"no data in {path} yet: running every test and recording")
            return None
        try:
            data = load(path)
        except DataError as exc:
            self._say(f"warning: cannot select ({exc}): running every test and recording")
            return None
        selection = data.get("selection")
        if selection is None:
            self._say(f"no selection data in {path} (recorded by an older globalhook?): running every test")
            return None
        from .testselect import malformed

        key = malformed(selection)
        if key is not None:
            self._say(f"warning: {path}: {key} is malformed (not an object): running every test; "
                      "this run's records replace it")
            return None
        return selection

    def _say(self, line: str) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if isinstance(workeroutput, dict):  # an xdist worker: every worker says the same; the controller prints
            workeroutput.setdefault(_WORKER_NOTES, []).append(line)
            return
        if os.environ.get("PYTEST_XDIST_WORKER"):
            return
        from .printable import escape_controls

        shown = escape_controls(f"globalhook: {line}")  # paths and messages come from a project's config and data
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(shown)
        else:
            print(shown, file=sys.stderr)

    # -- an xdist controller ------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """A worker has finished: what it decided shows on the controller, as a run without xdist shows it.

        Every worker decides alike from the same data file; ids already
        reported by another worker are not counted twice.
        """
        output = getattr(node, "workeroutput", None)
        if not isinstance(output, dict):
            return
        for line in output.get(_WORKER_NOTES) or ():
            if isinstance(line, str) and line not in self.notes:
                self.notes.append(line)  # said in the summary: a line now would cut into the progress line
        decided = output.get(_WORKER_KEY)
        ids = decided.get("deselected") if isinstance(decided, dict) else None
        if not isinstance(ids, list):
            return
        new = [nodeid for nodeid in ids if isinstance(nodeid, str) and nodeid not in self.deselected]
        if new:
            self.deselected.update(new)
            self.config.hook.pytest_deselected(items=[_Deselected(nodeid) for nodeid in new])

    def pytest_terminal_summary(self, terminalreporter) -> None:
        from .printable import escape_controls

        for line in self.notes:
            terminalreporter.write_line(escape_controls(f"globalhook: {line}"))

    # -- outcomes ----------------------------------------------------------

    def pytest_runtest_logreport(self, report) -> None:
        current = self.outcomes.get(report.nodeid)
        if report.failed:
            self.outcomes[report.nodeid] = "failed" if report.when == "call" else "errored"
        elif current is None or current == "passed":
            self.outcomes[report.nodeid] = "skipped" if report.skipped else "passed"

    # -- the record --------------------------------------------------------

    def selection_data(self, lookups: "List[Dict[str, Any]]") -> "Dict[str, Any]":
        """This process's ``selection`` object (made when the data is saved)."""
        from .data import merge_objects
        from .testrecords import module_key, module_records, reads_by_label

        files = {}
        for nodeid, item in self.items.items():
            module = getattr(item, "module", None)
            name = getattr(module, "__name__", None)
            if isinstance(name, str):
                files[name] = nodeid.split("::", 1)[0]
        by_label = reads_by_label(lookups, files)
        tests: Dict[str, Any] = {}
        wanted: Set[str] = set()
        roots_of_test = Roots(self.root)
        for nodeid, item in self.items.items():
            outcome = self.outcomes.get(nodeid)
            if outcome is None:
                continue  # not run here (deselected, or another worker's)
            reads = by_label.get(nodeid)
            record = reads.as_data() if reads is not None else {"reads": {}, "absent": {}}
            record["outcome"] = outcome
            roots = roots_of_test(item)
            record["roots"] = roots
            wanted.update(root.rpartition(":")[0] for root in roots)
            record["fixtures"] = sorted(_wide_fixture_labels(item))
            tests[nodeid] = record
        collect = {label[: -len(COLLECT)]: r.as_data() for label, r in by_label.items() if label.endswith(COLLECT)}
        fixtures = {label: r.as_data() for label, r in by_label.items() if label.endswith(FIXTURE)}
        for reads in by_label.values():
            wanted.update(reads.reads)
            wanted.update(reads.absent)
        from .testrecords import is_project

        loaded: Dict[str, object] = {}
        for name, module in list(sys.modules.items()):
            if module is None:
                continue
            key = module_key(module, self.root)
            if key is None:
                continue
            if key in wanted or is_project(name, module):
                loaded[key] = module
                wanted.add(key)
        carried: Dict[str, Any] = {}
        primary = not os.environ.get("PYTEST_XDIST_WORKER")
        old = self.old
        if old is None and primary:
            old = self._load_old_quietly()  # without selecting: only to skip parsing files unchanged since
        if old is not None and primary and self.select:
            carried = self._carried(old)
            wanted.update(_object(old.get("modules")))
        old_modules = _object(old.get("modules")) if old is not None else {}
        modules = module_records(wanted, self.root, old_modules, loaded)
        for record in tests.values():  # roots in modules not fingerprinted (pytest's own fixtures) say nothing
            record["roots"] = [r for r in record["roots"] if r.rpartition(":")[0] in modules]
        new = {"environment": self.environment(), "modules": modules, "tests": tests,
               "collect": collect, "fixtures": fixtures}
        return merge_objects([carried, new])

    def _load_old_quietly(self) -> "Optional[Dict[str, Any]]":
        from .data import DataError
        from .data import load_stored as load  # the lookups table left as stored: only ``selection`` is read

        try:
            selection = load(self.session.config.data_file).get("selection")  # type: ignore[attr-defined]
        except (DataError, OSError):
            return None
        from .testselect import malformed

        return selection if selection is not None and malformed(selection) is None else None

    def _carried(self, old: "Dict[str, Any]") -> "Dict[str, Any]":
        """The previous records of the tests not run now that are still true (nothing they depend on changed)."""
        from .testselect import Selector

        selector = self.selector
        if selector is None:
            selector = Selector(old, self.root, self.environment())
        kept = {}
        left_out = self._left_out if selector is self.selector else set()
        for nodeid, record in _object(old.get("tests")).items():
            if nodeid in self.outcomes:
                continue
            if nodeid in left_out:  # decided at collection: asked again only what can differ since
                if selector.still_left_out(nodeid):
                    kept[nodeid] = record
            elif not selector.decide(nodeid).run:
                kept[nodeid] = record
        return {"collect": _object(old.get("collect")), "fixtures": _object(old.get("fixtures")), "tests": kept}


#: What an xdist worker sends its controller (``config.workeroutput``): its decision and its notes.
_WORKER_KEY = "globalhook_select"
_WORKER_NOTES = "globalhook_notes"


class _Deselected:
    """A test an xdist worker left out, as the controller (which collects nothing) knows it."""

    __slots__ = ("nodeid",)

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def __repr__(self) -> str:
        return f"<deselected {self.nodeid}>"


def _object(value: object) -> "Dict[str, Any]":
    return value if isinstance(value, dict) else {}


def _wide_fixture_labels(item: object) -> "Set[str]":
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", None) or {}
    labels = set()
    for fixturedefs in defs.values():
        for fixturedef in fixturedefs:
            if getattr(fixturedef, "scope", "function") != "function":
                labels.add(fixture_label(fixturedef))
    return labels


def roots_of(item: object, root: str) -> "List[str]":
    """``module:name`` of the code a test runs that is not recorded as read: its function or class,
    its fixtures' functions (also each fixture name in its own module and in each conftest file
    above it: an override added there), the autouse fixtures, hooks and import-time statements of
    those files."""
    return Roots(root)(item)


class Roots:
    """:func:`roots_of` for many tests of one session: the conftest files and the keys of modules
    are looked up once, not once per test."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._conftests: Optional[List[Tuple[str, str]]] = None
        self._keys: Dict[int, Tuple[object, Optional[str]]] = {}

    def key(self, module: object) -> "Optional[str]":
        from .testrecords import module_key

        found = self._keys.get(id(module))
        if found is None or found[0] is not module:
            found = self._keys[id(module)] = (module, module_key(module, self.root))
        return found[1]

    def conftests(self, item: object) -> "List[Tuple[str, str]]":
        """(folder + separator, key) of every conftest plugin, as found the first time asked."""
        if self._conftests is None:
            self._conftests = []
            for plugin in _conftests(item):
                key = self.key(plugin)
                folder = os.path.dirname(os.path.abspath(plugin.__file__))
                self._conftests.append((folder + os.sep, key or ""))
        return self._conftests

    def __call__(self, item: object) -> "List[str]":
        module = getattr(item, "module", None)
        key = self.key(module) if module is not None else None
        if key is None:
            return []
        roots = []
        cls = getattr(item, "cls", None)
        if cls is not None:
            roots.append(f"{key}:{cls.__qualname__.split('.')[0]}")
        else:
            name = getattr(item, "originalname", None) or getattr(item, "name", "").split("[")[0]
            roots.append(f"{key}:{name}")
        places = [key]
        path = getattr(item, "path", None)
        if path is not None:
            text = str(path)
            for folder, conftest_key in self.conftests(item):
                if text.startswith(folder) and conftest_key:
                    places.append(conftest_key)
                    roots.extend(f"{conftest_key}:{special}" for special in ("@hooks", "@effects"))
        for place in places:
            roots.append(f"{place}:@autouse")
            for name in getattr(item, "fixturenames", ()):
                roots.append(f"{place}:{name}")
        info = getattr(item, "_fixtureinfo", None)
        for fixturedefs in (getattr(info, "name2fixturedefs", None) or {}).values():
            for fixturedef in fixturedefs:
                func = getattr(fixturedef, "func", None)
                owner = sys.modules.get(getattr(func, "__module__", None) or "")
                owner_key = self.key(owner) if owner is not None else None
                qualname = getattr(func, "__qualname__", None)
                if owner_key and isinstance(qualname, str):
                    roots.append(f"{owner_key}:{qualname.split('.')[0]}")
        return sorted(set(roots))


def _conftests(item: object) -> "List[Any]":
    config = getattr(item, "config", None)
    found = []
    for plugin in config.pluginmanager.get_plugins() if config is not None else ():
        path = getattr(plugin, "__file__", None)
        if isinstance(path, str) and os.path.basename(path) == "conftest.py":
            found.append(plugin)
    return found
