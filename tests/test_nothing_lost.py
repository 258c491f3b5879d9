"""Nothing lost: concurrent combines and saves, two runs on one data file, os._exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import textwrap
from pathlib import Path

import pytest

from conftest import core_env
from globalhook import cli, data


def _part(data_file: Path, index: int) -> Path:
    """A per-process file of a finished process (a pid no process can have), one lookup of ``n<index>``."""
    run = {"run_id": f"r{index}", "host": data._host(), "pid": 10**9 + index, "started": "2026-01-01T00:00:00+00:00"}
    lookup = {"module": "m", "function": "f", "file": "m.py", "line": 1, "name": f"n{index}", "kind": "global", "count": 1}
    path = data_file.parent / f"{data_file.name}.{data._host()}.{10**9 + index}.{index:08x}"
    data.save(data.make_data([lookup], run), str(path))
    return path


class TestConcurrentCombine:
    def test_a_second_combine_waits_for_the_first(self, tmp_path: Path, monkeypatch) -> None:
        """100 parts, the first combine paused after reading the data file; 20 more parts and a second combine."""
        data_file = tmp_path / "big.json"
        data.save(data.make_data([], {"run_id": "old"}), str(data_file))
        for index in range(100):
            _part(data_file, index)

        first_read = threading.Event()
        go_on = threading.Event()
        real_load = data.load_stored  # what combine reads parts with
        first = {}

        def load(path):
            loaded = real_load(path)
            if threading.current_thread().name == "first" and not first_read.is_set() and path != str(data_file):
                first_read.set()
                go_on.wait(10)  # the first combine has listed and started reading its parts
            return loaded

        monkeypatch.setattr(data, "load_stored", load)
        one = threading.Thread(name="first", target=lambda: first.setdefault("status", cli.main(["combine", "--data-file", str(data_file)])))
        one.start()
        assert first_read.wait(10)
        for index in range(100, 120):
            _part(data_file, index)
        second = {}
        two = threading.Thread(name="second", target=lambda: second.setdefault("status", cli.main(["combine", "--data-file", str(data_file)])))
        two.start()
        two.join(1.0)  # without a lock it is done by now, from the data file as it was
        go_on.set()
        one.join(30)
        two.join(30)
        assert first["status"] == 0 and second["status"] == 0
        combined = data.load(str(data_file))
        names = sorted(entry["name"] for entry in combined["lookups"])
        assert names == sorted(f"n{index}" for index in range(120))
        assert sum(entry["count"] for entry in combined["lookups"]) == 120
        assert data.find_parts(str(data_file)) == []
        assert not (tmp_path / "big.json.lock").exists()  # the holder removes it


def _globalhook(args, cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "globalhook", *args], cwd=cwd, env=core_env("auto"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )


class TestTwoRunsOnOneDataFile:
    def test_a_run_that_ended_meanwhile_is_merged_and_said(self, tmp_path: Path) -> None:
        (tmp_path / "slow.py").write_text(textwrap.dedent("""\
            import os, time
            SLOW = 1
            def wait():
                open("started", "w").close()
                while not os.path.exists("go"):
                    time.sleep(0.02)
                return SLOW
            wait()
        """))
        (tmp_path / "quick.py").write_text("QUICK = 1\ndef f():\n    return QUICK\nf()\n")
        slow = _globalhook(["run", "--data-file", "d.json", "slow.py"], tmp_path)
        for _ in range(1500):
            if (tmp_path / "started").exists() or slow.poll() is not None:
                break
            threading.Event().wait(0.02)
        quick = _globalhook(["run", "--data-file", "d.json", "quick.py"], tmp_path)
        assert quick.wait(60) == 0, quick.communicate()
        (tmp_path / "go").write_text("")
        _, err = slow.communicate(timeout=60)
        assert slow.returncode == 0, err
        saved = data.load(str(tmp_path / "d.json"))
        names = {(e["function"], e["name"]) for e in saved["lookups"]}
        assert {("wait", "SLOW"), ("f", "QUICK")} <= names
        assert len(saved["runs"]) == 2
        assert "d.json was written by another run while this one ran" in err
        assert "merged with this run's" in err

    def test_a_run_after_another_replaces_it_silently(self, tmp_path: Path) -> None:
        """Runs one after the other: each starts afresh, as coverage run does."""
        (tmp_path / "a.py").write_text("A = 1\ndef f():\n    return A\nf()\n")
        (tmp_path / "b.py").write_text("B = 1\ndef g():\n    return B\ng()\n")
        for script in ("a.py", "b.py"):
            out, err = _globalhook(["run", "--data-file", "d.json", script], tmp_path).communicate(timeout=60)
            assert err == ""
        saved = data.load(str(tmp_path / "d.json"))
        assert len(saved["runs"]) == 1
        assert {e["name"] for e in saved["lookups"] if e["kind"] == "global"} == {"B", "g"}


def _run(args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "globalhook", *args], cwd=cwd, env=core_env("auto"),
        capture_output=True, text=True, timeout=120,
    )


class TestOsExit:
    def test_os_exit_saves_the_run(self, tmp_path: Path) -> None:
        (tmp_path / "s.py").write_text("import os\nX = 1\ndef f():\n    return X\nf()\nos._exit(3)\n")
        plain = subprocess.run([sys.executable, "s.py"], cwd=tmp_path, capture_output=True, text=True)
        tracked = _run(["run", "--data-file", "d.json", "s.py"], tmp_path)
        assert (tracked.returncode, tracked.stdout, tracked.stderr) == (plain.returncode, plain.stdout, plain.stderr)
        saved = data.load(str(tmp_path / "d.json"))
        assert {"function": "f", "name": "X", "count": 1}.items() <= next(
            e for e in saved["lookups"] if e["function"] == "f"
        ).items()
        assert saved["runs"][0]["exit_code"] == 3

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
    def test_a_forked_child_that_leaves_by_os_exit_is_counted(self, tmp_path: Path) -> None:
        (tmp_path / "s.py").write_text(textwrap.dedent("""\
            import os
            CHILD = 1
            def child():
                return CHILD
            pid = os.fork()
            if pid == 0:
                child()
                os._exit(0)
            os.waitpid(pid, 0)
        """))
        tracked = _run(["run", "--data-file", "d.json", "s.py"], tmp_path)
        assert tracked.returncode == 0, tracked.stderr
        saved = data.load(str(tmp_path / "d.json"))
        assert [e["count"] for e in saved["lookups"] if e["function"] == "child" and e["name"] == "CHILD"] == [1]
        assert data.find_parts(str(tmp_path / "d.json")) == []

    def test_pickles_by_reference_as_before(self, tmp_path: Path) -> None:
        (tmp_path / "s.py").write_text("import os, pickle\nprint(pickle.loads(pickle.dumps(os._exit)) is os._exit)\n")
        tracked = _run(["run", "--data-file", "d.json", "s.py"], tmp_path)
        assert tracked.stdout == "True\n", tracked.stderr

    def test_a_failed_save_says_what_the_data_file_still_holds(self, tmp_path: Path) -> None:
        (tmp_path / "s.py").write_text("X = 1\n")
        assert _run(["run", "--data-file", "d.json", "s.py"], tmp_path).returncode == 0
        (tmp_path / "t.py").write_text(textwrap.dedent("""\
            import os
            import globalhook.data
            def cannot(data, path):
                raise globalhook.data.DataError(path + ": cannot write (No space left on device)")
            globalhook.data.save = cannot
            os._exit(0)
        """))
        failed = _run(["run", "--data-file", "d.json", "t.py"], tmp_path)
        assert f"this run's data was not saved anywhere; {tmp_path / 'd.json'} still holds the data of an earlier run (written 2" in failed.stderr
        assert len(failed.stderr.splitlines()) == 1
