"""PEP 829 (CPython 3.15): ``.start`` files replace ``import`` lines in ``.pth`` files.

What ``install`` writes depends on the Python that reads the folder; this is
checked for every version on paper (``files_for`` and install/uninstall with
an explicit version), and by the real ``site.addsitedir`` where a 3.15+ runs
the tests (skipped before).  The PEP's rules as read in CPython's sources:
a ``<name>.start`` file holds ``pkg.mod:callable`` lines, each resolved with
``pkgutil.resolve_name`` and called with no arguments after every ``.pth``
path is on ``sys.path``; a matching ``<name>.start`` makes 3.15-3.17 skip the
``import`` lines of ``<name>.pth`` silently (without it they run, and ``-v``
mentions the deprecation); 3.18 ignores ``import`` lines, 3.20 warns.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Optional

import pytest

from globalhook import sitehook, startup
from globalhook.sitehook import PTH_LINE, PTH_NAME, START_LINE, START_NAME

MARKER = "FAKE-PROCESS-START-RAN"


def snapshot(folder: Path) -> Dict[str, Optional[bytes]]:
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.iterdir())}


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    return folder


class TestWhatEachPythonNeeds:
    @pytest.mark.parametrize(
        "version, names",
        [
            ((3, 9), (PTH_NAME,)),
            ((3, 14), (PTH_NAME,)),
            ((3, 15), (START_NAME, PTH_NAME)),
            ((3, 17), (START_NAME, PTH_NAME)),
            ((3, 18), (START_NAME,)),
            ((3, 20), (START_NAME,)),
        ],
    )
    def test_files_for(self, version, names) -> None:
        assert sitehook.files_for(version) == names

    def test_this_python_by_default(self) -> None:
        assert sitehook.files_for() == sitehook.files_for(sys.version_info[:2])

    def test_start_file_matches_the_pth_file(self) -> None:
        # Same base name: that is what makes 3.15-3.17 skip the .pth's import line.
        assert START_NAME == "globalhook-startup.start"
        assert os.path.splitext(START_NAME)[0] == os.path.splitext(PTH_NAME)[0]

    def test_start_line_is_the_cheap_start_up_hook(self) -> None:
        # pkg.mod:callable, resolved as site.py does on 3.15+.
        assert START_LINE.count(":") == 1 and "\n" not in START_LINE
        assert pkgutil.resolve_name(START_LINE) is startup.process_start


class TestInstallPerVersion:
    @pytest.mark.parametrize("version", [(3, 15), (3, 16), (3, 17)])
    def test_transition_writes_both(self, site_dir: Path, version) -> None:
        path, changed = sitehook.install(str(site_dir), version=version)
        assert (path, changed) == (str(site_dir / START_NAME), True)
        assert snapshot(site_dir) == {
            PTH_NAME: (PTH_LINE + "\n").encode(),
            START_NAME: (START_LINE + "\n").encode(),
        }
        assert sitehook.install(str(site_dir), version=version)[1] is False

    def test_from_3_18_only_the_start_file(self, site_dir: Path) -> None:
        assert sitehook.install(str(site_dir), version=(3, 18)) == (str(site_dir / START_NAME), True)
        assert snapshot(site_dir) == {START_NAME: (START_LINE + "\n").encode()}

    def test_before_3_15_only_the_pth_line(self, site_dir: Path) -> None:
        assert sitehook.install(str(site_dir), version=(3, 14)) == (str(site_dir / PTH_NAME), True)
        assert snapshot(site_dir) == {PTH_NAME: (PTH_LINE + "\n").encode()}

    @pytest.mark.parametrize("version", [(3, 9), (3, 15), (3, 18)])
    def test_uninstall_removes_exactly_ours(self, site_dir: Path, version) -> None:
        (site_dir / "other.pth").write_text("/x\n")
        (site_dir / "other.start").write_text("other.mod:go\n")
        before = snapshot(site_dir)
        sitehook.install(str(site_dir), version=version)
        assert sitehook.uninstall(str(site_dir), version=version)[1] is True
        assert snapshot(site_dir) == before
        assert sitehook.uninstall(str(site_dir), version=version)[1] is False

    def test_uninstall_also_removes_the_other_pythons_file(self, site_dir: Path) -> None:
        sitehook.install(str(site_dir), version=(3, 15))
        assert sitehook.uninstall(str(site_dir), version=(3, 14))[1] is True
        assert snapshot(site_dir) == {}

    def test_status_per_version(self, site_dir: Path) -> None:
        sitehook.install(str(site_dir), version=(3, 14))
        assert sitehook.status(str(site_dir), version=(3, 14))["current"] is True
        older = sitehook.status(str(site_dir), version=(3, 15))
        assert (older["installed"], older["current"]) == (True, False)
        assert older["files"] == [str(site_dir / START_NAME), str(site_dir / PTH_NAME)]

    def test_start_file_with_our_name_but_a_folder_is_an_error(self, site_dir: Path) -> None:
        (site_dir / START_NAME).mkdir()
        with pytest.raises(sitehook.SiteHookError, match="not a regular file"):
            sitehook.install(str(site_dir), version=(3, 15))
        with pytest.raises(sitehook.SiteHookError, match="not a regular file"):
            sitehook.uninstall(str(site_dir), version=(3, 14))
        assert not (site_dir / PTH_NAME).exists()


# -- the real site.py of 3.15+ ---------------------------------------------------------


def fake_globalhook(root: Path) -> Path:
    """A stand-in ``globalhook`` whose process_start prints a marker when activated."""
    package = root / "globalhook"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "startup.py").write_text(textwrap.dedent(f"""
        import os
        def process_start():
            if os.environ.get("GLOBALHOOK_PROCESS_START"):
                print({MARKER!r})
    """))
    return root


def start_python(site_dir: Path, front: Path, cwd: Path, *flags: str, **env: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        import site, sys
        sys.path[:0] = [{str(front)!r}]
        site.addsitedir({str(site_dir)!r})
        print("done")
    """)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GLOBALHOOK_"))}
    environment.update(env)
    return subprocess.run([sys.executable, "-I", "-S", *flags, "-c", code], cwd=str(cwd), env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(sys.version_info < (3, 15), reason="PEP 829 .start files arrive in CPython 3.15")
class TestUnderSite315:
    @pytest.fixture
    def installed(self, site_dir: Path, tmp_path: Path) -> Path:
        sitehook.install(str(site_dir))  # what this Python needs
        return fake_globalhook(tmp_path / "fake")

    def test_activated_runs_process_start_once(self, site_dir: Path, installed: Path, tmp_path: Path) -> None:
        result = start_python(site_dir, installed, tmp_path, GLOBALHOOK_PROCESS_START="1")
        assert result.stdout.splitlines() == [MARKER, "done"]
        assert result.stderr == ""

    def test_not_activated_runs_nothing(self, site_dir: Path, installed: Path, tmp_path: Path) -> None:
        result = start_python(site_dir, installed, tmp_path)
        assert result.stdout.splitlines() == ["done"]
        assert result.stderr == ""

    def test_no_deprecation_even_verbose_or_with_warnings_as_errors(
        self, site_dir: Path, installed: Path, tmp_path: Path
    ) -> None:
        result = start_python(site_dir, installed, tmp_path, "-v", "-W", "error", GLOBALHOOK_PROCESS_START="1")
        assert result.stdout.splitlines() == [MARKER, "done"]
        ours = [line for line in result.stderr.splitlines() if "globalhook-startup" in line]
        assert not [line for line in ours if "deprecat" in line.lower() or "warning" in line.lower()], ours
