"""The start-up hook: one file in site-packages that lets every process start tracking.

``site.py`` executes each ``.pth`` line that starts with ``import`` at every
interpreter start, so one line in site-packages reaches subprocesses and
multiprocessing spawn children without touching the program, the way
coverage.py's ``COVERAGE_PROCESS_START`` does.  We write a ``.pth`` line and
never a ``sitecustomize.py``: there is only one ``sitecustomize`` per
interpreter, and one already there (a distribution's, a company's) must keep
running untouched.

PEP 829 (CPython 3.15) deprecates ``import`` lines in ``.pth`` files in favour
of ``<name>.start`` files holding ``pkg.mod:callable`` entry points; a
``<name>.start`` file makes site.py skip the ``import`` lines of the matching
``<name>.pth`` silently, 3.18 ignores such lines and 3.20 warns about them.
So what is written depends on the Python that reads the folder
(:func:`files_for`): the ``.pth`` line before 3.15; from 3.15 to 3.17 the
``.start`` file and the ``.pth`` line beside it (a folder an older Python
also reads keeps working, and the ``.start`` file keeps 3.15 from even
mentioning the ``import`` line); the ``.start`` file alone from 3.18.  The
``.start`` entry point is :func:`globalhook.startup.process_start`, which is
just as cheap when not activated (``globalhook`` imports nothing on its own),
but unlike the ``.pth`` line it cannot stay silent when globalhook is gone:
run ``globalhook uninstall`` before removing the package.

That line runs in every Python process of the environment, tracked or not, so
it must cost next to nothing: it imports ``globalhook`` only when
``GLOBALHOOK_PROCESS_START`` is set (non-empty), or when ``pyproject.toml``
in the current folder could enable tracking: with ``GLOBALHOOK_CONFIG`` set
(another file decides), or when its bytes do not prove otherwise (see
:func:`globalhook.startup.may_enable`, which the line inlines).
:func:`globalhook.startup.process_start` decides the rest.  If ``globalhook`` has been uninstalled and the file left behind, the
line does nothing and prints nothing; any other error shows, since ``site.py``
reports it and goes on with the next ``.pth`` file.

We change only our own file, and only inside a virtual environment unless
asked for the system Python explicitly.
"""

from __future__ import annotations

import os
import stat
import sys
import sysconfig
from importlib.machinery import PathFinder
TYPE_CHECKING = False  # not from typing (see globalhook/__init__.py)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Optional, Tuple

from .atomic import write_atomically

__all__ = [
    "ENV_PROCESS_START",
    "PTH_LINE",
    "PTH_NAME",
    "START_LINE",
    "START_NAME",
    "SiteHookError",
    "default_site_dir",
    "describe_status",
    "files_for",
    "in_virtualenv",
    "install",
    "pth_path",
    "status",
    "uninstall",
]

#: Sorts after ``__editable__*.pth`` and ``distutils-precedence.pth``: site.py
#: reads .pth files in sorted order, so an editable install of globalhook is
#: already on ``sys.path`` when our line runs.  (A bare ``globalhook.pth``,
#: as flit or pdm write for editable installs, sorts after it: "-" < ".".)
PTH_NAME = "globalhook-startup.pth"

ENV_PROCESS_START = "GLOBALHOOK_PROCESS_START"

# What the line executes once activated.  Only "globalhook is not there" is
# silent (the package was uninstalled, or is too old to have startup.py);
# a broken install and a bug in process_start() must be seen.  The sys.modules
# check is there because site.py runs the .pth files of a venv's site-packages
# twice (CPython gh-75723): process_start() must run once per process.
_ACTIVATE = (
    "if 'globalhook.startup' not in sys.modules:\n"
    "    try:\n"
    "        import globalhook.startup\n"
    "    except ImportError as exc:\n"
    "        if exc.name not in ('globalhook', 'globalhook.startup'):\n"
    "            raise\n"
    "    else:\n"
    "        globalhook.startup.process_start()\n"
)

#: An expression, true when the bytes of ``pyproject.toml`` could enable
#: tracking: :func:`globalhook.startup.may_enable`, inlined so that a folder
#: whose pyproject.toml cannot enable it costs no import at all.  Written
#: without lambdas or generators (each nested code object costs more to
#: compile than the check itself), and compiled only where a pyproject.toml
#: is present.
MAY_ENABLE = (
    "(_gh := os.read(_ghfd := os.open('pyproject.toml', os.O_RDONLY), (1 << 18) + 1), os.close(_ghfd))"
    " and len(_gh) <= 1 << 18 and (b'\\\\u' in _gh or b'\\\\U' in _gh or b'globalhook' in _gh and b'true' in _gh"
    " and b'enabled' in _gh.translate(None, b' \\t\"\\'').replace(b'enabled=false', b''))"
)

#: Run where a pyproject.toml is present: import globalhook only if it could
#: enable tracking (``_gha`` is the line's copy of ``_ACTIVATE``).
_CHECK = (
    "exec(_gha) if os.environ.get('GLOBALHOOK_CONFIG', '').strip()"
    f" or os.access('pyproject.toml', os.R_OK) and {MAY_ENABLE} else None"
)

#: One line, because site.py executes a .pth file line by line, and only the
#: lines that start with ``import``.  Where there is neither the variable nor
#: a pyproject.toml (most processes), that is all it costs.
PTH_LINE = (
    f"import os, sys; _gha = {_ACTIVATE!r}; exec(_gha) if os.environ.get({ENV_PROCESS_START!r}, '').strip() "
    f"else exec({_CHECK!r}) if os.path.isfile('pyproject.toml') else None"
)

_CONTENT = (PTH_LINE + "\n").encode("utf-8")

#: PEP 829's replacement for the line: same base name as the .pth file, so
#: that 3.15-3.17 skip the .pth's import line when both are there.
START_NAME = PTH_NAME[: -len(".pth")] + ".start"
#: The entry point; process_start() decides, cheaply, whether to activate.
START_LINE = "globalhook.startup:process_start"

_START_CONTENT = (START_LINE + "\n").encode("utf-8")
_CONTENTS = {PTH_NAME: _CONTENT, START_NAME: _START_CONTENT}

#: The Python whose site.py reads the folder by default: this one.
_VERSION: Tuple[int, int] = (sys.version_info[0], sys.version_info[1])


def files_for(version: Optional[Tuple[int, int]] = None) -> Tuple[str, ...]:
    """Our files that the site.py of Python ``version`` needs, in the order they are written.

    PEP 829: ``.start`` files exist from 3.15; ``import`` lines in ``.pth``
    files run until 3.17 unless a matching ``.start`` file exists, are
    ignored from 3.18 and warned about from 3.20.
    """
    version = tuple(version or _VERSION)[:2]  # type: ignore[assignment]
    if version < (3, 15):
        return (PTH_NAME,)
    if version < (3, 18):
        return (START_NAME, PTH_NAME)  # the .start first: never a lone .pth import line on 3.15
    return (START_NAME,)


class SiteHookError(Exception):
    """One-line, user-facing message: why the hook cannot be installed or removed here."""


def in_virtualenv() -> bool:
    """True in a venv (or an old-style virtualenv, which sets ``sys.real_prefix``)."""
    if getattr(sys, "real_prefix", None) is not None:
        return True
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix)


def default_site_dir() -> str:
    """This environment's site-packages for pure-Python files, where pip puts globalhook."""
    return sysconfig.get_paths()["purelib"]


def pth_path(site_dir: Optional[str] = None) -> str:
    """Where our ``.pth`` file lives (or would live) in ``site_dir``."""
    return os.path.join(site_dir if site_dir is not None else default_site_dir(), PTH_NAME)


def _target(site_dir: Optional[str], system: bool, action: str) -> str:
    """The folder to change, refusing the system Python's site-packages unless asked."""
    if site_dir is None:
        site_dir = default_site_dir()
        if not system and not in_virtualenv():
            raise SiteHookError(
                f"refusing to {action} the start-up hook in the system Python's site-packages "
                f"({site_dir}): activate a virtual environment, or pass --system"
            )
    return site_dir


def _read_ours(path: str) -> Optional[bytes]:
    """Content of our file, None if absent; an error if something else has our name."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SiteHookError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise SiteHookError(f"{path}: exists and is not a regular file; remove it by hand")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise SiteHookError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _write_atomically(path: str, content: bytes) -> None:
    try:
        write_atomically(path, content)
    except OSError as exc:
        raise SiteHookError(f"{path}: cannot write ({exc.strerror or exc})") from None


def install(
    site_dir: Optional[str] = None, system: bool = False, version: Optional[Tuple[int, int]] = None
) -> Tuple[str, bool]:
    """Write the files Python ``version`` (default: this one) needs; ``(path, changed)``.

    ``path`` is the first of :func:`files_for`.  Idempotent: a file that
    already holds exactly our content is left alone (same bytes, same mtime).
    A file with our name but other content, such as an older version's line,
    is ours and is rewritten.
    """
    folder = _target(site_dir, system, "install")
    names = files_for(version)
    changed = False
    for name in names:
        path = os.path.join(folder, name)
        if _read_ours(path) != _CONTENTS[name]:
            _write_atomically(path, _CONTENTS[name])
            changed = True
    return os.path.join(folder, names[0]), changed


def uninstall(
    site_dir: Optional[str] = None, system: bool = False, version: Optional[Tuple[int, int]] = None
) -> Tuple[str, bool]:
    """Remove our files (``.pth`` and ``.start``), whatever their content, and nothing else.

    Returns ``(path, changed)``, ``path`` as :func:`install` gives it.
    """
    folder = _target(site_dir, system, "uninstall")
    ours = [os.path.join(folder, name) for name in (PTH_NAME, START_NAME)]
    present = [path for path in ours if _read_ours(path) is not None]  # all checked before any removal
    changed = False
    for path in present:
        try:
            os.remove(path)
            changed = True
        except FileNotFoundError:  # removed meanwhile by someone else: the result we want
            pass
        except OSError as exc:
            raise SiteHookError(f"{path}: cannot remove ({exc.strerror or exc})") from None
    return os.path.join(folder, files_for(version)[0]), changed


def _find_sitecustomize(site_dir: str) -> Optional[str]:
    """Where a ``sitecustomize`` module would come from, without importing it.

    ``site_dir`` first (it may not be this interpreter's), then ``sys.path``
    less the current folder, which is not on the path when site.py runs.
    """
    search = [site_dir] + [entry for entry in sys.path if entry]
    try:
        spec = PathFinder.find_spec("sitecustomize", search)
    except (ImportError, ValueError, OSError):  # pragma: no cover - a broken path entry
        return None
    if spec is None:
        return None
    if spec.has_location and spec.origin:
        return spec.origin
    locations = list(spec.submodule_search_locations or ())  # a namespace package
    return locations[0] if locations else None


def status(site_dir: Optional[str] = None, version: Optional[Tuple[int, int]] = None) -> Dict[str, Any]:
    """What ``globalhook install --check`` reports; reads only, and never fails on our files.

    ``installed``: a regular file with one of our names exists.  ``current``:
    every file Python ``version`` needs holds exactly this version's content.
    ``files``: those files' paths.  ``sitecustomize``: informational; ours
    does not replace it.
    """
    if site_dir is None:
        site_dir = default_site_dir()
    contents: Dict[str, Optional[bytes]] = {}
    for name in (PTH_NAME, START_NAME):
        try:
            contents[name] = _read_ours(os.path.join(site_dir, name))
        except SiteHookError:
            contents[name] = None
    needed = files_for(version)
    return {
        "site_dir": site_dir,
        "pth": pth_path(site_dir),
        "files": [os.path.join(site_dir, name) for name in needed],
        "installed": any(content is not None for content in contents.values()),
        "current": all(contents[name] == _CONTENTS[name] for name in needed),
        "virtualenv": in_virtualenv(),
        "sitecustomize": _find_sitecustomize(site_dir),
    }


def describe_status(info: Dict[str, Any]) -> str:
    """Several lines for a person, from a :func:`status` dict."""
    site_dir = info["site_dir"]
    files = ", ".join(info.get("files") or [info["pth"]])
    if info["current"]:
        lines = [f"globalhook start-up hook: installed in {site_dir} ({files})"]
    elif info["installed"]:
        lines = [
            f"globalhook start-up hook: installed in {site_dir} ({files}), "
            "but from another version: run `globalhook install` to update it"
        ]
    else:
        lines = [f"globalhook start-up hook: not installed in {site_dir}"]
    if info["installed"]:
        lines.append(
            f"  it imports globalhook only when {ENV_PROCESS_START} or GLOBALHOOK_CONFIG is set, "
            "or pyproject.toml in the current folder mentions globalhook and enabled"
        )
    if info["virtualenv"]:
        lines.append("virtual environment: yes")
    else:
        lines.append("virtual environment: no (changing this Python's site-packages needs --system)")
    if info["sitecustomize"]:
        lines.append(f"sitecustomize: {info['sitecustomize']} (left as it is; it still runs)")
    else:
        lines.append("sitecustomize: none found")
    return "\n".join(lines)
