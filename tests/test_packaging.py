"""What an index receives: metadata, the sdist, a wheel that carries the compiled core.

The sdist and the wheel are built from a copy of the checkout (setuptools
writes build/ and egg-info folders into the tree it builds), with pip and
``build`` as a user's machine would.  The wheel test installs the wheel into
a fresh virtual environment and asks, from another folder, which core runs.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from globalhook import __version__

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 900  # an isolated build may download setuptools first


def pyproject() -> dict:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def clean_env() -> dict:
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("GLOBALHOOK_", "CIBW_")) and key not in ("PYTHONPATH", "PYTHONHOME")}


def copy_of_checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    shutil.copytree(
        REPO, copy,
        ignore=shutil.ignore_patterns(".git", ".tox", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.pyd",
                                      "_build", ".globalhook.json*", "globalhook-html", ".pytest_cache", ".venv"),
    )
    return copy


# -- metadata -------------------------------------------------------------------------


def test_metadata_is_ready_for_an_index():
    project = pyproject()["project"]
    assert project["version"] == __version__
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert "MIT License" in (REPO / "LICENSE").read_text(encoding="utf-8")
    classifiers = project["classifiers"]
    assert "Programming Language :: Python :: Free Threading" in classifiers
    # A version classifier for every CPython the compiled core knows, and no other.
    known = _setup_known()
    claimed = sorted(tuple(map(int, c.rsplit(" ", 1)[1].split("."))) for c in classifiers
                     if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert claimed == [(3, minor) for minor in range(known[0][1], known[1][1] + 1)]
    assert project["requires-python"] == f">={known[0][0]}.{known[0][1]}"
    for name, url in project["urls"].items():
        assert url.startswith("https://github.com/globalhook/globalhook"), (name, url)


def _setup_known():
    """setup.py's KNOWN, read without running setup()."""
    text = (REPO / "setup.py").read_text(encoding="utf-8")
    match = re.search(r"^KNOWN = \(\((\d+), (\d+)\), \((\d+), (\d+)\)\)", text, re.M)
    assert match, "setup.py: KNOWN = ((3, 9), (3, 14)) not found"
    a, b, c, d = map(int, match.groups())
    return (a, b), (c, d)


def test_classifiers_are_ones_an_index_accepts():
    trove = pytest.importorskip("trove_classifiers")
    unknown = [c for c in pyproject()["project"]["classifiers"] if c not in trove.classifiers]
    assert not unknown


# -- wheels we claim ------------------------------------------------------------------

WANTED_PYTHONS = {"cp39", "cp310", "cp311", "cp312", "cp313", "cp314", "cp314t"}
WANTED_PLATFORMS = {
    "linux": {"manylinux_x86_64", "manylinux_aarch64", "musllinux_x86_64", "musllinux_aarch64"},
    "macos": {"macosx_x86_64", "macosx_arm64"},
    "windows": {"win_amd64"},
}


@pytest.mark.parametrize("platform", sorted(WANTED_PLATFORMS))
def test_cibuildwheel_builds_every_wheel_we_claim(platform):
    pytest.importorskip("cibuildwheel", reason="cibuildwheel (the test extra, Python 3.11+)")
    listed = subprocess.run(
        [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform", platform],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    identifiers = set(listed.stdout.split())
    expected = {f"{python}-{tag}" for python in WANTED_PYTHONS for tag in WANTED_PLATFORMS[platform]}
    assert identifiers == expected, (sorted(identifiers - expected), sorted(expected - identifiers))


def test_the_wheel_workflow_covers_every_architecture_we_claim():
    workflow = (REPO / ".github" / "workflows" / "wheels.yml").read_text(encoding="utf-8")
    config = pyproject()["tool"]["cibuildwheel"]
    for platform in ("linux", "macos", "windows"):
        for arch in config[platform]["archs"]:
            assert re.search(rf"archs: {arch}\b", workflow), f"{platform} {arch} is built by no job"
    assert "cibuildwheel" in workflow and "--sdist" in workflow


# -- the sdist and a wheel built here ------------------------------------------------


def test_the_sdist_holds_the_c_source_the_html_assets_the_tests_and_the_docs(tmp_path):
    pytest.importorskip("build", reason="build (the test extra)")
    source = copy_of_checkout(tmp_path)
    made = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "dist"), str(source)],
                          env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    (sdist,) = (tmp_path / "dist").glob("globalhook-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    top = f"globalhook-{__version__}"
    assert sdist.name == f"{top}.tar.gz"
    for wanted in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "tox.ini", "MANIFEST.in",
                   "globalhook/_ctracking.c", "globalhook/htmlfiles/page.html", "globalhook/htmlfiles/style.css",
                   "globalhook/htmlfiles/report.js", "globalhook/htmlfiles/graph.js",
                   "tests/conftest.py", "tests/test_packaging.py", "tests/probes/completeness",
                   "tools/completeness.py", "benchmarks/run.py", "examples/quickstart.py",
                   "docs/conf.py", "docs/index.md", "globalhook/schemas/data-1.schema.json",
                   "globalhook/schemas/data-2.schema.json", "tests/data-v1/pytest-contexts.json",
                   "globalhook/schemas/check-1.schema.json"):
        assert wanted in names, f"{wanted} is not in the sdist"
    assert not [name for name in names if name.endswith((".so", ".pyd", ".pyc")) or "__pycache__" in name]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if os.environ.get("GLOBALHOOK_CORE") == "python":
        pytest.skip("the wheel is built and checked in the compiled-core pass")
    known = _setup_known()
    if platform.python_implementation() != "CPython" or not known[0] <= sys.version_info[:2] <= known[1]:
        pytest.skip("the compiled core is built for the CPythons setup.py knows")
    if sysconfig.get_config_var("Py_GIL_DISABLED") and sys.version_info < (3, 14):
        pytest.skip("the compiled core needs 3.14t or newer on free-threaded CPython")
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = copy_of_checkout(tmp_path)
    env = clean_env()
    env["GLOBALHOOK_REQUIRE_C"] = "1"  # a wheel without the compiled core is a failure here
    made = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(source)],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    (built,) = (tmp_path / "dist").glob("globalhook-*.whl")
    return built


def test_the_wheel_carries_the_compiled_core_and_the_html_assets(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert f"globalhook/_ctracking{suffix}" in names
    assert {f"globalhook/htmlfiles/{name}" for name in ("page.html", "style.css", "report.js", "graph.js")} <= names
    assert f"globalhook-{__version__}.dist-info/licenses/LICENSE" in names
    assert not [name for name in names if name.startswith(("tests/", "docs/", "tools/"))]
    assert "-none-any" not in wheel.name  # a platform wheel, for this interpreter


def test_a_fresh_venv_with_the_wheel_uses_the_compiled_core(wheel, tmp_path):
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=clean_env())
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=TIMEOUT, env=clean_env())
    assert installed.returncode == 0, installed.stdout + installed.stderr
    elsewhere = tmp_path / "elsewhere"  # not the checkout: the installed package is imported
    elsewhere.mkdir()
    asked = subprocess.run(
        [str(python), "-c", "import globalhook, globalhook.tracking as t; print(globalhook.__file__); print(t.CORE, t.CORE_REASON)"],
        cwd=elsewhere, capture_output=True, text=True, timeout=120, env=clean_env(),
    )
    assert asked.returncode == 0, asked.stderr
    where, core = asked.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    assert core.split()[0] == "c", core
    status = subprocess.run([str(bin_dir / "globalhook"), "status"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=120, env=clean_env())
    assert "core: compiled (C)" in status.stdout, status.stdout + status.stderr
    version = subprocess.run([str(bin_dir / "globalhook"), "--version"], cwd=elsewhere,
                             capture_output=True, text=True, timeout=120, env=clean_env())
    assert version.stdout.strip() == f"globalhook {__version__}"
