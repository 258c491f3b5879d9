"""How ``--globalhook-select`` reads the old data: its ``selection`` key only, lookups left as stored.

The plugin's reader is called directly, with the few session and config
attributes it uses; the data files are written by :mod:`globalhook.data`
itself (version 2) or spelled as version 1 did.
"""

from __future__ import annotations

import gc
import json
import types

import pytest

from globalhook import compact, data
from globalhook.selectplugin import TestRecorder

LOOKUP = {"module": "pkg.a", "function": "f", "file": "pkg/a.py", "name": "X", "kind": "global", "line": 3,
          "count": 2, "context": "t.py::test_x|call"}
SELECTION = {"environment": "e", "modules": {}, "tests": {"t.py::test_x": {"outcome": "passed"}}}


def recorder(path, select: bool = True) -> "tuple[TestRecorder, list]":
    said: list = []
    reporter = types.SimpleNamespace(write_line=said.append)
    config = types.SimpleNamespace(rootpath=path.parent, data_file=str(path),
                                   pluginmanager=types.SimpleNamespace(get_plugin=lambda name: reporter))
    session = types.SimpleNamespace(config=config, extra_data={})
    return TestRecorder(session, config, select), said


@pytest.fixture(autouse=True)
def not_a_worker(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # an xdist worker's plugin says nothing


def no_decoding(*args, **kwargs):
    raise AssertionError("the lookups were decoded")


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / ".globalhook.json"
    stored = data.make_data([dict(LOOKUP)], {"pid": 1})
    stored["selection"] = SELECTION
    data.save(stored, str(path))
    assert isinstance(data.load_stored(str(path))["lookups"], dict)  # version 2: a table
    return path


def test_the_selection_is_read_without_decoding_the_lookups(saved, monkeypatch):
    monkeypatch.setattr(compact, "decode", no_decoding)
    plugin, said = recorder(saved)
    assert plugin._load_old() == SELECTION
    assert plugin._load_old_quietly() == SELECTION
    assert said == []


def test_a_version_1_file_still_gives_its_selection(tmp_path):
    path = tmp_path / ".globalhook.json"
    path.write_text(json.dumps({"format": "globalhook-data", "version": 1, "runs": [], "not_tracked": [],
                                "lookups": [LOOKUP], "selection": SELECTION}))
    plugin, said = recorder(path)
    assert plugin._load_old() == SELECTION
    assert plugin._load_old_quietly() == SELECTION
    assert said == []


@pytest.mark.parametrize("text, warning", [
    ("{not json", "corrupt JSON"),
    (json.dumps({"format": "globalhook-data", "version": 2, "lookups": {"bad": 1}}), "cannot select"),
])
def test_unreadable_data_warns_and_selects_nothing(tmp_path, text, warning):
    path = tmp_path / ".globalhook.json"
    path.write_text(text)
    plugin, said = recorder(path)
    assert plugin._load_old() is None
    assert plugin._load_old_quietly() is None
    assert len(said) == 1 and said[0].startswith("globalhook: warning: cannot select (") and warning in said[0]


def test_data_without_a_selection_says_so(tmp_path):
    path = tmp_path / ".globalhook.json"
    data.save(data.make_data([dict(LOOKUP)], {"pid": 1}), str(path))
    plugin, said = recorder(path)
    assert plugin._load_old() is None
    assert said == [f"globalhook: no selection data in {path} (recorded by an older globalhook?): running every test"]


def test_the_collector_is_paused_while_deciding_and_back_after(saved, monkeypatch):
    plugin, _ = recorder(saved)
    seen = []
    monkeypatch.setattr(plugin, "_select", lambda config, items: seen.append(gc.isenabled()))
    assert gc.isenabled()
    plugin.pytest_collection_modifyitems(None, plugin.config, [])
    assert seen == [False]
    assert gc.isenabled()


def test_a_warning_shows_control_characters_of_the_data_path_escaped(tmp_path):
    path = tmp_path / "d\x1b[31mx.json"  # a data file named in a cloned project's config
    data.save(data.make_data([dict(LOOKUP)], {"pid": 1}), str(path))
    plugin, said = recorder(path)
    assert plugin._load_old() is None
    assert len(said) == 1 and "\x1b" not in said[0] and "d\\x1b[31mx.json" in said[0], said
