"""A folder or a data file never reaches beyond itself (issue 17, items 1-5).

Each test plays the attacker: a cloned project's config, a data file or a
report folder from elsewhere, a hostile ``pyproject.toml``; and checks that
what it points at is left as it was, with one line naming what is wrong.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from test_processes import make_venv
from conftest import read_data

REPO = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 120
VICTIM_TEXT = "export SECRET=keep-me\n"
PROG = "FACTOR = 2\n\ndef read():\n    return FACTOR\n\nread()\nprint('ran')\n"

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file types and venv layout")


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTHON"))}
    env.update(PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


def run(args: List[str], cwd: Path, python: str = sys.executable, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, *args], cwd=str(cwd), env=clean_env(**env), capture_output=True, text=True, timeout=TIMEOUT
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str, status: int = 2) -> None:
    assert result.returncode == status, result.stdout + result.stderr
    assert result.stderr.startswith("globalhook: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    return tmp_path.resolve()


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the project that must survive everything."""
    path = tmp_path / "home" / ".bashrc"
    path.parent.mkdir()
    path.write_text(VICTIM_TEXT)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "clone" / "repo"
    folder.mkdir(parents=True)
    (folder / "prog.py").write_text(PROG)
    return folder


def data_of(path: Path) -> dict:
    return {"format": "globalhook-data", "version": 1, "runs": [], "not_tracked": [], "lookups": []}


# -- item 1: a project's config names a data file only inside the project ------------------


def outside_values(victim: Path) -> List[str]:
    return [str(victim), "../../home/.bashrc", "~/.bashrc"]


class TestProjectConfigStaysInsideTheProject:
    @pytest.mark.parametrize("which", [0, 1, 2], ids=["absolute", "dot-dot", "home"])
    def test_run_refuses(self, project: Path, victim: Path, which: int) -> None:
        value = outside_values(victim)[which]
        (project / "pyproject.toml").write_text(f"[tool.globalhook]\ndata_file = {value!r}\n")
        result = run(["-m", "globalhook", "run", "prog.py"], project, HOME=str(victim.parent))
        assert_one_line_error(result, "pyproject.toml", "data_file", "outside")
        assert victim.read_text() == VICTIM_TEXT
        assert "ran" not in result.stdout  # refused before the program starts

    def test_through_a_symlinked_folder(self, project: Path, victim: Path) -> None:
        (project / "out").symlink_to(victim.parent)
        (project / "pyproject.toml").write_text('[tool.globalhook]\ndata_file = "out/.bashrc"\n')
        result = run(["-m", "globalhook", "run", "prog.py"], project)
        assert_one_line_error(result, "data_file", "outside")
        assert victim.read_text() == VICTIM_TEXT

    def test_pytest_plugin_refuses(self, project: Path, victim: Path) -> None:
        (project / "pyproject.toml").write_text(f"[tool.globalhook]\ndata_file = {str(victim)!r}\n")
        (project / "test_x.py").write_text("def test_x():\n    pass\n")
        result = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--globalhook", "test_x.py"], project)
        assert result.returncode != 0, result.stdout
        assert "data_file" in result.stderr and "outside" in result.stderr, result.stderr
        assert victim.read_text() == VICTIM_TEXT

    def test_inside_is_fine(self, project: Path) -> None:
        (project / "pyproject.toml").write_text('[tool.globalhook]\ndata_file = "out/gh.json"\n')
        (project / "out").mkdir()
        result = run(["-m", "globalhook", "run", "prog.py"], project)
        assert result.returncode == 0, result.stderr
        assert (project / "out" / "gh.json").exists()

    @pytest.mark.parametrize("how", ["option", "environment"])
    def test_the_users_own_choice_may_point_anywhere(self, project: Path, tmp_path: Path, how: str) -> None:
        (project / "pyproject.toml").write_text('[tool.globalhook]\ndata_file = "/nowhere/x.json"\n')
        target = tmp_path / "mine.json"
        if how == "option":
            result = run(["-m", "globalhook", "run", "--data-file", str(target), "prog.py"], project)
        else:
            result = run(["-m", "globalhook", "run", "prog.py"], project, GLOBALHOOK_DATA_FILE=str(target))
        assert result.returncode == 0, result.stderr
        assert json.loads(target.read_text())["format"] == "globalhook-data"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A venv with globalhook (this checkout) and its start-up hook installed."""
    python = make_venv(tmp_path_factory.mktemp("venv") / "env")
    result = subprocess.run([str(python), "-m", "globalhook", "install"], capture_output=True, text=True, env=clean_env())
    assert result.returncode == 0, result.stderr
    return python


@posix_only
class TestStartUpHookInAHostileFolder:
    def test_enabled_project_with_an_outside_data_file_does_nothing(self, venv: Path, project: Path, victim: Path) -> None:
        (project / "pyproject.toml").write_text(f"[tool.globalhook]\nenabled = true\ndata_file = {str(victim)!r}\n")
        result = run(["prog.py"], project, python=str(venv))
        assert (result.returncode, result.stdout, result.stderr) == (0, "ran\n", "")
        assert victim.read_text() == VICTIM_TEXT
        assert sorted(p.name for p in victim.parent.iterdir()) == [".bashrc"]  # no part files either
        status = run(["-m", "globalhook", "status"], project, python=str(venv))
        assert "outside" in status.stdout, status.stdout


# -- item 2: never replace what is not ours -------------------------------------------------


def special_files(tmp_path: Path) -> Dict[str, Path]:
    found = {}
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    found["fifo"] = fifo
    sock = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    server.close()
    found["socket"] = sock
    (tmp_path / "folder").mkdir()
    found["folder"] = tmp_path / "folder"
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    found["regular file"] = other
    link = tmp_path / "link.json"
    link.symlink_to(other)
    found["symlink"] = link
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nothing-here")
    found["dangling symlink"] = dangling
    return found


@posix_only
class TestNeverReplaceWhatIsNotOurs:
    KINDS = ["fifo", "socket", "folder", "regular file", "symlink", "dangling symlink"]

    @pytest.mark.parametrize("kind", KINDS)
    def test_run_refuses_before_the_program(self, tmp_path: Path, kind: str) -> None:
        (tmp_path / "prog.py").write_text(PROG)
        target = special_files(tmp_path)[kind]
        before = os.lstat(target)
        result = run(["-m", "globalhook", "run", "--data-file", str(target), "prog.py"], tmp_path)
        assert_one_line_error(result, str(target))
        assert "ran" not in result.stdout
        after = os.lstat(target)
        assert (after.st_ino, after.st_mode, after.st_size) == (before.st_ino, before.st_mode, before.st_size)
        assert (tmp_path / "notes.txt").read_text() == "my notes\n"

    def test_character_device(self, tmp_path: Path) -> None:
        from globalhook.data import DataError, save
        from globalhook.session import writable_problem

        assert "character device" in (writable_problem(os.devnull) or "")
        with pytest.raises(DataError, match="character device"):
            save(data_of(tmp_path), os.devnull)
        assert Path(os.devnull).is_char_device()

    @pytest.mark.parametrize("kind", KINDS)
    def test_save_itself_refuses(self, tmp_path: Path, kind: str) -> None:
        """The check at exit, for a file that changed while the program ran."""
        from globalhook.data import DataError, save

        target = special_files(tmp_path)[kind]
        with pytest.raises(DataError) as info:
            save(data_of(tmp_path), str(target))
        assert str(target) in str(info.value) and "\n" not in str(info.value)

    @pytest.mark.parametrize("kind", KINDS)
    def test_combine_refuses(self, tmp_path: Path, kind: str) -> None:
        target = special_files(tmp_path)[kind]
        part = Path(f"{target}.host.123.0badcafe")
        part.write_text(json.dumps(data_of(tmp_path)))
        result = run(["-m", "globalhook", "combine", "--data-file", str(target)], tmp_path)
        assert_one_line_error(result, str(target))
        assert part.exists()  # nothing lost
        assert (tmp_path / "notes.txt").read_text() == "my notes\n"

    @pytest.mark.parametrize("content", ["", json.dumps({"format": "globalhook-data", "version": 1, "lookups": []}, indent=2)])
    def test_empty_files_and_data_files_are_replaced(self, tmp_path: Path, content: str) -> None:
        (tmp_path / "prog.py").write_text(PROG)
        (tmp_path / "gh.json").write_text(content)
        result = run(["-m", "globalhook", "run", "--data-file", "gh.json", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert read_data((tmp_path / "gh.json"))["lookups"]


# -- item 2: html -d writes only into its own folder, never through a symlink -----------------


def recorded(folder: Path) -> Path:
    (folder / "prog.py").write_text(PROG)
    result = run(["-m", "globalhook", "run", "prog.py"], folder)
    assert result.returncode == 0, result.stderr
    return folder / ".globalhook.json"


@posix_only
class TestHtmlFolder:
    def test_symlinked_page_is_replaced_not_followed(self, tmp_path: Path, victim: Path) -> None:
        recorded(tmp_path)
        report = tmp_path / "globalhook-html"
        report.mkdir()
        (report / ".globalhook-html").write_text("ours\n")
        (report / "index.html").symlink_to(victim)
        (report / "style.css").symlink_to(victim)
        result = run(["-m", "globalhook", "html"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert victim.read_text() == VICTIM_TEXT
        assert not (report / "index.html").is_symlink()
        assert "<html" in (report / "index.html").read_text()

    def test_hard_link_is_not_written_through(self, tmp_path: Path, victim: Path) -> None:
        recorded(tmp_path)
        report = tmp_path / "globalhook-html"
        report.mkdir()
        (report / ".globalhook-html").write_text("ours\n")
        os.link(victim, report / "index.html")
        result = run(["-m", "globalhook", "html"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert victim.read_text() == VICTIM_TEXT

    def test_symlinked_subfolder(self, tmp_path: Path, victim: Path) -> None:
        recorded(tmp_path)
        elsewhere = victim.parent / "modules"
        elsewhere.mkdir()
        (elsewhere / "keep.txt").write_text("keep\n")
        report = tmp_path / "globalhook-html"
        report.mkdir()
        (report / ".globalhook-html").write_text("ours\n")
        (report / "modules").symlink_to(elsewhere)
        result = run(["-m", "globalhook", "html"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]
        assert (report / "modules").is_dir() and not (report / "modules").is_symlink()

    def test_foreign_folder_refused(self, tmp_path: Path) -> None:
        recorded(tmp_path)
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "index.html").write_text("mine\n")
        result = run(["-m", "globalhook", "html", "-d", "docs"], tmp_path)
        assert_one_line_error(result, "docs", "not empty")
        assert (tmp_path / "docs" / "index.html").read_text() == "mine\n"


# -- item 5: the start-up hook stays cheap and silent whatever the folder holds ---------------

#: The program reports whether anything of globalhook was imported into it.
PROBE = "import sys\nprint(sorted(m for m in sys.modules if m.startswith('globalhook')))\n"
WORDS = "# globalhook: enabled = true\n"


@posix_only
class TestStartUpCostIsBounded:
    def test_huge_pyproject_is_not_read(self, venv: Path, tmp_path: Path) -> None:
        text = WORDS + "[tool.globalhook]\nenabled = true\n" + "# padding padding padding padding\n" * 520_000
        (tmp_path / "pyproject.toml").write_text(text)  # about 17 MB
        (tmp_path / "probe.py").write_text(PROBE)
        result = run(["probe.py"], tmp_path, python=str(venv))
        assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")
        status = run(["-m", "globalhook", "status"], tmp_path, python=str(venv))
        assert "larger than 256 KiB" in status.stdout, status.stdout

    @pytest.mark.parametrize("nested", ["[", "{ a = "], ids=["arrays", "inline tables"])
    def test_deeply_nested_pyproject_is_silent(self, venv: Path, tmp_path: Path, nested: str) -> None:
        closing = "]" if nested == "[" else "}"
        body = "x = " + nested * 5000 + "1" + closing * 5000
        (tmp_path / "pyproject.toml").write_text(WORDS + "[tool.globalhook]\nenabled = true\n" + body + "\n")
        (tmp_path / "probe.py").write_text("print('ran')\n")
        result = run(["probe.py"], tmp_path, python=str(venv))
        assert (result.returncode, result.stdout, result.stderr) == (0, "ran\n", "")
        assert not any(p.name.startswith(".globalhook.json") for p in tmp_path.iterdir())
        status = run(["-m", "globalhook", "status"], tmp_path, python=str(venv))
        assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
        assert "not readable" in status.stdout, status.stdout

    def test_status_says_when_a_folder_enables_tracking(self, venv: Path, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text("[tool.globalhook]\nenabled = true\n")
        status = run(["-m", "globalhook", "status"], tmp_path, python=str(venv))
        assert "enabled = true: every Python process started here is tracked" in status.stdout, status.stdout

    def test_the_inlined_check_agrees_with_may_enable(self) -> None:
        from globalhook.sitehook import MAY_ENABLE
        from globalhook.startup import MAX_CONFIG_BYTES, may_enable

        assert f"{MAX_CONFIG_BYTES.bit_length() - 1}" in MAY_ENABLE
        big = b"[tool.globalhook]\nenabled = true\n" + b"#" * MAX_CONFIG_BYTES
        assert may_enable(big[:MAX_CONFIG_BYTES]) and not may_enable(big)


# -- item 3: globalhook never imports a module from the program's own folders ---------------

#: Project files named like modules the save needs: each leaves a marker if it ever runs.
#: (Not linecache: python -c itself imports it from the current folder on 3.13.)
SHADOWS = ("json", "re", "operator", "enum", "functools", "collections", "stat", "tokenize", "tomllib", "tomli")


def shadowing_project(folder: Path) -> Path:
    for name in SHADOWS:
        (folder / f"{name}.py").write_text(
            f"open({str(folder / f'MARKER-{name}')!r}, 'w').close()\nraise ImportError('the project\\'s {name}.py ran')\n"
        )
    return folder


def markers(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("MARKER-"))


def saved(folder: Path) -> List[dict]:
    files = [p for p in folder.iterdir() if p.name.startswith(".globalhook.json")]
    return [read_data(p) for p in files]


@posix_only
class TestShadowedImports:
    def test_start_up_hook_with_python_c(self, venv: Path, tmp_path: Path) -> None:
        shadowing_project(tmp_path)
        (tmp_path / "pyproject.toml").write_text("[tool.globalhook]\nenabled = true\n")
        result = run(["-c", "FACTOR = 2\nprint(FACTOR)"], tmp_path, python=str(venv))
        assert (result.returncode, result.stdout, result.stderr) == (0, "2\n", "")
        assert markers(tmp_path) == []
        (data,) = saved(tmp_path)
        assert any(e["name"] == "FACTOR" for e in data["lookups"])

    def test_run_with_the_scripts_folder_first(self, tmp_path: Path) -> None:
        shadowing_project(tmp_path)
        (tmp_path / "prog.py").write_text(PROG)
        # Started from another folder: python -m puts the current folder first for globalhook itself.
        result = run(["-m", "globalhook", "run", "--report", str(tmp_path / "prog.py")], tmp_path.parent)
        assert result.returncode == 0, result.stderr
        assert markers(tmp_path) == []

    def test_the_programs_own_json_stays_its_own(self, venv: Path, tmp_path: Path) -> None:
        """The program asked for its json.py: it gets it, and the save still writes real JSON."""
        (tmp_path / "json.py").write_text("def dumps(*args, **kwargs):\n    return 'not json'\n")
        (tmp_path / "pyproject.toml").write_text("[tool.globalhook]\nenabled = true\n")
        probe = (
            "import atexit, json, sys\n"
            "def after_the_save():\n"
            "    print(sys.modules['json'] is json, json.dumps(1), sorted(n for n in sys.modules if n.startswith('json.')))\n"
            "atexit.register(after_the_save)\n"
            "import globalhook.session\n"
            "globalhook.session.current_session().save()  # as at exit, before the program's handler\n"
        )
        result = run(["-c", probe], tmp_path, python=str(venv))
        assert (result.returncode, result.stdout, result.stderr) == (0, "True not json []\n", "")
        (data,) = saved(tmp_path)
        assert data["format"] == "globalhook-data"


# -- item 4: html shows the source of files under the source roots only -----------------------

SECRET = "TOKEN = 'x'\n\ndef settings():\n    return TOKEN + 'sk-live-0123456789'\n"


def data_naming(path: Path) -> dict:
    lookup = {"module": "secret_settings", "function": "settings", "file": str(path), "line": 3,
              "name": "TOKEN", "kind": "global", "count": 1}
    return {"format": "globalhook-data", "version": 1, "runs": [], "not_tracked": [], "lookups": [lookup]}


def html_text(folder: Path) -> str:
    """The pages and the data files they draw from (a module's source lines are in data/m/N.js)."""
    return "\n".join(p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.suffix in (".html", ".js"))


class TestHtmlSourceRoots:
    @pytest.fixture
    def secret(self, tmp_path: Path) -> Path:
        path = tmp_path / "some" / "where" / "secret_settings.py"
        path.parent.mkdir(parents=True)
        path.write_text(SECRET)
        return path

    def test_a_file_outside_the_roots_is_not_embedded(self, tmp_path: Path, secret: Path) -> None:
        work = tmp_path / "work"
        work.mkdir()
        (work / "crafted.json").write_text(json.dumps(data_naming(secret)))
        result = run(["-m", "globalhook", "html", "--data-file", "crafted.json"], work)
        assert result.returncode == 0, result.stderr
        pages = html_text(work / "globalhook-html")
        assert "sk-live" not in pages
        assert "source not shown" in pages and "outside the source roots" in pages

    def test_a_symlink_out_of_the_root_is_outside(self, tmp_path: Path, secret: Path) -> None:
        work = tmp_path / "work"
        work.mkdir()
        (work / "innocent.py").symlink_to(secret)
        (work / "crafted.json").write_text(json.dumps(data_naming(work / "innocent.py")))
        result = run(["-m", "globalhook", "html", "--data-file", "crafted.json"], work)
        assert result.returncode == 0, result.stderr
        assert "sk-live" not in html_text(work / "globalhook-html")

    def test_source_root_option_adds_a_root(self, tmp_path: Path, secret: Path) -> None:
        work = tmp_path / "work"
        work.mkdir()
        (work / "crafted.json").write_text(json.dumps(data_naming(secret)))
        result = run(["-m", "globalhook", "html", "--data-file", "crafted.json", "--source-root", str(secret.parent)], work)
        assert result.returncode == 0, result.stderr
        assert "sk-live" in html_text(work / "globalhook-html")

    def test_map_path_reads_a_recorded_folder_from_a_local_one(self, tmp_path: Path, secret: Path) -> None:
        work = tmp_path / "work"
        work.mkdir()
        (work / "crafted.json").write_text(json.dumps(data_naming(Path("/build/src/secret_settings.py"))))
        result = run(["-m", "globalhook", "html", "--data-file", "crafted.json", "--map-path", f"/build/src={secret.parent}"], work)
        assert result.returncode == 0, result.stderr
        assert "sk-live" in html_text(work / "globalhook-html")

    @pytest.mark.parametrize("option", [["--map-path", "no-equals-sign"], ["--source-root", "no/such/folder"]])
    def test_bad_options(self, tmp_path: Path, option: List[str]) -> None:
        result = run(["-m", "globalhook", "html", *option], tmp_path)
        assert_one_line_error(result, option[0])

    @posix_only
    def test_a_fifo_named_as_a_source_does_not_block(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / "pipe.py")
        (tmp_path / "crafted.json").write_text(json.dumps(data_naming(tmp_path / "pipe.py")))
        result = run(["-m", "globalhook", "html", "--data-file", "crafted.json"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert "not a regular file" in html_text(tmp_path / "globalhook-html")


class TestTomlNesting:
    def test_reader_stops_at_its_depth_without_recursing(self) -> None:
        from globalhook import toml

        deep = "x = " + "[" * 5000 + "]" * 5000 + "\n"
        with pytest.raises(toml.TooDeep):
            toml.loads(deep)
        limit = toml.MAX_DEPTH
        assert toml.loads("x = " + "[" * limit + "]" * limit + "\n")["x"] is not None

    def test_commands_still_read_a_deep_but_valid_file(self, tmp_path: Path) -> None:
        from globalhook.config import load_config

        depth = 100  # beyond our reader, within tomllib's
        (tmp_path / "pyproject.toml").write_text(
            "[tool.other]\nx = " + "[" * depth + "]" * depth + "\n[tool.globalhook]\nreport = true\n"
        )
        assert load_config(environ={}, cwd=str(tmp_path)).report is True
