"""Every process tracked, nothing lost: end to end in a fresh virtual environment.

The venv gets globalhook through a ``.pth`` line naming this checkout (what an
editable install does) and ``globalhook install``'s start-up hook; then real
programs start subprocesses, fork, and run multiprocessing pools with every
start method, and the data file must hold each process's lookups exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import read_data

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX process model")

WORK = """\
FACTOR = 2

def in_parent():
    return FACTOR

def in_subprocess():
    return FACTOR

def in_fork():
    return FACTOR

def in_worker_fork(x):
    return x * FACTOR

def in_worker_spawn(x):
    return x * FACTOR

def in_worker_forkserver(x):
    return x * FACTOR

def in_pyproject_process():
    return FACTOR
"""

CHILD = """\
import work
for _ in range(3):
    work.in_subprocess()
"""

PROGRAM = """\
import multiprocessing, os, subprocess, sys
import work

def main():
    work.in_parent()
    subprocess.run([sys.executable, "child.py"], check=True)
    pid = os.fork()
    if pid == 0:
        for _ in range(4):
            work.in_fork()
        sys.exit(0)
    os.waitpid(pid, 0)
    for method in ("fork", "spawn", "forkserver"):
        ctx = multiprocessing.get_context(method)
        func = getattr(work, "in_worker_" + method)
        if method == "spawn":
            with ctx.Pool(2) as pool:          # __exit__ terminates the workers
                print(method, sum(pool.map(func, range(5))))
        else:
            pool = ctx.Pool(2)
            print(method, sum(pool.map(func, range(5))))
            pool.close()
            pool.join()

if __name__ == "__main__":
    main()
"""


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTHON"))}
    env.update(extra)
    return env


def make_venv(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    lines = [str(REPO)]
    if sys.version_info < (3, 11):
        import tomli  # the dependency globalhook declares for Python < 3.11

        lines.append(str(Path(tomli.__file__).resolve().parent.parent))
    Path(site, "globalhook-dev.pth").write_text("\n".join(lines) + "\n")
    return python


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    python = make_venv(tmp_path_factory.mktemp("venv") / "env")
    result = subprocess.run(
        [str(python), "-m", "globalhook", "install"], capture_output=True, text=True, env=clean_env()
    )
    assert result.returncode == 0, result.stderr
    assert "Installed" in result.stdout
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "work.py").write_text(WORK)
    (tmp_path / "child.py").write_text(CHILD)
    (tmp_path / "prog.py").write_text(PROGRAM)
    return tmp_path


def counts(data: dict, module: str = "work", name: str = "FACTOR") -> dict:
    result: dict = {}
    for entry in data["lookups"]:
        if entry["module"] == module and entry["name"] == name and entry["kind"] == "global":
            result[entry["function"]] = result.get(entry["function"], 0) + entry["count"]
    return result


def parts_in(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".globalhook.json."))


def test_every_process_of_a_run_lands_in_the_data_file(venv, project):
    result = subprocess.run(
        [str(venv), "-m", "globalhook", "run", "--include", "work", "prog.py"],
        cwd=project, capture_output=True, text=True, env=clean_env(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["fork", "20", "spawn", "20", "forkserver", "20"]
    data = read_data((project / ".globalhook.json"))
    assert counts(data) == {
        "in_parent": 1,
        "in_subprocess": 3,
        "in_fork": 4,
        "in_worker_fork": 5,
        "in_worker_spawn": 5,
        "in_worker_forkserver": 5,
    }
    # The subprocess's own __main__ (child.py) was tracked from its first line.
    child_main = [e for e in data["lookups"] if e["module"] == "__main__" and e["file"].endswith("child.py")]
    assert {(e["name"], e["kind"], e["count"]) for e in child_main} >= {("work", "global", 3), ("range", "builtin", 1)}
    assert parts_in(project) == []  # folded in, exactly once
    assert len({run["pid"] for run in data["runs"]}) == len(data["runs"]) >= 6
    assert all(not run.get("notes") for run in data["runs"])


def test_combine_merges_processes_started_from_the_install_alone(venv, project):
    config = project / "tracking.toml"
    config.write_text('[tool.globalhook]\ninclude = ["work"]\n')
    env = clean_env(GLOBALHOOK_PROCESS_START=str(config))
    for _ in range(2):
        subprocess.run([str(venv), "child.py"], cwd=project, env=env, check=True, timeout=60)
    parts = parts_in(project)
    assert len(parts) == 2
    (project / parts[0]).with_name(".globalhook.json.host.1.deadbeef").write_text("{not json")
    result = subprocess.run(
        [str(venv), "-m", "globalhook", "combine"], cwd=project, env=clean_env(),
        capture_output=True, text=True,
    )
    assert result.returncode == 1  # one part was unreadable
    assert ".globalhook.json.host.1.deadbeef" in result.stderr
    assert "Combined 2 data files" in result.stdout
    assert parts_in(project) == [".globalhook.json.host.1.deadbeef"]  # kept for inspection
    data = read_data((project / ".globalhook.json"))
    assert counts(data) == {"in_subprocess": 6}
    # Combining again adds nothing twice.
    again = subprocess.run(
        [str(venv), "-m", "globalhook", "combine", "--ignore-errors"], cwd=project, env=clean_env(),
        capture_output=True, text=True,
    )
    assert again.returncode == 0
    assert counts(read_data((project / ".globalhook.json"))) == {"in_subprocess": 6}


def test_pyproject_enabled_activates_every_process(venv, project):
    (project / "pyproject.toml").write_text('[tool.globalhook]\nenabled = true\ninclude = ["work"]\n')
    (project / "one.py").write_text("import work\nwork.in_pyproject_process()\n")
    subprocess.run([str(venv), "one.py"], cwd=project, env=clean_env(), check=True, timeout=60)
    assert len(parts_in(project)) == 1
    (project / "pyproject.toml").write_text('[tool.globalhook]\ninclude = ["work"]\n')
    subprocess.run([str(venv), "one.py"], cwd=project, env=clean_env(), check=True, timeout=60)
    assert len(parts_in(project)) == 1  # not enabled: nothing tracked, nothing written


def test_sigterm_still_writes(venv, project):
    (project / "term.py").write_text(
        "import os, signal, work\nwork.in_parent()\nos.kill(os.getpid(), signal.SIGTERM)\n"
    )
    result = subprocess.run(
        [str(venv), "-m", "globalhook", "run", "--include", "work", "term.py"],
        cwd=project, capture_output=True, text=True, env=clean_env(), timeout=60,
    )
    assert result.returncode == -signal.SIGTERM
    assert counts(read_data((project / ".globalhook.json"))) == {"in_parent": 1}


def test_without_the_install_children_are_reported_untracked(tmp_path, project):
    python = make_venv(tmp_path / "plain")
    result = subprocess.run(
        [str(python), "-m", "globalhook", "run", "--include", "work", "prog.py"],
        cwd=project, capture_output=True, text=True, env=clean_env(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = read_data((project / ".globalhook.json"))
    found = counts(data)
    # fork children inherit the hook; new interpreters cannot have it.
    assert found["in_fork"] == 4 and found["in_worker_fork"] == 5
    assert "in_subprocess" not in found and "in_worker_spawn" not in found
    notes = [note for run in data["runs"] for note in run.get("notes", [])]
    assert any("were not tracked" in note and "globalhook install" in note for note in notes)
    report = subprocess.run(
        [str(python), "-m", "globalhook", "report"], cwd=project, capture_output=True, text=True, env=clean_env()
    )
    assert "Notes:" in report.stdout and "were not tracked" in report.stdout


def test_uninstall_round_trip_leaves_site_packages_as_it_was(tmp_path):
    python = make_venv(tmp_path / "env")
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())
    (site / "sitecustomize.py").write_text("import os\nos.environ['SITECUSTOMIZE_RAN'] = '1'\n")

    def snapshot() -> dict:
        return {
            str(p.relative_to(site)): p.read_bytes()
            for p in site.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    before = snapshot()
    for command in (["install"], ["install"], ["uninstall"], ["uninstall"]):
        result = subprocess.run([str(python), "-m", "globalhook", *command], capture_output=True, text=True, env=clean_env())
        assert result.returncode == 0, result.stderr
    assert snapshot() == before
    ran = subprocess.run(
        [str(python), "-c", "import os; print(os.environ.get('SITECUSTOMIZE_RAN'))"],
        capture_output=True, text=True, env=clean_env(),
    )
    assert ran.stdout.strip() == "1"


def test_activation_is_idempotent(tmp_path):
    config = tmp_path / "t.toml"
    config.write_text('[tool.globalhook]\ninclude = ["nothing_here"]\n')
    code = (
        "import sys\n"
        "from globalhook import startup\n"
        "from globalhook.finder import TrackingFinder\n"
        "startup.process_start(); startup.process_start(); startup.activate(sys.argv[1])\n"
        "print(sum(isinstance(f, TrackingFinder) for f in sys.meta_path))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(config)], cwd=tmp_path, capture_output=True, text=True,
        env=clean_env(PYTHONPATH=str(REPO), GLOBALHOOK_PROCESS_START=str(config)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert len(parts_in(tmp_path)) == 1  # and one data file from the one session


def test_bad_activation_is_one_line_and_does_not_break_the_program(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from globalhook import startup; startup.process_start(); print('ran')"],
        cwd=tmp_path, capture_output=True, text=True,
        env=clean_env(PYTHONPATH=str(REPO), GLOBALHOOK_PROCESS_START=str(tmp_path / "missing.toml")),
    )
    assert result.returncode == 0 and result.stdout == "ran\n"
    assert result.stderr.count("\n") == 1 and "missing.toml" in result.stderr
    assert "Traceback" not in result.stderr
