"""globalhook.gcpause: bulk steps pause the cyclic collector and always give it back."""

from __future__ import annotations

import gc

import pytest

from globalhook import data, report
from globalhook.gcpause import paused


@pytest.fixture(autouse=True)
def collector_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_inside_and_back_after():
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_after_an_exception():
    with pytest.raises(KeyError):
        with paused():
            raise KeyError
    assert gc.isenabled()


def test_nested_and_left_off_if_it_was_off():
    with paused():
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one found it off: leaves it off
    assert gc.isenabled()
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled()  # a program that turned it off keeps it off


def test_data_and_report_give_the_collector_back(tmp_path):
    entry = {"module": "m", "function": "f", "file": "/m.py", "line": 1, "name": "X", "kind": "global", "count": 1}
    made = data.make_data([entry], {"pid": 1})
    path = str(tmp_path / "data.json")
    data.save(made, path)
    loaded = data.load(path)
    data.merge([loaded, loaded])
    data.combine(path, [loaded])
    report.text_report(loaded)
    report.json_report(loaded)
    assert gc.isenabled()
    with pytest.raises(data.DataError):
        data.load(str(tmp_path / "absent.json"))
    assert gc.isenabled()
