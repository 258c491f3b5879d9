"""``globalhook.watch(obj, name=...)``: reads of a configuration object's keys or attributes.

Differential: the program watches a plain dict, a dict subclass, a
``Mapping`` and an attribute object, then runs the same under plain
``python`` and under ``globalhook run`` with each core; its output (values,
``isinstance``, ``copy``, pickling) must be identical, and the data must hold
each read per reading function under the owner given to ``watch``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import globalhook
from conftest import c_core_built, core_env, read_data
from globalhook import watching

FILES = {
    "conf.py": """
        from collections.abc import Mapping

        import globalhook

        class Settings:
            def __init__(self):
                self.DEBUG = True
                self.NAME = "shop"

            def describe(self):
                return self.NAME

        class Frozen(Mapping):
            def __init__(self, **values):
                self._values = values
            def __getitem__(self, key):
                return self._values[key]
            def __iter__(self):
                return iter(self._values)
            def __len__(self):
                return len(self._values)

        class Table(dict):
            pass

        PLAIN = globalhook.watch({"TAX": 0.2, "RATE": 3}, name="conf.PLAIN")
        TABLE = globalhook.watch(Table(LIMIT=5), name="conf.TABLE")
        FROZEN = globalhook.watch(Frozen(REGION="eu"), name="conf.FROZEN")
        SETTINGS = globalhook.watch(Settings(), name="conf.SETTINGS")
    """,
    "shop.py": """
        import conf

        def price(x):
            return x * (1 + conf.PLAIN["TAX"]) + conf.PLAIN.get("FEE", 0)

        def limits():
            return [conf.TABLE["LIMIT"], "LIMIT" in conf.TABLE, conf.TABLE.get("NOPE"),
                    conf.FROZEN["REGION"], conf.FROZEN.get("ZONE"), "REGION" in conf.FROZEN]

        def flags():
            return [conf.SETTINGS.DEBUG, conf.SETTINGS.describe(), getattr(conf.SETTINGS, "MISSING", None)]

        def change():
            conf.PLAIN["RATE"] = 4
            conf.SETTINGS.DEBUG = False
            conf.TABLE.pop("LIMIT")

        def listing():
            return sorted(conf.PLAIN)
    """,
    "main.py": """
        import copy
        import json
        import pickle

        import conf
        import shop

        out = {"price": [shop.price(10) for _ in range(3)], "limits": shop.limits(), "flags": shop.flags()}
        shop.change()
        out["listing"] = shop.listing()
        out["after"] = [dict(conf.PLAIN), dict(conf.TABLE), conf.SETTINGS.DEBUG]
        out["types"] = [type(conf.PLAIN).__name__, isinstance(conf.PLAIN, dict), type(conf.TABLE).__name__,
                        isinstance(conf.TABLE, conf.Table), type(conf.SETTINGS).__name__,
                        isinstance(conf.SETTINGS, conf.Settings), repr(conf.PLAIN), json.dumps(conf.PLAIN)]
        copies = [copy.copy(conf.PLAIN), copy.deepcopy(conf.TABLE), copy.copy(conf.SETTINGS)]
        out["copies"] = [[type(c).__name__, type(c) in (dict, conf.Table, conf.Settings)] for c in copies]
        out["pickled"] = [
            [type(back).__name__, type(back) in (dict, conf.Table, conf.Settings)]
            for back in (pickle.loads(pickle.dumps(obj, protocol))
                         for obj in (conf.PLAIN, conf.TABLE, conf.SETTINGS)
                         for protocol in range(pickle.HIGHEST_PROTOCOL + 1))
        ]
        print(json.dumps(out))
    """,
}

CORES = ["python", pytest.param("c", marks=pytest.mark.skipif(not c_core_built(), reason="compiled core not built"))]


def _reads(lookups: list) -> dict:
    found = {}
    for entry in lookups:
        if entry.get("owner", "").startswith("conf."):
            key = (entry["module"], entry["function"], entry["owner"], entry["name"], entry["kind"])
            found[key] = found.get(key, 0) + entry["count"]
    return found


@pytest.fixture(scope="module", params=CORES)
def recorded(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"watch_{request.param}")
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text))
    env = core_env(request.param)
    plain = subprocess.run([sys.executable, "main.py"], cwd=folder, env=env, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    tracked = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--data-file", "data.json", "--include", "shop",
         "--exclude", "__main__", "main.py"],
        cwd=folder, env=env, capture_output=True, text=True,
    )
    assert tracked.returncode == 0, tracked.stderr
    return json.loads(plain.stdout), json.loads(tracked.stdout), read_data(folder / "data.json")["lookups"]


def test_program_behaves_as_unwatched_and_untracked(recorded):
    plain, tracked, _ = recorded
    assert tracked == plain
    assert plain["price"] == [12.0] * 3
    assert plain["limits"] == [5, True, None, "eu", None, True]
    assert plain["flags"] == [True, "shop", None]
    assert plain["types"][:6] == ["dict", True, "Table", True, "Settings", True]
    # copies and unpickled objects are of the original classes, not watched
    assert all(ok for _, ok in plain["copies"]) and all(ok for _, ok in plain["pickled"])


def test_key_reads_per_function(recorded):
    reads = _reads(recorded[2])
    assert reads[("shop", "price", "conf.PLAIN", "TAX", "read")] == 3
    assert reads[("shop", "price", "conf.PLAIN", "FEE", "read")] == 3  # .get of a key that is not there
    assert reads[("shop", "limits", "conf.TABLE", "LIMIT", "read")] == 2  # [] and in
    assert reads[("shop", "limits", "conf.TABLE", "NOPE", "read")] == 1
    assert reads[("shop", "limits", "conf.FROZEN", "REGION", "read")] == 2  # a Mapping's in goes through []
    assert reads[("shop", "limits", "conf.FROZEN", "ZONE", "read")] == 1
    assert reads[("shop", "listing", "conf.PLAIN", "*", "read")] == 1


def test_attribute_reads_leave_out_methods_and_private_names(recorded):
    reads = _reads(recorded[2])
    assert reads[("shop", "flags", "conf.SETTINGS", "DEBUG", "read")] == 1
    assert ("shop", "flags", "conf.SETTINGS", "describe", "read") not in reads
    assert not [key for key in reads if key[3].startswith("_")]


def test_writes(recorded):
    reads = _reads(recorded[2])
    assert reads[("shop", "change", "conf.PLAIN", "RATE", "write")] == 1
    assert reads[("shop", "change", "conf.SETTINGS", "DEBUG", "write")] == 1
    assert reads[("shop", "change", "conf.TABLE", "LIMIT", "write")] == 1  # pop


def test_untracked_readers_record_nothing(recorded):
    # main.py (not tracked) read every watched object: no entry names it
    assert not [key for key in _reads(recorded[2]) if key[0] != "shop"]


class TestErrors:
    def test_builtin_type_that_cannot_change_class(self):
        with pytest.raises(TypeError, match=r"watch\(\): cannot watch a types\.SimpleNamespace in place"):
            globalhook.watch(types.SimpleNamespace(a=1), name="x")

    def test_name_required(self):
        with pytest.raises(ValueError, match="name must be a non-empty string"):
            globalhook.watch({}, name="  ")

    def test_other_name_refused_same_name_accepted(self):
        class Box:
            pass

        box = globalhook.watch(Box(), name="box.one")
        try:
            assert globalhook.watch(box, name="box.one") is box
            with pytest.raises(ValueError, match="already watched as 'box.one'"):
                globalhook.watch(box, name="box.two")
        finally:
            globalhook.unwatch(box)
        assert type(box) is Box
        assert watching.watched_name(box) is None

    def test_class_that_refuses_subclasses(self):
        class Sealed:
            def __init_subclass__(cls, **kwargs):
                raise RuntimeError("Sealed cannot be subclassed")

        with pytest.raises(TypeError, match=r"watch\(\): cannot watch a .*Sealed \(RuntimeError: Sealed cannot be subclassed\)"):
            globalhook.watch(Sealed(), name="sealed")


def test_cost_benchmark_runs(tmp_path):
    """benchmarks/configreads.py end to end (numbers are not compared with targets)."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "configreads.py"
    env = {k: v for k, v in core_env("auto").items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(script.parent.parent)
    done = subprocess.run([sys.executable, str(script), "--rounds", "1", "--n", "200", "--depth", "3"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "ns that recording adds per read" in lines[0]
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "tracked reader", "untracked reader 3 frames under tracked code", "no tracked code on the stack",
    ]
    assert all("watched dict[key]" in line and "os.environ.get" in line for line in lines[1:])
