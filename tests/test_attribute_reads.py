"""Reads of a tracked module's attributes from any code (kind ``attribute``).

Differential: the same program runs under plain ``python`` and under
``globalhook run`` with each core; what it prints must be identical, and the
data must hold each read with both sides (reader module and function; owner
module and name), exactly counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import c_core_built, core_env, read_data
from globalhook import config as config_module

REPO = Path(__file__).resolve().parent.parent

FILES = {
    "settings.py": """
        TAX = 0.2
        RATE = 3
    """,
    "lazy.py": """
        import sys
        import warnings

        def __getattr__(name):  # PEP 562
            if name == "LAZY":
                warnings.warn("LAZY is deprecated", DeprecationWarning, stacklevel=2)
                return sys._getframe(1).f_code.co_name
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    """,
    "shop.py": """
        import warnings

        import lazy
        import settings
        from settings import RATE

        def gross(x):
            return x * (1 + settings.TAX)

        def probe():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                found = lazy.LAZY
            where = [(w.filename.rsplit("/", 1)[-1], w.lineno) for w in caught]
            return getattr(settings, "TAX"), hasattr(settings, "NOPE"), found, where, hasattr(lazy, "NOPE")

        def hot(n):
            total = 0
            for _ in range(n):
                total += settings.RATE
            return total
    """,
    "reader.py": """
        import settings

        def untracked():
            return settings.TAX

        def spin(n):
            for _ in range(n):
                settings.RATE
    """,
    "classy.py": """
        import sys
        import types

        X = 1

        class Fancy(types.ModuleType):
            @property
            def prop(self):
                return 7

        sys.modules[__name__].__class__ = Fancy
    """,
    "main.py": """
        import copy
        import importlib
        import json
        import pickle
        import sys
        import threading
        import types

        import classy
        import reader
        import settings
        import shop

        out = {}
        for _ in range(3):
            shop.gross(1)
        for _ in range(3):
            reader.untracked()
        out["probe"] = shop.probe()
        out["hot"] = shop.hot(2000)
        out["module"] = [isinstance(settings, types.ModuleType), type(settings).__name__, repr(type(settings)),
                         repr(settings).split(" from ")[0], settings.__name__, sorted(dir(settings))[-3:]]
        errors = []
        for make in [lambda p=p: pickle.dumps(settings, p) for p in range(pickle.HIGHEST_PROTOCOL + 1)] + [
                lambda: copy.copy(settings), lambda: copy.deepcopy(settings), lambda: pickle.dumps(shop)]:
            try:
                make()
                errors.append(None)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        out["errors"] = errors
        try:
            settings.ABSENT
        except AttributeError as exc:
            out["absent"] = str(exc)
        out["classy"] = [classy.prop, type(classy).__name__, classy.X, isinstance(classy, types.ModuleType)]
        importlib.reload(settings)
        out["reloaded"] = [settings.TAX, type(settings).__name__]
        threads = [threading.Thread(target=reader.spin, args=(1500,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            import cloudpickle
        except ImportError:
            out["cloudpickle"] = None
        else:
            by_reference = cloudpickle.loads(cloudpickle.dumps(settings))
            func = cloudpickle.loads(cloudpickle.dumps(lambda: settings.TAX * 10))
            out["cloudpickle"] = [by_reference is settings, func(), cloudpickle.loads(cloudpickle.dumps(shop.gross)) is shop.gross]
        print(json.dumps(out))
    """,
}

TRACKED = ["--include", "settings", "--include", "lazy", "--include", "shop", "--include", "classy", "--exclude", "__main__"]


CORES = ["python", pytest.param("c", marks=pytest.mark.skipif(not c_core_built(), reason="compiled core not built"))]


def _program(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def _run(folder: Path, core: str, *options: str) -> tuple:
    plain = subprocess.run([sys.executable, "main.py"], cwd=folder, env=core_env(core), capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    tracked = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--data-file", "data.json", *TRACKED, *options, "main.py"],
        cwd=folder, env=core_env(core), capture_output=True, text=True,
    )
    assert tracked.returncode == 0, tracked.stderr
    data = read_data((folder / "data.json"))
    return json.loads(plain.stdout), json.loads(tracked.stdout), data["lookups"]


def _attribute_reads(lookups: list) -> dict:
    """(reader module, function, owner, name, kind) -> count, for entries with an owner."""
    found = {}
    for entry in lookups:
        if "owner" in entry:
            assert entry["module"] == entry["reader_module"]
            key = (entry["reader_module"], entry["function"], entry["owner"], entry["name"], entry["kind"])
            found[key] = found.get(key, 0) + entry["count"]
    return found


@pytest.fixture(scope="module", params=CORES)
def recorded(request, tmp_path_factory):
    folder = _program(tmp_path_factory.mktemp(f"attrs_{request.param}"))
    return (*_run(folder, request.param), request.param)


def test_program_behaves_as_untracked(recorded):
    plain, tracked = recorded[:2]
    assert tracked == plain
    assert plain["probe"] == [0.2, False, "probe", [["shop.py", 14]], False]  # PEP 562 hook sees its caller
    assert plain["module"][:3] == [True, "module", "<class 'module'>"]
    assert plain["errors"][0].startswith("TypeError: cannot pickle 'module' object")


def test_reads_from_tracked_and_untracked_code(recorded):
    reads = _attribute_reads(recorded[2])
    assert reads[("shop", "gross", "settings", "TAX", "attribute")] == 3
    assert reads[("reader", "untracked", "settings", "TAX", "attribute")] == 3


def test_getattr_hasattr_pep562_and_from_import(recorded):
    reads = _attribute_reads(recorded[2])
    assert reads[("shop", "probe", "settings", "TAX", "attribute")] == 1  # getattr(settings, "TAX")
    assert reads[("shop", "probe", "settings", "NOPE", "missing")] == 1  # hasattr: False
    assert reads[("shop", "probe", "lazy", "LAZY", "attribute")] == 1  # module __getattr__ answered
    # The module's __getattr__ refused: the compiled core sees the outcome; the
    # pure-Python core counts when the read reaches the hook (documented).
    kind = "missing" if recorded[3] == "c" else "attribute"
    assert reads[("shop", "probe", "lazy", "NOPE", kind)] == 1
    assert reads[("shop", "<module>", "settings", "RATE", "attribute")] == 1  # from settings import RATE
    assert reads[("__main__", "<module>", "settings", "ABSENT", "missing")] == 1


def test_specialised_loops_are_counted_exactly(recorded):
    # Far more than the warm-up that lets 3.12+ specialise LOAD_ATTR for an exact module.
    reads = _attribute_reads(recorded[2])
    assert reads[("shop", "hot", "settings", "RATE", "attribute")] == 2000
    assert reads[("reader", "spin", "settings", "RATE", "attribute")] == 4 * 1500  # four threads at once


def test_dunder_names_and_the_import_system_are_not_counted(recorded):
    for reader, function, owner, name, kind in _attribute_reads(recorded[2]):
        assert not (name.startswith("__") and name.endswith("__")), name
        assert not reader.startswith("importlib"), (reader, function)


def test_class_assignment_idiom_keeps_working(recorded):
    plain, tracked, lookups = recorded[:3]
    assert tracked["classy"] == plain["classy"] == [7, "Fancy", 1, True]
    # After `__class__ = Fancy` the module's reads are Fancy's (documented): not recorded.
    assert not [key for key in _attribute_reads(lookups) if key[2] == "classy"]


def test_reload_keeps_the_module_type(recorded):
    plain, tracked = recorded[:2]
    assert tracked["reloaded"] == plain["reloaded"] == [0.2, "module"]


def test_cloudpickle_round_trip(recorded):
    plain, tracked = recorded[:2]
    if plain["cloudpickle"] is None:
        pytest.skip("cloudpickle is not installed")
    assert tracked["cloudpickle"] == plain["cloudpickle"] == [True, 2.0, True]


def test_option_off_records_no_attribute_reads(tmp_path):
    folder = _program(tmp_path)
    plain, tracked, lookups = _run(folder, "python", "--no-attributes")
    assert tracked == plain
    assert not _attribute_reads(lookups)
    assert not [e for e in lookups if e["kind"] == "attribute"]


def test_report_shows_owner_dot_name(recorded, tmp_path):
    data = {"format": "globalhook-data", "version": 1, "runs": [], "not_tracked": [], "lookups": recorded[2]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    shown = subprocess.run(
        [sys.executable, "-m", "globalhook", "report", "--data-file", str(path), "--module", "shop"],
        env=core_env("python"), capture_output=True, text=True,
    )
    assert shown.returncode == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert ["settings.TAX", "attribute", "3"] in lines
    by_json = subprocess.run(
        [sys.executable, "-m", "globalhook", "report", "--data-file", str(path), "--format", "json"],
        env=core_env("python"), capture_output=True, text=True,
    )
    report = json.loads(by_json.stdout)
    [shop] = [m for m in report["modules"] if m["module"] == "shop"]
    [gross] = [f for f in shop["functions"] if f["function"] == "gross"]
    assert {"count": 3, "kind": "attribute", "name": "TAX", "owner": "settings"} in gross["names"]
    checked = subprocess.run(
        [sys.executable, "-m", "globalhook", "check", "--data-file", str(path), "--forbid", "reader -> settings:TAX"],
        env=core_env("python"), capture_output=True, text=True,
    )
    assert checked.returncode == 1
    assert "reader.untracked reads settings:TAX (attribute, 3 times)" in checked.stdout


class TestConfig:
    def test_default_on(self, tmp_path):
        assert config_module.load_config({}, environ={}, cwd=str(tmp_path)).attributes is True

    def test_environment_and_option(self, tmp_path):
        assert config_module.load_config({}, environ={"GLOBALHOOK_ATTRIBUTES": "0"}, cwd=str(tmp_path)).attributes is False
        assert config_module.load_config({"attributes": False}, environ={}, cwd=str(tmp_path)).attributes is False

    def test_toml_must_be_a_boolean(self, tmp_path):
        (tmp_path / "pyproject.toml").write_text('[tool.globalhook]\nattributes = "no"\n')
        with pytest.raises(config_module.ConfigError, match=r"attributes: expected true or false"):
            config_module.load_config({}, environ={}, cwd=str(tmp_path))

    def test_run_option(self):
        from globalhook.cli import split_run_args

        options, script, _, _ = split_run_args(["--no-attributes", "x.py"])
        assert options == {"attributes": False} and script == "x.py"


class TestDataFormat:
    ENTRY = {"module": "shop", "function": "gross", "file": "/src/shop.py", "line": 3, "name": "TAX", "count": 2}

    def test_owner_keeps_entries_apart_and_counts_add_up(self):
        from globalhook import data

        own = dict(self.ENTRY, kind="global")
        other = dict(self.ENTRY, kind="global", owner="settings", reader_module="shop")
        attribute = dict(self.ENTRY, kind="attribute", owner="settings", reader_module="shop")
        merged = data.merge([data.make_data([own, other, attribute], {}), data.make_data([attribute], {})])
        found = {(e["kind"], e.get("owner")): e["count"] for e in merged["lookups"]}
        assert found == {("global", None): 2, ("global", "settings"): 2, ("attribute", "settings"): 4}

    def test_old_files_load_and_bad_owner_is_one_line(self, tmp_path):
        from globalhook import data

        path = tmp_path / "old.json"
        path.write_text(json.dumps(data.make_data([dict(self.ENTRY, kind="global")], {})))
        assert data.load(str(path))["lookups"][0]["name"] == "TAX"
        bad = data.make_data([dict(self.ENTRY, kind="attribute", owner=5)], {})
        path.write_text(json.dumps(bad))
        with pytest.raises(data.DataError, match=r'"owner" must be a string'):
            data.load(str(path))

    def test_diff_names_the_owner(self):
        from globalhook import data
        from globalhook.diff import diff, text_diff

        old = data.make_data([dict(self.ENTRY, kind="global", name="settings")], {})
        new = data.make_data(
            [dict(self.ENTRY, kind="global", name="settings"),
             dict(self.ENTRY, kind="attribute", owner="settings", reader_module="shop")], {}
        )
        shown = text_diff(diff(old, new))
        assert "+ settings.TAX  attribute" in shown


def test_reads_of_a_function_include_owner_dot_name(src, install, unique, strategy):
    import importlib

    import globalhook

    src({f"{unique}_settings.py": "TAX = 0.2\n",
         f"{unique}_shop.py": f"import {unique}_settings as settings\ndef gross(x):\n    return x * (1 + settings.TAX)\n"})
    install(include=[f"{unique}_settings", f"{unique}_shop"])
    shop = importlib.import_module(f"{unique}_shop")
    for _ in range(3):
        shop.gross(1)
    expected = {"settings": 3}
    if strategy == "native":  # the proxy strategy records no attribute reads (documented)
        expected[f"{unique}_settings.TAX"] = 3
    assert globalhook.reads(shop.gross) == expected
