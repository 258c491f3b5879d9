"""The start-up hook's .pth file: install, uninstall, status, and what the line does.

Everything happens in tmp_path; the real site-packages and home are never
touched.  The line is run three ways: compiled and inspected here, executed
by the real ``site.addsitedir`` in a ``python -I -S`` subprocess (the same
code path as start-up, without a venv), and end to end in throwaway virtual
environments made with ``python -m venv --without-pip``.

To see the line *import* globalhook without depending on the real
``globalhook/startup.py``, those runs put a fake ``globalhook`` package first
on the path whose ``startup.process_start()`` prints a marker.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from globalhook import sitehook
from globalhook.sitehook import PTH_LINE, PTH_NAME, SiteHookError

REPO_ROOT = Path(__file__).resolve().parent.parent
MARKER = "FAKE-PROCESS-START-RAN"
SITECUSTOMIZE_MARKER = "SITECUSTOMIZE-RAN"


# -- helpers -------------------------------------------------------------------


def snapshot(folder: Path) -> Dict[str, Optional[bytes]]:
    """Every file (with its bytes) and folder (None) under ``folder``, less ``__pycache__``."""
    result: Dict[str, Optional[bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in dirnames:
            result[os.path.relpath(os.path.join(dirpath, name), folder) + "/"] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, folder)] = f.read()
    return result


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment less anything that would change what the child imports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GLOBALHOOK_"))}
    env.update(extra)
    return env


def fake_globalhook(root: Path, startup: Optional[str] = None, init: str = "") -> Path:
    """A stand-in ``globalhook`` package under ``root``; ``startup=None`` leaves startup.py out."""
    package = root / "globalhook"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(init))
    if startup is not None:
        (package / "startup.py").write_text(textwrap.dedent(startup))
    return root


PRINTING_STARTUP = f"""
    def process_start():
        print({MARKER!r})
"""


def run(args: List[str], cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(autouse=True)
def before_pep_829(monkeypatch) -> None:
    """These tests are about the .pth line, which is all that Pythons before 3.15 need
    (tests/test_sitehook_pep829.py covers the .start file of 3.15+); on 3.15-3.17 the
    line still runs without a .start file beside it."""
    monkeypatch.setattr(sitehook, "_VERSION", (3, 14))


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    return folder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A current folder with no pyproject.toml in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# -- the line itself -----------------------------------------------------------


class TestPthLine:
    def test_is_one_executable_import_line(self) -> None:
        assert PTH_LINE.startswith("import ")  # site.py executes only these
        assert "\n" not in PTH_LINE and "\r" not in PTH_LINE
        assert PTH_LINE.isascii()
        compile(PTH_LINE, PTH_NAME, "exec")

    @pytest.mark.parametrize(
        "content",
        [
            b"", b"[project]\nname = 'x'\n", b"[tool.globalhook]\ninclude = ['x']\n",
            b"[tool.globalhook]\nenabled = false\nx = true\n", b"[tool.globalhook]\nenabled=true\n",
            b'[tool.globalhook]\n"enabled" = false # true\n', b"[tool.other]\nenabled = true\n[tool.globalhook]\n",
            b"[tool]\nglobalhook.enabled = true\n", b'x = "\\u0067lobalhook"\nenabled = true\n',
            b"globalhook = {enabled = true}\n", b"enabled.x = 1\nglobalhook = true\n",
        ],
    )
    def test_the_line_decides_as_may_enable_does(self, tmp_path: Path, monkeypatch, content: bytes) -> None:
        from globalhook.sitehook import MAY_ENABLE
        from globalhook.startup import may_enable

        (tmp_path / "pyproject.toml").write_bytes(content)
        monkeypatch.chdir(tmp_path)
        assert eval(MAY_ENABLE) == may_enable(content)
        from globalhook.config import parse_toml

        tool = parse_toml("pyproject.toml", content).get("tool", {})
        if isinstance(tool.get("globalhook"), dict) and tool["globalhook"].get("enabled") is True:
            assert may_enable(content), "enables tracking: the bytes must never say otherwise"

    def test_name_sorts_after_editable_installs(self) -> None:
        names = [
            PTH_NAME,
            "__editable__.globalhook-0.1.0.pth",
            "__editable___globalhook_0_1_0_finder.pth",
            "distutils-precedence.pth",
            "easy-install.pth",
        ]
        assert sorted(names)[-1] == PTH_NAME


@pytest.mark.skipif(sys.version_info >= (3, 18), reason="site.py ignores .pth import lines from 3.18 (PEP 829)")
class TestPthLineUnderSite:
    """The installed line, run by the real ``site.addsitedir`` in a ``-I -S`` child.

    ``-S`` keeps the child's own site-packages (and any real globalhook) out;
    ``-I`` keeps the current folder off ``sys.path``.  A ``zz-after.pth``
    that sorts after ours shows that later .pth files are still processed.
    """

    @pytest.fixture
    def after_dir(self, tmp_path: Path, site_dir: Path) -> Path:
        folder = tmp_path / "after"
        folder.mkdir()
        (site_dir / "zz-after.pth").write_text(str(folder) + "\n")
        return folder

    def start(
        self, site_dir: Path, cwd: Path, front: Optional[Path] = None, times: int = 1, **env: str
    ) -> subprocess.CompletedProcess:
        code = textwrap.dedent(
            f"""
            import site, sys
            sys.path[:0] = {[str(front)] if front else []!r}
            for _ in range({times}):
                site.addsitedir({str(site_dir)!r})
            print("imported" if "globalhook" in sys.modules else "not imported")
            print(sys.path[-1])
            """
        )
        return run([sys.executable, "-I", "-S", "-c", code], cwd, clean_env(**env))

    @pytest.fixture(autouse=True)
    def installed(self, site_dir: Path) -> None:
        sitehook.install(str(site_dir))

    def test_not_activated_does_not_import_globalhook(
        self, site_dir: Path, workdir: Path, after_dir: Path, tmp_path: Path
    ) -> None:
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        result = self.start(site_dir, workdir, front)
        assert result.stdout.splitlines() == ["not imported", str(after_dir)]
        assert result.stderr == ""

    def test_empty_variable_is_not_activation(self, site_dir: Path, workdir: Path, tmp_path: Path) -> None:
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        result = self.start(site_dir, workdir, front, GLOBALHOOK_PROCESS_START="")
        assert MARKER not in result.stdout
        assert "not imported" in result.stdout

    def test_variable_calls_process_start(
        self, site_dir: Path, workdir: Path, after_dir: Path, tmp_path: Path
    ) -> None:
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        result = self.start(site_dir, workdir, front, GLOBALHOOK_PROCESS_START="1")
        assert result.stdout.splitlines() == [MARKER, "imported", str(after_dir)]
        assert result.stderr == ""

    def test_process_start_runs_once_when_site_packages_is_read_twice(
        self, site_dir: Path, workdir: Path, after_dir: Path, tmp_path: Path
    ) -> None:
        """site.py reads a venv's .pth files twice (CPython gh-75723)."""
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        result = self.start(site_dir, workdir, front, times=2, GLOBALHOOK_PROCESS_START="1")
        assert result.stdout.splitlines() == [MARKER, "imported", str(after_dir)]
        assert result.stderr == ""

    @pytest.mark.parametrize(
        "content",
        ["[tool.globalhook]\nenabled = true\n", '[tool.globalhook]\n"enabled" = true\n', '[tool."globalho\\u006bk"]\n'],
    )
    def test_pyproject_that_may_enable_calls_process_start(
        self, site_dir: Path, workdir: Path, tmp_path: Path, content: str
    ) -> None:
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        (workdir / "pyproject.toml").write_text(content)
        result = self.start(site_dir, workdir, front)
        assert result.stdout.splitlines()[:2] == [MARKER, "imported"]

    @pytest.mark.parametrize(
        "content",
        ["[project]\nname = 'x'\n", "[tool.globalhook]\ninclude = ['x']\n", "[tool.globalhook]\nenabled = false\n",
         "[tool.other]\nenabled = true\n"],
    )
    def test_pyproject_that_cannot_enable_imports_nothing(
        self, site_dir: Path, workdir: Path, after_dir: Path, tmp_path: Path, content: str
    ) -> None:
        """The line itself reads the file: no globalhook, or no enabled, means no import at all."""
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        (workdir / "pyproject.toml").write_text(content)
        result = self.start(site_dir, workdir, front)
        assert result.stdout.splitlines() == ["not imported", str(after_dir)]
        assert result.stderr == ""

    def test_config_variable_with_a_pyproject_calls_process_start(
        self, site_dir: Path, workdir: Path, tmp_path: Path
    ) -> None:
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        (workdir / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        result = self.start(site_dir, workdir, front, GLOBALHOOK_CONFIG="other.toml")
        assert result.stdout.splitlines()[:2] == [MARKER, "imported"]

    def test_unreadable_pyproject_is_silent(self, site_dir: Path, workdir: Path, after_dir: Path) -> None:
        (workdir / "pyproject.toml").mkdir()  # isfile() is False; a folder of that name is read by nobody
        result = self.start(site_dir, workdir)
        assert (result.returncode, result.stderr) == (0, "")

    def test_globalhook_missing_is_silent(self, site_dir: Path, workdir: Path, after_dir: Path) -> None:
        (workdir / "pyproject.toml").write_text("")
        result = self.start(site_dir, workdir, GLOBALHOOK_PROCESS_START="1")
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.splitlines() == ["not imported", str(after_dir)]

    def test_globalhook_without_startup_module_is_silent(
        self, site_dir: Path, workdir: Path, after_dir: Path, tmp_path: Path
    ) -> None:
        front = fake_globalhook(tmp_path / "fake", startup=None)
        result = self.start(site_dir, workdir, front, GLOBALHOOK_PROCESS_START="1")
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.splitlines()[-1] == str(after_dir)

    def test_broken_globalhook_import_is_visible(self, site_dir: Path, workdir: Path, tmp_path: Path) -> None:
        front = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP, init="import no_such_module_ghtest\n")
        result = self.start(site_dir, workdir, front, GLOBALHOOK_PROCESS_START="1")
        assert "no_such_module_ghtest" in result.stderr
        assert PTH_NAME in result.stderr  # site.py names the .pth file
        assert MARKER not in result.stdout

    def test_error_in_process_start_is_visible_and_start_up_goes_on(
        self, site_dir: Path, workdir: Path, after_dir: Path, tmp_path: Path
    ) -> None:
        startup = "def process_start():\n    raise RuntimeError('boom from process_start')\n"
        front = fake_globalhook(tmp_path / "fake", startup)
        result = self.start(site_dir, workdir, front, GLOBALHOOK_PROCESS_START="1")
        assert "RuntimeError: boom from process_start" in result.stderr
        assert result.returncode == 0
        assert result.stdout.splitlines()[-1] == str(after_dir)


# -- install / uninstall -------------------------------------------------------


class TestInstall:
    def test_writes_exactly_one_file_with_the_line(self, site_dir: Path) -> None:
        path, changed = sitehook.install(str(site_dir))
        assert (path, changed) == (str(site_dir / PTH_NAME), True)
        assert os.listdir(site_dir) == [PTH_NAME]
        assert (site_dir / PTH_NAME).read_bytes() == (PTH_LINE + "\n").encode()

    @pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
    def test_file_mode_follows_umask(self, site_dir: Path) -> None:
        old = os.umask(0o022)
        try:
            sitehook.install(str(site_dir))
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(site_dir / PTH_NAME).st_mode) == 0o644

    def test_second_install_leaves_the_file_alone(self, site_dir: Path) -> None:
        sitehook.install(str(site_dir))
        target = site_dir / PTH_NAME
        os.utime(target, ns=(1_000_000_000, 1_000_000_000))  # an mtime any rewrite would change
        before = os.stat(target)
        path, changed = sitehook.install(str(site_dir))
        after = os.stat(target)
        assert (path, changed) == (str(target), False)
        assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
        assert target.read_bytes() == (PTH_LINE + "\n").encode()
        assert os.listdir(site_dir) == [PTH_NAME]

    @pytest.mark.parametrize("old", ["import globalhook.startup; globalhook.startup.process_start()\n", ""])
    def test_rewrites_another_versions_file(self, site_dir: Path, old: str) -> None:
        (site_dir / PTH_NAME).write_text(old)
        assert sitehook.install(str(site_dir))[1] is True
        assert (site_dir / PTH_NAME).read_text() == PTH_LINE + "\n"
        assert os.listdir(site_dir) == [PTH_NAME]

    def test_leaves_other_files_alone(self, site_dir: Path) -> None:
        (site_dir / "other.pth").write_text("/somewhere\n")
        (site_dir / "sitecustomize.py").write_text("X = 1\n")
        before = snapshot(site_dir)
        sitehook.install(str(site_dir))
        after = snapshot(site_dir)
        assert after.pop(PTH_NAME) == (PTH_LINE + "\n").encode()
        assert after == before

    def test_something_else_with_our_name_is_an_error(self, site_dir: Path) -> None:
        (site_dir / PTH_NAME).mkdir()
        with pytest.raises(SiteHookError, match="not a regular file") as info:
            sitehook.install(str(site_dir))
        assert "\n" not in str(info.value)
        assert (site_dir / PTH_NAME).is_dir()

    @pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
    def test_a_symlink_with_our_name_is_an_error(self, site_dir: Path, tmp_path: Path) -> None:
        elsewhere = tmp_path / "elsewhere.pth"
        elsewhere.write_text("keep me\n")
        (site_dir / PTH_NAME).symlink_to(elsewhere)
        with pytest.raises(SiteHookError, match="not a regular file"):
            sitehook.install(str(site_dir))
        with pytest.raises(SiteHookError, match="not a regular file"):
            sitehook.uninstall(str(site_dir))
        assert elsewhere.read_text() == "keep me\n"
        assert (site_dir / PTH_NAME).is_symlink()

    def test_missing_folder_is_a_one_line_error(self, tmp_path: Path) -> None:
        with pytest.raises(SiteHookError, match="cannot write") as info:
            sitehook.install(str(tmp_path / "missing"))
        assert "\n" not in str(info.value)
        assert not (tmp_path / "missing").exists()


class TestAtomicWrite:
    """A failure at any step leaves the folder as it was: no temporary files, old content kept."""

    @pytest.mark.parametrize("step", ["fsync", "replace"])
    def test_os_error_leaves_nothing_behind(self, site_dir: Path, monkeypatch, step: str) -> None:
        (site_dir / PTH_NAME).write_text("old\n")
        before = snapshot(site_dir)

        def fail(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(sitehook.os, step, fail)
        with pytest.raises(SiteHookError, match="No space left on device"):
            sitehook.install(str(site_dir))
        monkeypatch.undo()
        assert snapshot(site_dir) == before

    def test_interrupt_leaves_nothing_behind_and_propagates(self, site_dir: Path, monkeypatch) -> None:
        def interrupt(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(sitehook.os, "replace", interrupt)
        with pytest.raises(KeyboardInterrupt):
            sitehook.install(str(site_dir))
        monkeypatch.undo()
        assert os.listdir(site_dir) == []

    def test_replaces_by_rename(self, site_dir: Path, monkeypatch) -> None:
        renames = []
        real_replace = os.replace

        def spy(src, dst):
            renames.append((os.path.dirname(src), os.path.basename(src), dst))
            real_replace(src, dst)

        monkeypatch.setattr(sitehook.os, "replace", spy)
        sitehook.install(str(site_dir))
        [(folder, temp, dst)] = renames
        assert folder == str(site_dir) and dst == str(site_dir / PTH_NAME)
        assert not temp.endswith(".pth")  # site.py must never read a half-written file
        assert os.listdir(site_dir) == [PTH_NAME]


class TestUninstall:
    def test_round_trip_restores_the_folder(self, site_dir: Path) -> None:
        (site_dir / "aaa.pth").write_text("/a/path\n")
        (site_dir / "zzz.pth").write_text("import sys\n")
        (site_dir / "sitecustomize.py").write_text("print('hi')\n")
        (site_dir / "pkg").mkdir()
        (site_dir / "pkg" / "__init__.py").write_bytes(b"\x00\xff binary-ish\n")
        before = snapshot(site_dir)
        sitehook.install(str(site_dir))
        assert snapshot(site_dir) != before
        path, changed = sitehook.uninstall(str(site_dir))
        assert (path, changed) == (str(site_dir / PTH_NAME), True)
        assert snapshot(site_dir) == before

    def test_not_installed_is_a_no_op(self, site_dir: Path) -> None:
        (site_dir / "other.pth").write_text("/x\n")
        before = snapshot(site_dir)
        assert sitehook.uninstall(str(site_dir)) == (str(site_dir / PTH_NAME), False)
        assert snapshot(site_dir) == before

    def test_twice_is_a_no_op(self, site_dir: Path) -> None:
        sitehook.install(str(site_dir))
        assert sitehook.uninstall(str(site_dir))[1] is True
        assert sitehook.uninstall(str(site_dir))[1] is False
        assert os.listdir(site_dir) == []

    def test_removes_our_name_whatever_its_content(self, site_dir: Path) -> None:
        (site_dir / PTH_NAME).write_text("import something_older\n")
        assert sitehook.uninstall(str(site_dir))[1] is True
        assert os.listdir(site_dir) == []

    def test_something_else_with_our_name_is_an_error(self, site_dir: Path) -> None:
        (site_dir / PTH_NAME).mkdir()
        (site_dir / PTH_NAME / "inside").write_text("x")
        with pytest.raises(SiteHookError, match="not a regular file"):
            sitehook.uninstall(str(site_dir))
        assert (site_dir / PTH_NAME / "inside").read_text() == "x"


class TestOutsideVirtualenv:
    """Without an explicit site_dir, only a venv's site-packages is changed unless system=True."""

    @pytest.fixture
    def system_python(self, monkeypatch, site_dir: Path) -> Path:
        monkeypatch.setattr(sitehook, "in_virtualenv", lambda: False)
        monkeypatch.setattr(sitehook, "default_site_dir", lambda: str(site_dir))
        return site_dir

    @pytest.mark.parametrize("action", [sitehook.install, sitehook.uninstall])
    def test_refused(self, system_python: Path, action) -> None:
        (system_python / PTH_NAME).write_text("old\n")
        before = snapshot(system_python)
        with pytest.raises(SiteHookError) as info:
            action()
        message = str(info.value)
        assert "\n" not in message
        assert "virtual environment" in message and "--system" in message
        assert str(system_python) in message
        assert snapshot(system_python) == before

    def test_allowed_with_system(self, system_python: Path) -> None:
        assert sitehook.install(system=True) == (str(system_python / PTH_NAME), True)
        assert (system_python / PTH_NAME).read_text() == PTH_LINE + "\n"
        assert sitehook.uninstall(system=True) == (str(system_python / PTH_NAME), True)
        assert os.listdir(system_python) == []

    def test_explicit_site_dir_skips_the_check(self, system_python: Path, tmp_path: Path) -> None:
        other = tmp_path / "explicit"
        other.mkdir()
        assert sitehook.install(str(other))[1] is True
        assert sitehook.uninstall(str(other))[1] is True

    def test_allowed_in_a_virtualenv(self, monkeypatch, site_dir: Path) -> None:
        monkeypatch.setattr(sitehook, "in_virtualenv", lambda: True)
        monkeypatch.setattr(sitehook, "default_site_dir", lambda: str(site_dir))
        assert sitehook.install() == (str(site_dir / PTH_NAME), True)


class TestInVirtualenv:
    def test_venv(self, monkeypatch) -> None:
        monkeypatch.delattr(sys, "real_prefix", raising=False)
        monkeypatch.setattr(sys, "prefix", "/venv")
        monkeypatch.setattr(sys, "base_prefix", "/usr")
        assert sitehook.in_virtualenv() is True

    def test_system(self, monkeypatch) -> None:
        monkeypatch.delattr(sys, "real_prefix", raising=False)
        monkeypatch.setattr(sys, "prefix", "/usr")
        monkeypatch.setattr(sys, "base_prefix", "/usr")
        assert sitehook.in_virtualenv() is False

    def test_old_virtualenv(self, monkeypatch) -> None:
        monkeypatch.setattr(sys, "prefix", "/venv")
        monkeypatch.setattr(sys, "base_prefix", "/venv")  # old virtualenv copied it
        monkeypatch.setattr(sys, "real_prefix", "/usr", raising=False)
        assert sitehook.in_virtualenv() is True


class TestPaths:
    def test_pth_path(self, site_dir: Path) -> None:
        assert sitehook.pth_path(str(site_dir)) == os.path.join(str(site_dir), PTH_NAME)

    def test_default_is_purelib(self) -> None:
        import sysconfig

        assert sitehook.default_site_dir() == sysconfig.get_paths()["purelib"]
        assert sitehook.pth_path() == os.path.join(sysconfig.get_paths()["purelib"], PTH_NAME)


# -- status --------------------------------------------------------------------


class TestStatus:
    @pytest.fixture(autouse=True)
    def no_sitecustomize_elsewhere(self, monkeypatch, tmp_path: Path) -> None:
        """This machine's own sys.path might hold a sitecustomize; look only at tmp_path."""
        monkeypatch.setattr(sys, "path", [str(tmp_path / "empty-path-entry")])

    def test_not_installed(self, site_dir: Path, monkeypatch) -> None:
        monkeypatch.setattr(sitehook, "in_virtualenv", lambda: True)
        assert sitehook.status(str(site_dir)) == {
            "site_dir": str(site_dir),
            "pth": str(site_dir / PTH_NAME),
            "files": [str(site_dir / PTH_NAME)],
            "installed": False,
            "current": False,
            "virtualenv": True,
            "sitecustomize": None,
        }

    def test_installed(self, site_dir: Path, monkeypatch) -> None:
        monkeypatch.setattr(sitehook, "in_virtualenv", lambda: False)
        sitehook.install(str(site_dir))
        info = sitehook.status(str(site_dir))
        assert (info["installed"], info["current"], info["virtualenv"]) == (True, True, False)

    def test_another_versions_file(self, site_dir: Path) -> None:
        (site_dir / PTH_NAME).write_text(PTH_LINE)  # no newline: not exactly ours
        info = sitehook.status(str(site_dir))
        assert (info["installed"], info["current"]) == (True, False)

    def test_something_else_with_our_name(self, site_dir: Path) -> None:
        (site_dir / PTH_NAME).mkdir()
        info = sitehook.status(str(site_dir))
        assert (info["installed"], info["current"]) == (False, False)

    def test_reads_only(self, site_dir: Path) -> None:
        before = snapshot(site_dir)
        sitehook.status(str(site_dir))
        assert snapshot(site_dir) == before

    def test_sitecustomize_in_site_dir(self, site_dir: Path) -> None:
        (site_dir / "sitecustomize.py").write_text("")
        assert sitehook.status(str(site_dir))["sitecustomize"] == str(site_dir / "sitecustomize.py")

    def test_sitecustomize_package_on_sys_path(self, site_dir: Path, tmp_path: Path, monkeypatch) -> None:
        elsewhere = tmp_path / "elsewhere"
        (elsewhere / "sitecustomize").mkdir(parents=True)
        (elsewhere / "sitecustomize" / "__init__.py").write_text("")
        monkeypatch.setattr(sys, "path", [str(elsewhere)])
        found = sitehook.status(str(site_dir))["sitecustomize"]
        assert found == str(elsewhere / "sitecustomize" / "__init__.py")

    def test_default_site_dir(self, monkeypatch, site_dir: Path) -> None:
        monkeypatch.setattr(sitehook, "default_site_dir", lambda: str(site_dir))
        assert sitehook.status()["pth"] == str(site_dir / PTH_NAME)


class TestDescribeStatus:
    def info(self, **changes) -> dict:
        base = {
            "site_dir": "/venv/lib/site-packages",
            "pth": "/venv/lib/site-packages/" + PTH_NAME,
            "installed": True,
            "current": True,
            "virtualenv": True,
            "sitecustomize": None,
        }
        base.update(changes)
        return base

    def test_installed(self) -> None:
        text = sitehook.describe_status(self.info())
        first = text.splitlines()[0]
        assert first == f"globalhook start-up hook: installed in /venv/lib/site-packages (/venv/lib/site-packages/{PTH_NAME})"
        assert "GLOBALHOOK_PROCESS_START" in text
        assert "virtual environment: yes" in text.splitlines()
        assert "sitecustomize: none found" in text.splitlines()

    def test_not_installed_outside_a_venv(self) -> None:
        text = sitehook.describe_status(self.info(installed=False, current=False, virtualenv=False))
        lines = text.splitlines()
        assert lines[0] == "globalhook start-up hook: not installed in /venv/lib/site-packages"
        assert any(line.startswith("virtual environment: no") and "--system" in line for line in lines)

    def test_other_version(self) -> None:
        first = sitehook.describe_status(self.info(current=False)).splitlines()[0]
        assert "another version" in first and "globalhook install" in first

    def test_names_the_sitecustomize(self) -> None:
        text = sitehook.describe_status(self.info(sitecustomize="/usr/lib/sitecustomize.py"))
        assert any(
            line.startswith("sitecustomize: /usr/lib/sitecustomize.py") for line in text.splitlines()
        )

    def test_real_status(self, site_dir: Path) -> None:
        sitehook.install(str(site_dir))
        assert str(site_dir) in sitehook.describe_status(sitehook.status(str(site_dir)))


# -- end to end, in real virtual environments ------------------------------------


class Venv:
    """A throwaway venv with the repository on its path through ``globalhook-dev.pth``."""

    def __init__(self, root: Path, workdir: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(root)],
            check=True, env=clean_env(), capture_output=True, timeout=120,
        )
        bindir = "Scripts" if os.name == "nt" else "bin"
        self.python = str(root / bindir / ("python.exe" if os.name == "nt" else "python"))
        self.workdir = workdir
        self.site_packages = Path(self.check("import sysconfig; print(sysconfig.get_paths()['purelib'])"))
        self.dev_pth = self.site_packages / "globalhook-dev.pth"
        self.dev_pth.write_text(str(REPO_ROOT) + "\n")

    def run(self, code: str, cwd: Optional[Path] = None, **env: str) -> subprocess.CompletedProcess:
        return run([self.python, "-c", code], cwd or self.workdir, clean_env(**env))

    def check(self, code: str, **env: str) -> str:
        result = self.run(code, **env)
        assert (result.returncode, result.stderr) == (0, ""), result.stderr
        return result.stdout.strip()


@pytest.fixture
def venv(tmp_path: Path, workdir: Path) -> Venv:
    return Venv(tmp_path / "venv", workdir)


IMPORTED = "import sys; print('globalhook' in sys.modules)"


class TestEndToEnd:
    def test_install_through_the_venv_python(self, venv: Venv) -> None:
        out = venv.check("from globalhook import sitehook; print(sitehook.install())")
        assert out == repr((str(venv.site_packages / PTH_NAME), True))
        assert (venv.site_packages / PTH_NAME).read_text() == PTH_LINE + "\n"
        out = venv.check("from globalhook import sitehook; print(sitehook.install())")
        assert out.endswith("False)")

    def test_not_activated_is_a_no_op(self, venv: Venv) -> None:
        venv.check("from globalhook import sitehook; sitehook.install()")
        assert not (venv.workdir / "pyproject.toml").exists()
        assert venv.check(IMPORTED) == "False"
        # Proof that the check can fail: activated, the line does import globalhook
        # (what the real startup.py then makes of the value "1" is not tested here).
        assert venv.run(IMPORTED, GLOBALHOOK_PROCESS_START="1").stdout == "True\n"

    def test_activated_calls_process_start_before_sitecustomize(self, venv: Venv, tmp_path: Path) -> None:
        venv.check("from globalhook import sitehook; sitehook.install()")
        (venv.site_packages / "sitecustomize.py").write_text(f"print({SITECUSTOMIZE_MARKER!r})\n")
        fake = fake_globalhook(tmp_path / "fake", PRINTING_STARTUP)
        # PYTHONPATH entries come before site-packages, so the fake package wins.
        result = venv.run("pass", GLOBALHOOK_PROCESS_START="1", PYTHONPATH=str(fake))
        assert result.stderr == ""
        assert result.stdout.splitlines() == [MARKER, SITECUSTOMIZE_MARKER]
        result = venv.run("pass", PYTHONPATH=str(fake))
        assert result.stdout.splitlines() == [SITECUSTOMIZE_MARKER]

    def test_existing_sitecustomize_keeps_running(self, venv: Venv) -> None:
        (venv.site_packages / "sitecustomize.py").write_text(
            f"import os\nos.environ['GHTEST_SITECUSTOMIZE'] = {SITECUSTOMIZE_MARKER!r}\n"
        )
        probe = "import os; print(os.environ.get('GHTEST_SITECUSTOMIZE'))"
        assert venv.check(probe) == SITECUSTOMIZE_MARKER
        venv.check("from globalhook import sitehook; sitehook.install()")
        assert venv.check(probe) == SITECUSTOMIZE_MARKER
        activated = venv.run(probe, GLOBALHOOK_PROCESS_START="1")  # the real startup.py runs
        assert activated.stdout == SITECUSTOMIZE_MARKER + "\n"
        assert "left as it is" in venv.check(
            "from globalhook import sitehook; print(sitehook.describe_status(sitehook.status()))"
        )

    def test_silent_when_globalhook_is_gone(self, venv: Venv, tmp_path: Path) -> None:
        venv.check("from globalhook import sitehook; sitehook.install()")
        venv.dev_pth.rename(tmp_path / "globalhook-dev.pth.away")
        (venv.workdir / "pyproject.toml").write_text("[tool.globalhook]\nenabled = true\n")
        for env in ({}, {"GLOBALHOOK_PROCESS_START": "1"}):
            result = venv.run("import sys; print('globalhook' in sys.modules)", **env)
            assert (result.returncode, result.stderr, result.stdout) == (0, "", "False\n")
        # The same venv with globalhook importable again does import it: the test can fail.
        # (stdout only: what the real startup.py then says about that pyproject.toml is its own business)
        (tmp_path / "globalhook-dev.pth.away").rename(venv.dev_pth)
        assert venv.run(IMPORTED).stdout == "True\n"

    def test_uninstall_restores_site_packages(self, venv: Venv) -> None:
        (venv.site_packages / "sitecustomize.py").write_text("X = 1\n")
        (venv.site_packages / "aaa-other.pth").write_text("import os\n")
        before = snapshot(venv.site_packages)
        out = venv.check("from globalhook import sitehook; print(sitehook.install())")
        assert out.endswith("True)")
        assert snapshot(venv.site_packages) != before
        out = venv.check("from globalhook import sitehook; print(sitehook.uninstall())")
        assert out == repr((str(venv.site_packages / PTH_NAME), True))
        assert snapshot(venv.site_packages) == before
        assert venv.check("from globalhook import sitehook; print(sitehook.uninstall()[1])") == "False"
