"""pytest plugin: which globals each test reads (``pytest --globalhook``).

Inactive unless asked for.  When active it installs the import hook before
pytest imports conftest files and test modules (``pytest_load_initial_conftests``
runs for installed plugins first), labels every lookup with the running
test's node id and phase (``<node id>|setup``, ``|call``, ``|teardown``), and
writes the data file when the session ends.  Under ``globalhook run -m
pytest`` tracking is already on: the plugin only adds the labels.

With pytest-xdist each worker is a process of its own: workers write
per-process files under the controller's run id, and the controller folds
them into the one data file after the last worker has finished.
"""

from __future__ import annotations

import os
import sys

import pytest

__all__ = ["pytest_addoption", "pytest_load_initial_conftests"]

#: Set by the controlling pytest so that its xdist workers join its run.
ENV_RUN = "GLOBALHOOK_PYTEST_RUN"

_EMPTY = ""


def pytest_addoption(parser: "pytest.Parser") -> None:
    group = parser.getgroup("globalhook", "record the global names each test reads (globalhook)")
    group.addoption(
        "--globalhook",
        action="append",
        nargs="?",
        const=_EMPTY,
        default=None,
        metavar="PKG",
        help="track modules and label lookups per test; with PKG (repeatable), track PKG and "
        "its submodules, else what [tool.globalhook] selects (default: modules under the "
        "current directory, tests included)",
    )
    group.addoption("--globalhook-include", action="append", default=None, metavar="PAT", help="track modules matching PAT (repeatable)")
    group.addoption("--globalhook-exclude", action="append", default=None, metavar="PAT", help="never track modules matching PAT (repeatable)")
    group.addoption("--globalhook-data", default=None, metavar="FILE", help="data file to write (default: [tool.globalhook] data_file, or .globalhook.json)")
    group.addoption(
        "--globalhook-select", action="store_true", default=False,
        help="run only the tests that what changed since the data was recorded can affect (new and "
        "failed tests too); the others are deselected; records as --globalhook does",
    )
    group.addoption("--globalhook-report", action="store_true", default=False, help="print what each test read at the end of the session")
    group.addoption(
        "--globalhook-no-attributes", action="store_false", dest="globalhook_attributes", default=None,
        help="do not record reads of tracked modules' attributes (settings.TAX) from other code",
    )
    group.addoption(
        "--globalhook-no-config-reads", action="store_false", dest="globalhook_config_reads", default=None,
        help="do not record environment variables and framework settings by name",
    )


def _wanted(options) -> bool:
    return bool(options.globalhook is not None or options.globalhook_include or options.globalhook_data
                or options.globalhook_report or getattr(options, "globalhook_select", False))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: "pytest.Config", parser: "pytest.Parser", args) -> None:
    """Start tracking before conftest files and test modules are imported."""
    options = early_config.known_args_namespace
    if getattr(options, "globalhook_data", None):
        _check_data_word(args, options, str(early_config.invocation_params.dir))
    session = _active_session()
    if session is not None:
        # Tracking is on already (globalhook run -m pytest, or the start-up
        # hook): this process's session saves the data; we add test labels.
        early_config.pluginmanager.register(_Labeller(session, owner=False), "globalhook-labeller")
        _register_recorder(session, early_config, options)
        return
    if not _wanted(options):
        return
    try:
        session = _start(options, early_config)
    except _PluginError as exc:
        raise pytest.UsageError(f"globalhook: {exc}") from None
    early_config.pluginmanager.register(_Labeller(session, owner=True), "globalhook-labeller")
    _register_recorder(session, early_config, options)


def _check_data_word(args, options, invocation_dir: str) -> None:
    """Stop where ``--globalhook-data FILE`` (two words) has moved pytest's root folder.

    pytest finds its root folder before plugins are loaded, when the option
    is not known yet: an existing FILE then counts as a test path, and one
    outside the project can widen the root folder, which changes every test
    id (selection would see only new tests, and the data would hold ids of
    another root).  pytest's own search is run with and without FILE; where
    it cannot be (its private signature changed), nothing is said: every
    test then runs, which is safe.
    """
    if getattr(options, "rootdir", None):
        return
    words = [str(word) for word in args]
    for index, word in enumerate(words[:-1]):
        if word != "--globalhook-data":
            continue
        value = words[index + 1]
        if not os.path.exists(os.path.join(invocation_dir, value)):
            continue  # pytest leaves out paths that do not exist
        with_file = _root_folder(words, options, invocation_dir)
        without = _root_folder(words[: index + 1] + words[index + 2:], options, invocation_dir)
        if with_file is not None and without is not None and with_file != without:
            raise pytest.UsageError(
                f"globalhook: --globalhook-data {value}: written as two words, the data file is taken by pytest "
                f"for a test path, which moves its root folder to {with_file} (every test id changes); "
                f"write --globalhook-data={value}"
            )


def _root_folder(words, options, invocation_dir: str):
    """pytest's root folder for these arguments, by its own search; None where that cannot be called."""
    try:
        import inspect
        from pathlib import Path

        from _pytest.config.findpaths import determine_setup

        known = {"inifile": getattr(options, "inifilename", None), "args": words, "rootdir_cmd_arg": None,
                 "invocation_dir": Path(invocation_dir), "override_ini": getattr(options, "override_ini", None),
                 "config": None}
        parameters = inspect.signature(determine_setup).parameters
        if any(name not in known for name in parameters):
            return None
        return determine_setup(**{name: known[name] for name in parameters})[0]
    except Exception:  # a private function: any change means "cannot tell"
        return None


def _register_recorder(session, early_config, options) -> None:
    """Per-test records for selection (and the selection itself with --globalhook-select)."""
    from .selectplugin import TestRecorder

    select = bool(getattr(options, "globalhook_select", False))
    early_config.pluginmanager.register(TestRecorder(session, early_config, select), "globalhook-select")


def _active_session():
    """The session tracking this process already, without importing globalhook's
    machinery into every pytest run that does not use it."""
    module = sys.modules.get("globalhook.session")
    return module.current_session() if module is not None else None


class _PluginError(Exception):
    pass


def _start(options, early_config):
    from .config import ConfigError, load_config
    from .modules import StrategyError
    from .patterns import PatternError
    from .session import Session, writable_problem

    include = [p for p in (options.globalhook or ()) if p]
    include += list(options.globalhook_include or ())
    overrides = {
        "include": include or None,
        "exclude": options.globalhook_exclude,
        "data_file": options.globalhook_data,
        "attributes": getattr(options, "globalhook_attributes", None),
        "config_reads": getattr(options, "globalhook_config_reads", None),
    }
    try:
        config = load_config(overrides)
    except ConfigError as exc:
        raise _PluginError(_our_option_names(str(exc))) from None
    for warning in config.warnings:
        print(f"globalhook: warning: {warning}", file=sys.stderr)
    from .tracking import CORE_PROBLEM

    if CORE_PROBLEM:
        raise _PluginError(CORE_PROBLEM)

    # As run does: found out before the first test, not after the whole suite.
    problem = writable_problem(config.data_file)
    if problem:
        raise _PluginError(problem)
    joined = os.environ.get(ENV_RUN, "")
    worker = bool(os.environ.get("PYTEST_XDIST_WORKER")) and joined
    if worker:
        # An xdist worker: a per-process file under the controller's run id.
        session = Session(config, None, primary=False, run_id=joined, root=str(early_config.rootpath))
    else:
        session = Session(config, ["-m", "pytest", *early_config.invocation_params.args], root=str(early_config.rootpath))
        os.environ[ENV_RUN] = session.run_id
    try:
        session.start()
    except (StrategyError, PatternError) as exc:
        raise _PluginError(str(exc)) from None
    return session


def _our_option_names(message: str) -> str:
    """config.py names run's options; here the user typed the plugin's."""
    for run_option, ours in (("--include", "--globalhook-include"), ("--exclude", "--globalhook-exclude"),
                             ("--data-file", "--globalhook-data")):
        if message.startswith(run_option + ":") or message.startswith(run_option + " "):
            return ours + message[len(run_option):]
    return message


def _wrapper():
    """pluggy's new-style hook wrapper where it has one (pluggy >= 1.1), else the old one.

    The labels wrap three hooks per test and one per fixture set up: an
    old-style wrapper costs pluggy a generator driver and a result object each.
    """
    try:
        return pytest.hookimpl(wrapper=True), True
    except TypeError:  # pragma: no cover - old pluggy
        return pytest.hookimpl(hookwrapper=True), False


_WRAPPER, _NEW_STYLE = _wrapper()


class _Labeller:
    """Sets the context to the running test and phase; saves when it owns the session."""

    def __init__(self, session, owner: bool) -> None:
        from .selectplugin import fixture_label
        from .tracking import switch_context

        self.session = session
        self.owner = owner
        # Bound once: a label is set and reset around every test phase.
        self._switch = switch_context
        self._fixture_label = fixture_label

    # -- labels ------------------------------------------------------------

    def _phase(self, item, phase: str):
        switch = self._switch
        switch(f"{item.nodeid}|{phase}")
        try:
            return (yield)
        finally:
            switch(_EMPTY)

    @_WRAPPER
    def pytest_runtest_setup(self, item):
        return (yield from self._phase(item, "setup"))

    @_WRAPPER
    def pytest_runtest_call(self, item):
        return (yield from self._phase(item, "call"))

    @_WRAPPER
    def pytest_runtest_teardown(self, item):
        return (yield from self._phase(item, "teardown"))

    @_WRAPPER
    def pytest_fixture_setup(self, fixturedef, request):
        """A fixture shared by many tests has a label of its own (``<base id>::<name>|fixture``):
        selection maps it to every test that used it."""
        if fixturedef.scope == "function":
            return (yield)
        switch = self._switch
        previous = switch(self._fixture_label(fixturedef))
        try:
            return (yield)
        finally:
            switch(previous)

    # -- the end -----------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        # trylast: on an xdist controller every worker has written its file by now;
        # on a worker this runs before it tells the controller it has finished.
        if not self.owner:
            return
        self.session.exit_code = int(exitstatus)
        self.session.save()

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        if not config.getoption("globalhook_report") or os.environ.get("PYTEST_XDIST_WORKER"):
            return
        from .data import DataError, load
        from .printable import escape_controls

        try:
            data = load(self.session.config.data_file)
        except DataError as exc:
            terminalreporter.write_line(f"globalhook: {exc}")
            return
        terminalreporter.section("globalhook: global names read per test")
        for line in summary_lines(data.get("lookups", ())):
            terminalreporter.write_line(escape_controls(line))
        terminalreporter.write_line(
            escape_controls(f"data: {self.session.config.data_file}  (globalhook report --by-context for every name)")
        )


def summary_lines(lookups) -> "list[str]":
    """One line per test: the module globals it read, then counts of the rest.

    Reads made by tools (pytest's own ``__tracebackhide__`` probe of a
    failing test's frames, ``mock.patch``) are not the test's: left out.
    """
    from .pertest import by_context, split_context
    from .selection import is_tool_read

    tests: dict = {}
    for context, rows in by_context(e for e in lookups if not is_tool_read(e)).items():
        if not context:
            continue
        test, phase = split_context(context)
        if phase == "fixture":
            continue
        seen = tests.setdefault(test, {"global": set(), "builtin": set(), "missing": set()})
        for (kind, module, name), _ in rows.items():
            if kind in ("global", "attribute"):
                seen["global"].add(f"{module}:{name}")
            elif kind in seen:
                seen[kind].add(name)
    if not tests:
        return ["no lookups were made inside tests"]
    width = min(max(len(test) for test in tests), 60)
    lines = []
    for test in sorted(tests):
        seen = tests[test]
        globals_read = ", ".join(sorted(seen["global"])) or "-"
        extra = f"  builtins {len(seen['builtin'])}"
        if seen["missing"]:
            extra += f"  missing {', '.join(sorted(seen['missing']))}"
        lines.append(f"{test.ljust(width)}  {globals_read}{extra}")
    return lines
