"""The start-up hook and globalhook's own commands, in a venv with the hook installed.

- ``globalhook run`` works where tracking is already switched on for every
  process (``enabled = true``, ``GLOBALHOOK_PROCESS_START``, a run nested in
  another): one hook, one data file, the program's lookups counted once.
- globalhook's own commands never track themselves (no part files).
- A process the config does not activate prints nothing, whatever is wrong
  with the config.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from test_processes import clean_env, make_venv, parts_in
from conftest import read_data

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX venv layout")

WORK = "FACTOR = 2\n\ndef read():\n    return FACTOR\n"
PROG = "import work\nfor _ in range(3):\n    work.read()\nprint('ran')\n"
ENABLED = '[tool.globalhook]\nenabled = true\ninclude = ["work"]\n'


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    python = make_venv(tmp_path_factory.mktemp("venv") / "env")
    result = subprocess.run(
        [str(python), "-m", "globalhook", "install"], capture_output=True, text=True, env=clean_env()
    )
    assert result.returncode == 0, result.stderr
    # What pip writes for the console script.
    script = python.parent / "globalhook"
    script.write_text(f"#!{python}\nimport sys\nfrom globalhook.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "work.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(PROG)
    return tmp_path


def reads(data: dict) -> int:
    return sum(e["count"] for e in data["lookups"] if e["module"] == "work" and e["name"] == "FACTOR" and e["kind"] == "global")


def run(command, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=str(cwd), capture_output=True, text=True, env=clean_env(**env), timeout=120)


@pytest.mark.parametrize("launcher", ["python -m globalhook", "console script"])
def test_run_where_pyproject_enables_every_process(venv, project, launcher):
    (project / "pyproject.toml").write_text(ENABLED)
    command = [str(venv), "-m", "globalhook"] if launcher.startswith("python") else [str(venv.parent / "globalhook")]
    result = run([*command, "run", "prog.py"], project)
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
    assert "Traceback" not in result.stderr
    data = read_data((project / ".globalhook.json"))
    assert reads(data) == 3  # once, by one hook
    assert len(data["runs"]) == 1 and data["runs"][0]["command"] == ["prog.py"]
    assert parts_in(project) == []


@pytest.mark.parametrize("value", ["toml", "serialized"])
def test_run_where_process_start_is_set(venv, project, value):
    config = project / "tracking.toml"
    config.write_text('[tool.globalhook]\ninclude = ["work"]\n')
    if value == "toml":
        start = str(config)
    else:
        start = json.dumps({"include": ["work"], "exclude": [], "strategy": "native",
                            "data_file": str(project / "other.json"), "report": False, "run_id": "feed"})
    result = run([str(venv), "-m", "globalhook", "run", "--include", "work", "prog.py"], project,
                 GLOBALHOOK_PROCESS_START=start)
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
    assert reads(read_data((project / ".globalhook.json"))) == 3
    assert parts_in(project) == [] and not (project / "other.json").exists()


def test_run_nested_in_a_run_joins_it(venv, project):
    (project / "outer.py").write_text(
        "import subprocess, sys, work\n"
        "work.read()\n"
        "subprocess.run([sys.executable, '-m', 'globalhook', 'run', 'prog.py'], check=True)\n"
    )
    result = run([str(venv), "-m", "globalhook", "run", "--include", "work", "outer.py"], project)
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
    data = read_data((project / ".globalhook.json"))
    assert reads(data) == 1 + 3  # outer's read and the nested run's three, each once
    assert len({run["run_id"] for run in data["runs"]}) == 1 and len(data["runs"]) == 2
    assert parts_in(project) == []


def test_nested_run_with_its_own_data_file_is_its_own_run(venv, project):
    (project / "outer.py").write_text(
        "import subprocess, sys, work\n"
        "work.read()\n"
        "subprocess.run([sys.executable, '-m', 'globalhook', 'run', '--include', 'work',"
        " '--data-file', 'inner.json', 'prog.py'], check=True)\n"
    )
    result = run([str(venv), "-m", "globalhook", "run", "--include", "work", "outer.py"], project)
    assert result.returncode == 0, result.stderr
    assert reads(read_data((project / ".globalhook.json"))) == 1
    assert reads(read_data((project / "inner.json"))) == 3
    assert parts_in(project) == []


@pytest.mark.parametrize(
    "command",
    [["report"], ["combine"], ["status"], ["--version"], ["report", "--format", "json"]],
)
def test_own_commands_leave_no_part_files(venv, project, command):
    run([str(venv), "-m", "globalhook", "run", "prog.py"], project)
    (project / "pyproject.toml").write_text(ENABLED)
    for launcher in ([str(venv), "-m", "globalhook"], [str(venv.parent / "globalhook")]):
        result = run([*launcher, *command], project)
        assert "Traceback" not in result.stderr
        assert parts_in(project) == [], (launcher, result.stderr)


def test_own_command_the_start_up_hook_cannot_recognise_is_untracked_too(venv, project):
    """Started some other way (here through -c), cli.main() abandons the session the hook started."""
    run([str(venv), "-m", "globalhook", "run", "prog.py"], project)
    (project / "pyproject.toml").write_text(ENABLED)
    launcher = "import sys; from globalhook.cli import main; sys.exit(main())"
    result = run([str(venv), "-c", launcher, "report"], project)
    assert result.returncode == 0, result.stderr
    assert parts_in(project) == []
    result = run([str(venv), "-c", launcher, "run", "prog.py"], project)
    assert result.returncode == 0, result.stderr
    assert reads(read_data((project / ".globalhook.json"))) == 3
    assert parts_in(project) == []


BAD_CONFIGS = {
    "bad TOML": "[tool.globalhook\ninclude = [\n",
    "bad type": '[tool.globalhook]\ninclude = "work"\n',
    "bad enabled": '[tool.globalhook]\nenabled = "yes"\n',
    "enabled false, bad key": '[tool.globalhook]\nenabled = false\nstrategy = 5\n',
    "other tool enabled": '[tool.other]\nenabled = true\n[tool.globalhook]\ninclude = ["work"]\nstrategy = 5\n',
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_a_process_that_is_not_activated_prints_nothing(venv, project, name):
    (project / "pyproject.toml").write_text(BAD_CONFIGS[name])
    result = run([str(venv), "prog.py"], project, GLOBALHOOK_INCLUDE="not a pattern!")
    assert (result.returncode, result.stdout, result.stderr) == (0, "ran\n", "")
    assert parts_in(project) == []


def test_an_activated_process_reports_a_bad_setting(venv, project):
    (project / "pyproject.toml").write_text(ENABLED + "strategy = 5\n")
    result = run([str(venv), "prog.py"], project)
    assert result.returncode == 0 and result.stdout == "ran\n"
    assert result.stderr.count("\n") == 1
    assert "strategy" in result.stderr and "not tracked" in result.stderr


def test_process_start_naming_a_missing_file_names_the_variable(venv, project):
    result = run([str(venv), "prog.py"], project, GLOBALHOOK_PROCESS_START="missing.toml")
    assert result.returncode == 0 and result.stdout == "ran\n"
    assert result.stderr.startswith("globalhook: error: GLOBALHOOK_PROCESS_START: config file not found")
    assert "--config" not in result.stderr


@pytest.mark.parametrize(
    "field, value, words",
    [("root", 5, ["root", "int"]), ("report", "no", ["report", "true or false"]), ("run_id", [], ["run_id"])],
)
def test_serialized_config_with_a_bad_field_is_one_line(venv, project, field, value, words):
    start = {"include": ["work"], "exclude": [], "strategy": "native", "data_file": "d.json", "report": False}
    start[field] = value
    result = run([str(venv), "prog.py"], project, GLOBALHOOK_PROCESS_START=json.dumps(start))
    assert result.returncode == 0 and result.stdout == "ran\n"
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert all(word in result.stderr for word in words), result.stderr
    assert parts_in(project) == []


def test_serialized_data_file_with_a_tilde_is_expanded(venv, project, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    start = {"include": ["work"], "exclude": [], "strategy": "native", "data_file": "~/x.json", "report": False}
    result = run([str(venv), "prog.py"], project, GLOBALHOOK_PROCESS_START=json.dumps(start), HOME=str(home))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in home.iterdir() if p.name.startswith("x.json.")]
    assert not (project / "~").exists()


def test_a_child_ending_by_keyboard_interrupt_dies_by_sigint(venv, project):
    """Saving at exit must not turn the interpreter's death by SIGINT into status 1."""
    (project / "ki.py").write_text("import work\nwork.read()\nraise KeyboardInterrupt\n")
    (project / "pyproject.toml").write_text(ENABLED)
    result = run([str(venv), "ki.py"], project)
    assert result.returncode == -2, result.stderr
    assert len(parts_in(project)) == 1


@pytest.mark.parametrize(
    "how, expected",
    [
        ({"option": "full"}, (["prog.py", "--token", "s3cret"], ["child.py", "s3cret"])),
        ({"option": "redacted"}, (["prog.py", "<redacted>", "<redacted>"], ["child.py", "<redacted>"])),
        ({"env": "none"}, (None, None)),
        ({"toml": "redacted"}, (["prog.py", "<redacted>", "<redacted>"], ["child.py", "<redacted>"])),
    ],
)
def test_record_command(venv, project, how, expected):
    """runs[].command keeps the whole argv unless record_command says otherwise, in children too."""
    (project / "child.py").write_text("import work\nwork.read()\n")
    (project / "prog.py").write_text(
        "import subprocess, sys, work\nwork.read()\n"
        "subprocess.run([sys.executable, 'child.py', sys.argv[2]], check=True)\n"
    )
    options, env = [], {}
    if "option" in how:
        options = ["--record-command", how["option"]]
    if "env" in how:
        env = {"GLOBALHOOK_RECORD_COMMAND": how["env"]}
    if "toml" in how:
        (project / "pyproject.toml").write_text(f'[tool.globalhook]\nrecord_command = "{how["toml"]}"\n')
    result = run([str(venv), "-m", "globalhook", "run", "--include", "work", *options, "prog.py", "--token", "s3cret"],
                 project, **env)
    assert result.returncode == 0, result.stderr
    text = (project / ".globalhook.json").read_text()
    runs = json.loads(text)["runs"]
    assert len(runs) == 2
    assert {tuple(r["command"]) if "command" in r else None for r in runs} == {
        tuple(c) if c is not None else None for c in expected
    }
    if how.get("option") != "full":
        assert "s3cret" not in text


def test_record_command_bad_value_is_one_line(venv, project):
    result = run([str(venv), "-m", "globalhook", "run", "--record-command", "some", "prog.py"], project)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "--record-command" in result.stderr and "redacted" in result.stderr


def test_a_run_after_an_abandoned_session_forks_cleanly(venv, project):
    """The session the start-up hook began is abandoned; fork() must hold SIGTERM once, not twice."""
    (project / "pyproject.toml").write_text(ENABLED)
    (project / "forks.py").write_text(
        "import os, signal\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "print(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))\n"
    )
    launcher = "import sys; from globalhook.cli import main; sys.exit(main())"
    result = run([str(venv), "-c", launcher, "run", "forks.py"], project)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr
