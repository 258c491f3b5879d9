"""``globalhook run`` is like ``python``: differential tests.

In the manner of coverage.py's ``tests/test_process.py``: the same program is
run under plain ``python`` and under ``python -m globalhook run``, in fresh
subprocesses, and what the program sees (argv, ``sys.path``, its
``__main__`` attributes...), its output, its exit status and its tracebacks
are compared.  Only the differences listed in this file are allowed, each
with the reason it is expected.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
from conftest import read_data

REPO = str(Path(__file__).resolve().parent.parent)
PROBES = Path(__file__).resolve().parent / "probes"
STRATEGIES = ("native", "proxy")
PROBE_COUNTED_LINE = (PROBES / "main_probe.py").read_text().splitlines().index("def counted():") + 1
TIMEOUT = 120


# Fields of the probe's dump that may differ, and what globalhook run gives.
# Everything else must be equal to what plain python gives.
EXPECTED_DIFFERENCES = {
    # The point of the tool: __main__ is born with a TrackingDict (a dict
    # subclass) as its one and only namespace.
    "globals_type": lambda strategy: "TrackingDict",
    # native: exactly ModuleType, as untracked (None: no difference); proxy:
    # a stand-in class whose __class__ claims ModuleType (isinstance still
    # holds, see main_is_module).
    "main_type": lambda strategy: {"native": None, "proxy": "ProxyModule"}[strategy],
}


# -- helpers -------------------------------------------------------------------


def clean_env(**extra: str) -> Dict[str, str]:
    """The same environment for both runs: the repo importable, no globalhook settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env.pop("PYTHONSAFEPATH", None)
    env["PYTHONPATH"] = REPO
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing written into the repo or the test folder
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def python(args: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None, interpreter_flags=()):
    return subprocess.run(
        [sys.executable, *interpreter_flags, *args],
        cwd=str(cwd), env=env or clean_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )


def globalhook_run(
    args: Sequence[str],
    cwd: Path,
    strategy: Optional[str] = None,
    data_file: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
    interpreter_flags=(),
):
    options: List[str] = []
    if strategy:
        options += ["--strategy", strategy]
    if data_file is not None:
        options += ["--data-file", str(data_file)]
    return python(["-m", "globalhook", "run", *options, *args], cwd, env, interpreter_flags)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def copy_probe(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(str(PROBES / "main_probe.py"), str(target))
    return target


def dump(result) -> dict:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def load_data(path: Path) -> dict:
    assert path.exists(), f"no data file at {path}"
    return read_data(path)


def lookups(data: dict, **match) -> List[dict]:
    return [e for e in data["lookups"] if all(e[k] == v for k, v in match.items())]


def count(data: dict, module: str, function: str, name: str, kind: str) -> int:
    found = lookups(data, module=module, function=function, name=name, kind=kind)
    return sum(e["count"] for e in found)


def normalise(text: str) -> str:
    """Only memory addresses may differ between two runs of the same program."""
    return re.sub(r"0x[0-9a-fA-F]+", "0xADDR", text)


def assert_like_python(plain: dict, tracked: dict, strategy: str) -> None:
    differing = {key: expected(strategy) for key, expected in EXPECTED_DIFFERENCES.items()}
    differing = {key: value for key, value in differing.items() if value is not None}
    for key, value in differing.items():
        assert plain[key] != tracked[key], f"{key} is documented as differing, but is equal"
        assert tracked[key] == value, key
    same_keys = sorted(set(plain) - set(differing))
    assert {k: tracked[k] for k in same_keys} == {k: plain[k] for k in same_keys}
    assert set(tracked) == set(plain)


def run_in_own_group(command: Sequence[str], cwd: Path, timeout: float = 30) -> str:
    """Run in a new process group; fail (killing the group) on a hang or a leftover process."""
    proc = subprocess.Popen(
        command, cwd=str(cwd), env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{command} did not finish in {timeout}s (a process kept its output open)")
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # anything left of the group is an orphan
    except ProcessLookupError:
        pass
    else:
        pytest.fail(f"{command} left processes behind")
    assert proc.returncode == 0, stderr
    return stdout


MULTIPROCESSING_PROGRAM = """\
import multiprocessing

FACTOR = 3

def work(x):
    return x * FACTOR

if __name__ == "__main__":
    with multiprocessing.get_context("METHOD").Pool(2) as pool:
        print("METHOD", pool.map(work, range(4)))
"""


def files_in(folder: Path) -> set:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    """The test's folder as the programs see it (os.getcwd() resolves symlinks, e.g. macOS /var)."""
    return tmp_path.resolve()


@pytest.fixture(params=STRATEGIES)
def strategy(request) -> str:
    return request.param


# -- what __main__ sees -----------------------------------------------------------


class TestScriptIsLikePython:
    def test_probe_dump_equals_plain_python(self, tmp_path, strategy):
        copy_probe(tmp_path / "probe.py")
        args = ["probe.py", "a", "b", "--x"]
        plain = dump(python(args, tmp_path))
        tracked = dump(globalhook_run(args, tmp_path, strategy, tmp_path / "data.json"))
        assert_like_python(plain, tracked, strategy)
        # A few values spelled out, so a probe that dumps nothing cannot pass.
        assert tracked["argv"] == ["probe.py", "a", "b", "--x"]
        assert tracked["path0"] == str(tmp_path)
        assert tracked["name"] == "__main__" and tracked["spec_repr_none"] is True
        assert tracked["loader_type"] == "SourceFileLoader" and tracked["loader_is_source_file_loader"]
        assert tracked["pickle_function"] and tracked["pickle_class"] and tracked["pickle_instance"]
        assert tracked["main_is_module"] and tracked["main_is_this_module"] and tracked["function_globals"]
        assert tracked["builtins_is_module"] and tracked["doc"].startswith("Probe: dump")
        assert tracked["getsource_first_line"] == "def read_global_and_builtin():"
        assert tracked["threads"] == ["hi2"] * 3

    def test_lookups_are_attributed_to_main_functions(self, tmp_path, strategy):
        copy_probe(tmp_path / "probe.py")
        data_file = tmp_path / "data.json"
        dump(globalhook_run(["probe.py"], tmp_path, strategy, data_file))
        data = load_data(data_file)
        assert data["runs"][0]["strategy"] == strategy
        # counted() is called exactly CALLS (7) times.
        assert count(data, "__main__", "counted", "GREETING", "global") == 7
        assert count(data, "__main__", "counted", "len", "builtin") == 7
        # read_global_and_builtin: once from main(), three times from threads.
        assert count(data, "__main__", "read_global_and_builtin", "GREETING", "global") == 8
        assert count(data, "__main__", "read_global_and_builtin", "str", "builtin") == 4
        assert count(data, "__main__", "thread_reads.<locals>.worker", "read_global_and_builtin", "global") == 3
        assert count(data, "__main__", "main", "CALLS", "global") == 1
        assert count(data, "__main__", "<module>", "main", "global") == 1
        for entry in lookups(data, module="__main__", function="counted"):
            assert entry["file"] == str(tmp_path / "probe.py")
            assert entry["line"] == PROBE_COUNTED_LINE

    def test_script_through_symlinked_file_and_folder(self, tmp_path):
        if not hasattr(os, "symlink"):
            pytest.skip("no symlinks")
        copy_probe(tmp_path / "real" / "probe.py")
        try:
            (tmp_path / "links").mkdir()
            os.symlink(str(tmp_path / "real" / "probe.py"), str(tmp_path / "links" / "probe.py"))
            os.symlink(str(tmp_path / "real"), str(tmp_path / "linkdir"))
        except OSError as exc:  # pragma: no cover - e.g. Windows without privilege
            pytest.skip(f"cannot make symlinks: {exc}")
        for script in ("links/probe.py", "linkdir/probe.py"):
            plain = dump(python([script], tmp_path))
            tracked = dump(globalhook_run([script], tmp_path, data_file=tmp_path / "data.json"))
            assert_like_python(plain, tracked, "native")
            # python resolves the link for sys.path[0] but not for __file__.
            assert tracked["path0"] == str((tmp_path / "real").resolve())
            assert tracked["file"] == str(tmp_path / script)

    def test_options_after_the_script_belong_to_the_script(self, tmp_path):
        copy_probe(tmp_path / "probe.py")
        data_file = tmp_path / "data.json"
        args = ["probe.py", "--include", "x", "--strategy", "bogus", "--data-file", "elsewhere.json", "-m", "y"]
        tracked = dump(globalhook_run(args, tmp_path, "proxy", data_file))
        assert tracked["argv"] == args
        assert load_data(data_file)["runs"][0]["strategy"] == "proxy"
        assert not (tmp_path / "elsewhere.json").exists()
        assert count(load_data(data_file), "__main__", "counted", "GREETING", "global") == 7

    def test_double_dash_ends_options(self, tmp_path):
        copy_probe(tmp_path / "probe.py")
        tracked = dump(globalhook_run(["--", "probe.py", "--", "-m"], tmp_path, data_file=tmp_path / "d.json"))
        assert tracked["argv"] == ["probe.py", "--", "-m"]

    @pytest.mark.skipif(sys.version_info < (3, 11), reason="-P is new in 3.11")
    def test_safe_path_flag(self, tmp_path):
        # python -P adds no entry for the script; globalhook must not replace
        # the first real entry (PYTHONPATH here) with one either.
        copy_probe(tmp_path / "probe.py")
        plain = dump(python(["probe.py"], tmp_path, interpreter_flags=["-P"]))
        tracked = dump(globalhook_run(["probe.py"], tmp_path, data_file=tmp_path / "d.json", interpreter_flags=["-P"]))
        assert plain["path0"] == REPO
        assert_like_python(plain, tracked, "native")


class TestModuleIsLikePython:
    @pytest.fixture
    def package(self, tmp_path) -> Path:
        write(tmp_path / "pkg" / "__init__.py", "PACKAGE_LEVEL = 1\n")
        copy_probe(tmp_path / "pkg" / "mod.py")
        copy_probe(tmp_path / "pkg" / "__main__.py")
        return tmp_path / "pkg"

    @pytest.mark.parametrize("target, origin", [("pkg.mod", "mod.py"), ("pkg", "__main__.py")])
    def test_dash_m(self, tmp_path, package, strategy, target, origin):
        args = ["-m", target, "a", "--x"]
        plain = dump(python(args, tmp_path))
        data_file = tmp_path / "data.json"
        tracked = dump(globalhook_run(args, tmp_path, strategy, data_file))
        assert_like_python(plain, tracked, strategy)
        path = str(package / origin)
        assert tracked["argv"] == [path, "a", "--x"]
        assert tracked["path0"] == str(tmp_path)
        assert tracked["file"] == path
        assert tracked["package"] == "pkg"
        assert tracked["spec"] == {"name": f"pkg.{origin[:-3]}", "origin": path, "parent": "pkg"}
        # The loader python would give, not globalhook's tracking loader.
        assert tracked["loader_type"] == "SourceFileLoader"
        data = load_data(data_file)
        assert count(data, "__main__", "counted", "GREETING", "global") == 7
        assert all(e["file"] == path for e in lookups(data, module="__main__", function="counted"))

    def test_dash_m_from_an_installed_launcher(self, tmp_path, package):
        # The installed ``globalhook`` command is a script in bin/: python puts
        # bin/ at sys.path[0], where ``python -m`` would put the cwd.
        write(tmp_path / "bin" / "globalhook-launcher.py", """\
            import sys
            from globalhook.cli import main
            sys.exit(main())
            """)
        args = ["-m", "pkg.mod", "a"]
        plain = dump(python(args, tmp_path))
        tracked = dump(python(["bin/globalhook-launcher.py", "run", "--data-file", "d.json", *args], tmp_path))
        assert_like_python(plain, tracked, "native")
        assert tracked["path0"] == str(tmp_path)

    @pytest.mark.parametrize("kind", ["folder", "zip"])
    def test_folder_or_zip_with_main(self, tmp_path, strategy, kind):
        copy_probe(tmp_path / "app" / "__main__.py")
        target = "app"
        if kind == "zip":
            with zipfile.ZipFile(str(tmp_path / "app.zip"), "w") as zf:
                zf.write(str(tmp_path / "app" / "__main__.py"), "__main__.py")
            shutil.rmtree(str(tmp_path / "app"))
            target = "app.zip"
        plain = dump(python([target, "a"], tmp_path))
        data_file = tmp_path / "data.json"
        tracked = dump(globalhook_run([target, "a"], tmp_path, strategy, data_file))
        assert_like_python(plain, tracked, strategy)
        assert tracked["path0"] == str(tmp_path / target)
        assert tracked["argv"] == [target, "a"]
        assert count(load_data(data_file), "__main__", "counted", "GREETING", "global") == 7

    def test_folder_without_main_fails_like_python(self, tmp_path):
        (tmp_path / "app").mkdir()
        plain = python(["app"], tmp_path)
        tracked = globalhook_run(["app"], tmp_path, data_file=tmp_path / "d.json")
        assert tracked.returncode == plain.returncode == 1
        assert tracked.stderr.count("\n") == 1
        message = f"can't find '__main__' module in {str(tmp_path / 'app')!r}"
        assert message in plain.stderr and message in tracked.stderr

    def test_multiprocessing_spawn_finds_main(self, tmp_path, strategy):
        # spawn re-runs __main__ from its __file__ in each child and unpickles
        # functions by reference to it.
        write(tmp_path / "prog.py", MULTIPROCESSING_PROGRAM.replace("METHOD", "spawn"))
        plain = python(["prog.py"], tmp_path)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert plain.returncode == 0, plain.stderr
        assert (tracked.returncode, tracked.stdout, tracked.stderr) == (0, plain.stdout, plain.stderr)
        assert tracked.stdout == "spawn [0, 3, 6, 9]\n"

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
    def test_fork_pool_leaves_nothing_behind(self, tmp_path, strategy):
        write(tmp_path / "prog.py", MULTIPROCESSING_PROGRAM.replace("METHOD", "fork"))
        command = [sys.executable, "-m", "globalhook", "run", "--strategy", strategy, "--data-file", "data.json", "prog.py"]
        for _ in range(int(os.environ.get("GLOBALHOOK_STRESS", "4"))):
            stdout = run_in_own_group(command, tmp_path)
            assert stdout == "fork [0, 3, 6, 9]\n"
            assert files_in(tmp_path) == {"prog.py", "data.json"}

    def test_missing_module_fails_like_python(self, tmp_path):
        plain = python(["-m", "no_such_module_here"], tmp_path)
        tracked = globalhook_run(["-m", "no_such_module_here"], tmp_path, data_file=tmp_path / "d.json")
        assert tracked.returncode == plain.returncode == 1
        assert tracked.stderr.count("\n") == 1
        assert "No module named no_such_module_here" in tracked.stderr
        assert tracked.stdout == ""


# -- exit status, output and tracebacks ---------------------------------------------


PROGRAMS = {
    "exit3": """\
        import sys
        VALUE = 3
        def leave():
            sys.exit(VALUE)
        leave()
        """,
    "exit_message": """\
        import sys
        sys.exit("something went wrong")
        """,
    "exit_none": """\
        raise SystemExit
        """,
    "uncaught": """\
        class Problem(Exception):
            pass

        def deepest(thing):
            raise Problem(f"cannot handle {thing!r}")

        def middle():
            deepest(object())

        print("before")
        middle()
        """,
    "chained_cause": """\
        def inner():
            return {}["key"]

        def outer():
            try:
                inner()
            except KeyError as exc:
                raise RuntimeError("outer problem") from exc

        outer()
        """,
    "chained_context": """\
        def cleanup():
            raise ValueError("while cleaning up")

        try:
            1 / 0
        except ZeroDivisionError:
            cleanup()
        """,
    "name_error": """\
        def reader():
            return not_defined_anywhere

        reader()
        """,
    "syntax_error": """\
        x = 1
        def broken(:
            pass
        """,
    "keyboard_interrupt": """\
        def interrupted():
            raise KeyboardInterrupt

        interrupted()
        """,
    "user_excepthook": """\
        import sys

        def hook(kind, value, tb):
            print("custom hook:", kind.__name__, value, tb.tb_frame.f_code.co_name, file=sys.stderr)

        sys.excepthook = hook

        def fail():
            raise LookupError("nothing here")

        fail()
        """,
    "failing_excepthook": """\
        import sys

        def hook(kind, value, tb):
            raise RuntimeError("the hook itself is broken")

        sys.excepthook = hook
        raise ValueError("original")
        """,
    "missing_excepthook": """\
        import sys
        del sys.excepthook
        raise ValueError("original")
        """,
    "exiting_excepthook": """\
        import sys

        def hook(kind, value, tb):
            sys.exit(5)

        sys.excepthook = hook
        raise ValueError("original")
        """,
    "exit_object": """\
        import sys
        sys.exit(["not", "an", "int"])
        """,
    "atexit": """\
        import atexit
        import sys
        FAREWELL = "bye"

        def goodbye():
            print(FAREWELL, len(FAREWELL))
            sys.stdout.flush()

        atexit.register(goodbye)
        print("main done")
        """,
    "import_time_error": """\
        import helper_that_fails
        """,
}

EXIT_STATUS = {
    "exit3": 3,
    "exit_message": 1,
    "exit_none": 0,
    "uncaught": 1,
    "chained_cause": 1,
    "chained_context": 1,
    "name_error": 1,
    "syntax_error": 1,
    "keyboard_interrupt": -signal.SIGINT if os.name == "posix" else 0xC000013A,
    "user_excepthook": 1,
    "failing_excepthook": 1,
    "missing_excepthook": 1,
    "exiting_excepthook": 5,
    "exit_object": 1,
    "atexit": 0,
    "import_time_error": 1,
}


class TestExitsLikePython:
    @pytest.mark.parametrize("program", sorted(PROGRAMS))
    def test_same_status_stdout_and_stderr(self, tmp_path, strategy, program):
        write(tmp_path / "prog.py", PROGRAMS[program])
        write(tmp_path / "helper_that_fails.py", """\
            def boom():
                raise LookupError("at import time")
            boom()
            """)
        plain = python(["prog.py"], tmp_path)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert plain.returncode == EXIT_STATUS[program], plain.stderr
        assert tracked.returncode == plain.returncode, tracked.stderr
        assert tracked.stdout == plain.stdout
        assert normalise(tracked.stderr) == normalise(plain.stderr)
        for word in ("globalhook", "runpy", "<frozen runpy>", "runner.py", "cli.py"):
            assert word not in tracked.stderr

    def test_tracebacks_show_only_the_programs_frames(self, tmp_path, strategy):
        write(tmp_path / "prog.py", PROGRAMS["chained_cause"])
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        files = re.findall(r'^  File "([^"]+)"', tracked.stderr, re.M)
        assert files and set(files) == {str(tmp_path / "prog.py")}
        assert "The above exception was the direct cause of the following exception" in tracked.stderr
        assert tracked.stderr.count("Traceback (most recent call last):") == 2

    def test_exit_message_goes_to_stderr(self, tmp_path, strategy):
        write(tmp_path / "prog.py", PROGRAMS["exit_message"])
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert (tracked.returncode, tracked.stdout, tracked.stderr) == (1, "", "something went wrong\n")

    def test_user_excepthook_is_honoured(self, tmp_path, strategy):
        write(tmp_path / "prog.py", PROGRAMS["user_excepthook"])
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        # The hook got the program's traceback (its first frame is <module>), and nothing else was printed.
        assert tracked.stderr == "custom hook: LookupError nothing here <module>\n"
        assert tracked.returncode == 1

    @pytest.mark.parametrize(
        "source",
        [b"x = 1\x00\n", b"# -*- coding: bogus -*-\nx = 1\n", b'x = "\xff"\n'],
        ids=["nul-byte", "unknown-encoding", "not-utf8"],
    )
    def test_undecodable_script(self, tmp_path, strategy, source):
        # Known difference: python reads the main script with its file
        # tokenizer, globalhook compiles the bytes (as runpy and coverage do),
        # so the wording of these errors differs, and python 3.9/3.10 even
        # run a script with a NUL byte (ignoring the rest of that line).
        # What must hold: exit 1 and one SyntaxError, with no frames of ours.
        (tmp_path / "prog.py").write_bytes(source)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert tracked.returncode == 1
        assert tracked.stderr.splitlines()[-1].startswith("SyntaxError: ")
        assert "Traceback" not in tracked.stderr and "globalhook" not in tracked.stderr

    def test_syntax_error_in_a_dash_m_module(self, tmp_path, strategy):
        write(tmp_path / "pkg" / "__init__.py", "")
        write(tmp_path / "pkg" / "bad.py", PROGRAMS["syntax_error"])
        plain = python(["-m", "pkg.bad"], tmp_path)
        tracked = globalhook_run(["-m", "pkg.bad"], tmp_path, strategy, tmp_path / "data.json")
        assert tracked.returncode == plain.returncode == 1
        # python shows runpy's and importlib's frames first; globalhook shows
        # the error the way python shows one in a script: the rest is the same.
        start = plain.stderr.index(f'  File "{tmp_path / "pkg" / "bad.py"}", line 2')
        assert tracked.stderr == plain.stderr[start:]
        assert "Traceback" not in tracked.stderr

    def test_syntax_error_in_an_imported_tracked_module(self, tmp_path, strategy):
        write(tmp_path / "prog.py", "import helper_with_syntax_error\n")
        write(tmp_path / "helper_with_syntax_error.py", PROGRAMS["syntax_error"])
        plain = python(["prog.py"], tmp_path)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert tracked.returncode == plain.returncode == 1
        assert tracked.stderr == plain.stderr

    def test_error_raised_while_a_tracked_module_is_imported(self, tmp_path, strategy):
        # importlib trims its own frames only when no foreign frame sits among them.
        write(tmp_path / "prog.py", "import helper_that_raises\n")
        write(tmp_path / "helper_that_raises.py", "X = 1\nraise RuntimeError('at import time')\n")
        plain = python(["prog.py"], tmp_path)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert tracked.returncode == plain.returncode == 1
        assert tracked.stderr == plain.stderr
        assert "importlib" not in tracked.stderr

    def test_missing_script(self, tmp_path, strategy):
        data_file = tmp_path / "data.json"
        plain = python(["no_such_script.py"], tmp_path)
        tracked = globalhook_run(["no_such_script.py", "arg"], tmp_path, strategy, data_file)
        assert tracked.returncode == plain.returncode == 2
        assert tracked.stdout == ""
        assert tracked.stderr.count("\n") == 1
        assert str(tmp_path / "no_such_script.py") in tracked.stderr
        assert "Traceback" not in tracked.stderr

    @pytest.mark.skipif(os.name != "posix", reason="death by signal is POSIX")
    def test_keyboard_interrupt_ends_by_sigint(self, tmp_path, strategy):
        write(tmp_path / "prog.py", PROGRAMS["keyboard_interrupt"])
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert tracked.returncode == -signal.SIGINT
        assert tracked.stderr.rstrip().endswith("KeyboardInterrupt")


class TestDataFileWhateverTheEnd:
    @pytest.mark.parametrize(
        "program, exit_code",
        [("atexit", 0), ("exit3", 3), ("exit_message", 1), ("uncaught", 1), ("keyboard_interrupt", None)],
    )
    def test_written_once_atomically(self, tmp_path, strategy, program, exit_code):
        write(tmp_path / "prog.py", PROGRAMS[program])
        data_file = tmp_path / "data.json"
        globalhook_run(["prog.py"], tmp_path, strategy, data_file)
        data = load_data(data_file)
        assert data["format"] == "globalhook-data"
        assert len(data["runs"]) == 1
        if exit_code is not None:
            assert data["runs"][0]["exit_code"] == exit_code
        assert lookups(data, module="__main__", function="<module>")
        # No temporary or per-process files left beside it.
        assert files_in(tmp_path) == {"prog.py", "data.json"}

    def test_lookups_of_the_failing_path_are_recorded(self, tmp_path, strategy):
        write(tmp_path / "prog.py", PROGRAMS["exit3"])
        data_file = tmp_path / "data.json"
        globalhook_run(["prog.py"], tmp_path, strategy, data_file)
        data = load_data(data_file)
        assert count(data, "__main__", "leave", "VALUE", "global") == 1
        assert count(data, "__main__", "leave", "sys", "global") == 1

    def test_keyboard_interrupt_lookups(self, tmp_path, strategy):
        write(tmp_path / "prog.py", PROGRAMS["keyboard_interrupt"])
        data_file = tmp_path / "data.json"
        globalhook_run(["prog.py"], tmp_path, strategy, data_file)
        data = load_data(data_file)
        assert count(data, "__main__", "interrupted", "KeyboardInterrupt", "builtin") == 1

    def test_atexit_handlers_of_the_program_run_and_are_recorded(self, tmp_path, strategy):
        write(tmp_path / "prog.py", PROGRAMS["atexit"])
        data_file = tmp_path / "data.json"
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, data_file)
        assert tracked.stdout == "main done\nbye 3\n"
        data = load_data(data_file)
        assert count(data, "__main__", "goodbye", "FAREWELL", "global") == 2
        assert count(data, "__main__", "goodbye", "print", "builtin") == 1
        assert count(data, "__main__", "goodbye", "sys", "global") == 1

    @pytest.mark.parametrize(
        "args, status",
        [(["no_such_script.py"], 2), (["-m", "no_such_module_here"], 1), (["-m", "json.no_such"], 1), (["empty_folder"], 1)],
    )
    def test_a_program_that_cannot_start_leaves_the_last_data_alone(self, tmp_path, args, status):
        """A typo in the script name must not replace the last run's data with nothing."""
        (tmp_path / "empty_folder").mkdir()
        data_file = tmp_path / "data.json"
        write(tmp_path / "prog.py", "print('ran')\n")
        assert globalhook_run(["prog.py"], tmp_path, data_file=data_file).returncode == 0
        before = data_file.read_bytes()
        result = globalhook_run(args, tmp_path, data_file=data_file)
        assert result.returncode == status  # python's: 2 for a script it cannot open, 1 for -m
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert data_file.read_bytes() == before
        assert files_in(tmp_path) == {"prog.py", "data.json", "empty_folder"}


# The real disposition of SIGTERM: globalhook's handler is hidden from
# signal.getsignal(), so children are checked in /proc/self/status (SigCgt is
# the mask of caught signals) where there is one.
REAL_SIGTERM_DISPOSITION = """\
import os, signal

def sigterm_is_default():
    try:
        with open("/proc/self/status") as status:
            caught = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
    except OSError:
        return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    return not caught & (1 << (signal.SIGTERM - 1)) and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
"""

POOL_SIGNAL_PROGRAM = REAL_SIGTERM_DISPOSITION + """\
import multiprocessing, signal

def disposition(_):
    return sigterm_is_default()

if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(pool.map(disposition, range(2)))
"""


def test_pool_workers_keep_default_sigterm(tmp_path):
    """A Python-level SIGTERM handler in a worker can miss a signal that lands just
    before it blocks, and then Pool.terminate() waits forever: workers keep SIG_DFL."""
    write(tmp_path / "prog.py", POOL_SIGNAL_PROGRAM)
    command = [sys.executable, "-m", "globalhook", "run", "--data-file", "data.json", "prog.py"]
    assert run_in_own_group(command, tmp_path) == "[True, True]\n"
    data = read_data((tmp_path / "data.json"))
    # Both calls' lookups arrive, saved before terminate().
    assert sum(e["count"] for e in data["lookups"] if e["function"] == "disposition" and e["name"] == "sigterm_is_default") == 2


FORK_SIGNAL_PROGRAM = REAL_SIGTERM_DISPOSITION + """\
import os, signal, sys, threading

def fork_and_report(label):
    pid = os.fork()
    if pid == 0:
        ok = sigterm_is_default() and not signal.pthread_sigmask(signal.SIG_BLOCK, [])
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    line = f"{label} {os.waitstatus_to_exitcode(status)} {sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))}"
    with lock:
        print(line)

lock = threading.Lock()
threads = [threading.Thread(target=fork_and_report, args=(f"thread{i}",)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
fork_and_report("main")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_children_take_sigterm_default_and_parents_keep_their_mask(tmp_path):
    """SIGTERM is held across fork() (per thread) and forked children keep the default action."""
    write(tmp_path / "prog.py", FORK_SIGNAL_PROGRAM)
    command = [sys.executable, "-W", "ignore::DeprecationWarning", "-m", "globalhook", "run", "--data-file", "data.json", "prog.py"]
    lines = sorted(run_in_own_group(command, tmp_path).splitlines())
    assert lines == ["main 0 []", "thread0 0 []", "thread1 0 []"]


# -- a data file that cannot be written -------------------------------------------


class TestUnwritableDataFile:
    @pytest.mark.parametrize("where", ["sys", "missing folder", "a directory"])
    def test_found_out_before_the_program_runs(self, tmp_path, where):
        if where == "sys":
            if not os.path.isdir("/sys"):
                pytest.skip("no /sys here")
            data_file = Path("/sys/globalhook-test.json")
        elif where == "missing folder":
            data_file = tmp_path / "no" / "such" / "d.json"
        else:
            data_file = tmp_path / "d.json"
            data_file.mkdir()
        write(tmp_path / "prog.py", "print('ran')\n")
        result = globalhook_run(["prog.py"], tmp_path, data_file=data_file)
        assert result.returncode == 2
        assert result.stdout == ""  # the program did not run
        assert result.stderr.count("\n") == 1 and str(data_file) in result.stderr
        assert "Traceback" not in result.stderr
        assert files_in(tmp_path) == ({"prog.py", "d.json"} if where == "a directory" else {"prog.py"})

    @pytest.mark.parametrize("status", [0, 3])
    def test_lost_at_exit_is_said_and_fails_a_successful_run(self, tmp_path, status):
        """The folder disappears while the program runs: the data can go nowhere."""
        (tmp_path / "out").mkdir()
        write(tmp_path / "prog.py", f"""\
            import shutil, sys
            shutil.rmtree({str(tmp_path / 'out')!r})
            print('ran')
            sys.exit({status})
            """)
        result = globalhook_run(["prog.py"], tmp_path, data_file=tmp_path / "out" / "d.json")
        assert result.stdout == "ran\n"
        assert result.returncode == (2 if status == 0 else status)  # the program's own failure wins
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "not saved anywhere" in result.stderr and str(tmp_path / "out" / "d.json") in result.stderr


# -- SIGTERM: globalhook's handler is invisible -------------------------------------


CHAINING_PROGRAM = """\
import atexit, os, signal, sys, time

atexit.register(lambda: print("atexit ran", flush=True))

def handler(signum, frame):
    print("handler, previous:", previous, flush=True)
    if GUARDED:
        if callable(previous):
            previous(signum, frame)
    else:
        previous(signum, frame)
    sys.exit(0)

def work():
    return FACTOR

FACTOR = 1
print("before:", signal.getsignal(signal.SIGTERM), flush=True)
previous = signal.signal(signal.SIGTERM, handler)
print("installed:", signal.getsignal(signal.SIGTERM) is handler, flush=True)
try:
    work()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
finally:
    print("finally ran", flush=True)
"""


class TestSigterm:
    @pytest.mark.parametrize("guarded", [True, False])
    def test_a_handler_installed_by_the_program_chains_as_with_python(self, tmp_path, strategy, guarded):
        """The program's handler calls the previous one, then exits: plain python shows it SIG_DFL."""
        write(tmp_path / "prog.py", f"GUARDED = {guarded}\n" + CHAINING_PROGRAM)
        plain = python(["prog.py"], tmp_path)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert (tracked.returncode, tracked.stdout) == (plain.returncode, plain.stdout), tracked.stderr
        assert normalise(tracked.stderr) == normalise(plain.stderr)
        assert "finally ran" in plain.stdout and "atexit ran" in plain.stdout
        data = load_data(tmp_path / "data.json")
        assert count(data, "__main__", "work", "FACTOR", "global") == 1
        assert data["runs"][0]["exit_code"] == plain.returncode

    def test_a_handler_installed_before_globalhook_started_is_left_alone(self, tmp_path, strategy):
        """A handler already there when globalhook starts (here from sitecustomize) is the previous one."""
        site = tmp_path / "site"
        write(site / "sitecustomize.py", """\
            import signal
            def early(signum, frame):
                print("early handler", flush=True)
            signal.signal(signal.SIGTERM, early)
            """)
        write(tmp_path / "prog.py", "GUARDED = True\n" + CHAINING_PROGRAM)
        env = clean_env(PYTHONPATH=os.pathsep.join([str(site), REPO]))
        plain = python(["prog.py"], tmp_path, env=env)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json", env=env)
        assert "early handler" in plain.stdout and plain.returncode == 0
        assert (tracked.returncode, normalise(tracked.stdout)) == (plain.returncode, normalise(plain.stdout))

    @pytest.mark.skipif(os.name != "posix", reason="death by signal is POSIX")
    def test_default_action_set_again_by_the_program_still_saves(self, tmp_path, strategy):
        write(tmp_path / "prog.py", """\
            import os, signal
            FACTOR = 1
            def work():
                return FACTOR
            previous = signal.signal(signal.SIGTERM, lambda s, f: None)
            signal.signal(signal.SIGTERM, previous)
            print(signal.getsignal(signal.SIGTERM), flush=True)
            work()
            os.kill(os.getpid(), signal.SIGTERM)
            print("not reached")
            """)
        plain = python(["prog.py"], tmp_path)
        tracked = globalhook_run(["prog.py"], tmp_path, strategy, tmp_path / "data.json")
        assert tracked.returncode == plain.returncode == -signal.SIGTERM
        assert tracked.stdout == plain.stdout and "not reached" not in plain.stdout
        data = load_data(tmp_path / "data.json")
        assert count(data, "__main__", "work", "FACTOR", "global") == 1
        assert data["runs"][0]["exit_code"] == -signal.SIGTERM  # not null: killed by SIGTERM


# -- the frames below __main__ --------------------------------------------------------


FRAMES_PROGRAM = """\
import sys, traceback, warnings
warnings.simplefilter("always")
warnings.warn("at module level", stacklevel=2)
def helper():
    warnings.warn("from a helper", stacklevel=2)
helper()
try:
    below = sys._getframe(1)
except ValueError:
    print("no frame below")
else:
    print("frame below:", below.f_globals is sys.__dict__ or below.f_globals.get("__name__"))
traceback.print_stack(file=sys.stdout)
"""


class TestFramesBelowMain:
    @pytest.mark.parametrize("how", ["script", "module"])
    def test_warnings_are_attributed_as_with_python(self, tmp_path, how):
        """stacklevel=2 at module level: python has no caller there and names sys (runpy under -m)."""
        write(tmp_path / "prog.py", FRAMES_PROGRAM)
        args = ["prog.py"] if how == "script" else ["-m", "prog"]
        plain = python(args, tmp_path)
        tracked = globalhook_run(args, tmp_path, data_file=tmp_path / "d.json")
        assert tracked.returncode == plain.returncode == 0, tracked.stderr
        assert tracked.stderr == plain.stderr
        assert "globalhook" not in tracked.stderr

    def test_few_frames_lie_below_the_program(self, tmp_path):
        write(tmp_path / "prog.py", FRAMES_PROGRAM)
        plain = python(["prog.py"], tmp_path)
        tracked = globalhook_run(["prog.py"], tmp_path, data_file=tmp_path / "d.json")
        assert "no frame below" in plain.stdout
        # Known difference: a frame that passes for sys (docs/explanation/known-differences.md).
        assert "frame below: True" in tracked.stdout
        plain_frames = plain.stdout.count('  File "')
        tracked_frames = tracked.stdout.count('  File "')
        # python -m globalhook: runpy's two, globalhook's __main__, cli.main and the one that calls exec.
        assert tracked_frames - plain_frames <= 5, tracked.stdout
        assert "globalhook/runner.py" not in tracked.stdout


class TestRunOptions:
    """run's options are parsed by hand (no argparse before the program): as argparse would."""

    @pytest.mark.parametrize(
        "options",
        [["--include", "helper"], ["--inc", "helper"], ["--include=helper"], ["--inc=helper", "--rep"]],
    )
    def test_long_options_abbreviations_and_equals(self, tmp_path, options):
        write(tmp_path / "helper.py", "X = 1\ndef get():\n    return X\n")
        write(tmp_path / "prog.py", "import helper\nhelper.get()\n")
        result = globalhook_run([*options, "prog.py"], tmp_path, data_file=tmp_path / "d.json")
        assert result.returncode == 0, result.stderr
        assert count(load_data(tmp_path / "d.json"), "helper", "get", "X", "global") == 1
        assert ("helper" in result.stderr) == ("--rep" in options)  # --report prints the report

    @pytest.mark.parametrize(
        "options, words",
        [(["--bogus"], ["--bogus"]), (["--re"], ["ambiguous", "--report", "--record-command"]),
         (["--report=yes"], ["--report"]), (["--strategy"], ["needs a script"])],
    )
    def test_bad_options_are_one_line(self, tmp_path, options, words):
        write(tmp_path / "prog.py", "print('ran')\n")
        result = globalhook_run([*options, "prog.py"], tmp_path, data_file=tmp_path / "d.json")
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and all(word in result.stderr for word in words), result.stderr

    def test_help_lists_every_option(self, tmp_path):
        result = globalhook_run(["--help"], tmp_path)
        assert result.returncode == 0 and result.stdout.startswith("usage: globalhook run")
        for option in ("--include", "--exclude", "--strategy", "--data-file", "--config", "--report", "--record-command"):
            assert option in result.stdout
