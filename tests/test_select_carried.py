"""The save of a selected run keeps the records of the tests it left out, without deciding them again.

``Before`` is the plugin's ``_carried`` as it was: every test not run was
decided a second time at the save.  Now a test the decision left out at
collection is only asked what can have changed since (the environment
variables it read); the records kept must be the same, on randomised
packages (those of tests/test_select_memo.py), with some tests not
collected, some selected that never ran, and an environment variable set
by a test between the decision and the save.
"""

from __future__ import annotations

import random
import types

import pytest

from globalhook.selectplugin import TestRecorder, _object
from globalhook.testselect import Selector, environment_variables_digest
from test_select_memo import _build, _edit

PROBE = "GH_CARRIED_PROBE"


def carried_before(plugin: TestRecorder, old: dict) -> dict:
    """The reference: every test not run decided again."""
    selector = plugin.selector
    if selector is None:
        selector = Selector(old, plugin.root, plugin.environment())
    kept = {}
    for nodeid, record in _object(old.get("tests")).items():
        if nodeid in plugin.outcomes:
            continue
        if not selector.decide(nodeid).run:
            kept[nodeid] = record
    return {"collect": _object(old.get("collect")), "fixtures": _object(old.get("fixtures")), "tests": kept}


def plugin_for(selection: dict, root: str) -> TestRecorder:
    config = types.SimpleNamespace(rootpath=root, data_file="unused.json",
                                   pluginmanager=types.SimpleNamespace(get_plugin=lambda name: None))
    session = types.SimpleNamespace(config=config, extra_data={})
    plugin = TestRecorder(session, config, True)
    plugin._environment = "e"
    plugin.old = selection
    return plugin


def collect_and_run(plugin: TestRecorder, rng: random.Random) -> None:
    """What ``_select`` and the run leave behind: the verdicts at collection, the outcomes of tests run."""
    selection = plugin.old
    plugin.selector = Selector(selection, plugin.root, "e")
    collected = [t for t in sorted(selection["tests"]) if rng.random() < 0.8]  # -k, or a path: not every test
    left_out = set()
    for test in collected:
        if plugin.selector.decide(test).run:
            if rng.random() < 0.9:  # -x: a selected test may never run
                plugin.outcomes[test] = "passed"
        else:
            left_out.add(test)
    plugin._left_out = left_out


@pytest.mark.parametrize("seed", range(30))
def test_the_records_kept_are_those_deciding_again_keeps(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.delenv(PROBE, raising=False)
    selection = _build(tmp_path, rng)
    for record in selection["tests"].values():
        if rng.random() < 0.3:
            record["env"] = {"names": PROBE, "digest": environment_variables_digest([PROBE])}
    if seed % 3:
        _edit(tmp_path, rng)
    plugin = plugin_for(selection, str(tmp_path))
    collect_and_run(plugin, rng)
    if seed % 2:
        monkeypatch.setenv(PROBE, "set by a test that ran")
    now = plugin._carried(selection)
    assert now == carried_before(plugin, selection)


def test_a_variable_set_since_the_decision_drops_the_records_of_tests_that_read_it(tmp_path, monkeypatch):
    monkeypatch.delenv(PROBE, raising=False)
    rng = random.Random(3)
    selection = _build(tmp_path, rng)
    readers = sorted(selection["tests"])[::2]
    for test in readers:
        selection["tests"][test]["env"] = {"names": PROBE, "digest": environment_variables_digest([PROBE])}
    _edit(tmp_path, rng)
    plugin = plugin_for(selection, str(tmp_path))
    collect_and_run(plugin, rng)
    monkeypatch.setenv(PROBE, "set by a test that ran")
    kept = plugin._carried(selection)["tests"]
    assert plugin._left_out & set(readers) and not (plugin._left_out & set(readers)) & set(kept)
    assert plugin._left_out - set(readers) <= set(kept)
    assert kept == carried_before(plugin, selection)["tests"]


def test_a_test_left_out_at_collection_is_not_decided_again(tmp_path, monkeypatch):
    rng = random.Random(7)
    selection = _build(tmp_path, rng)
    _edit(tmp_path, rng)
    plugin = plugin_for(selection, str(tmp_path))
    collect_and_run(plugin, rng)
    assert plugin._left_out
    asked = []
    decide = plugin.selector.decide
    monkeypatch.setattr(plugin.selector, "decide", lambda test, *roots: asked.append(test) or decide(test, *roots))
    plugin._carried(selection)
    assert asked and not set(asked) & plugin._left_out
