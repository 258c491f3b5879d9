"""The start-up hook: one ``.pth`` file that lets every process start tracking.

``site.py`` executes each ``.pth`` line that starts with ``import`` at every
interpreter start, so one line in site-packages reaches subprocesses and
multiprocessing spawn children without touching the program, the way
coverage.py's ``COVERAGE_PROCESS_START`` does.  We write a ``.pth`` line and
never a ``sitecustomize.py``: there is only one ``sitecustomize`` per
interpreter, and one already there (a distribution's, a company's) must keep
running untouched.

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
    "SiteHookError",
    "default_site_dir",
    "describe_status",
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
    "(_gh := os.read(_ghfd := os.open('pyproject.toml', os.O_RDONLY), 1 << 24), os.close(_ghfd))"
    " and (len(_gh) >= 1 << 24 or b'\\\\u' in _gh or b'\\\\U' in _gh or b'globalhook' in _gh and b'true' in _gh"
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
    """The .pth path to change, refusing the system Python's folder unless asked."""
    if site_dir is None:
        site_dir = default_site_dir()
        if not system and not in_virtualenv():
            raise SiteHookError(
                f"refusing to {action} the start-up hook in the system Python's site-packages "
                f"({site_dir}): activate a virtual environment, or pass --system"
            )
    return os.path.join(site_dir, PTH_NAME)


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


def install(site_dir: Optional[str] = None, system: bool = False) -> Tuple[str, bool]:
    """Write our .pth file; ``(path, changed)``.

    Idempotent: when the file already holds exactly our line it is left alone
    (same bytes, same mtime).  A file with our name but other content, such
    as an older version's line, is ours and is rewritten.
    """
    path = _target(site_dir, system, "install")
    if _read_ours(path) == _CONTENT:
        return path, False
    _write_atomically(path, _CONTENT)
    return path, True


def uninstall(site_dir: Optional[str] = None, system: bool = False) -> Tuple[str, bool]:
    """Remove our .pth file, whatever its content, and nothing else; ``(path, changed)``."""
    path = _target(site_dir, system, "uninstall")
    if _read_ours(path) is None:
        return path, False
    try:
        os.remove(path)
    except FileNotFoundError:  # removed meanwhile by someone else: the result we want
        return path, False
    except OSError as exc:
        raise SiteHookError(f"{path}: cannot remove ({exc.strerror or exc})") from None
    return path, True


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


def status(site_dir: Optional[str] = None) -> Dict[str, Any]:
    """What ``globalhook install --check`` reports; reads only, and never fails on our file.

    ``installed``: a regular file with our name exists.  ``current``: it holds
    exactly this version's line.  ``sitecustomize``: informational; ours does
    not replace it.
    """
    if site_dir is None:
        site_dir = default_site_dir()
    path = pth_path(site_dir)
    try:
        content: Optional[bytes] = _read_ours(path)
    except SiteHookError:
        content = None
    return {
        "site_dir": site_dir,
        "pth": path,
        "installed": content is not None,
        "current": content == _CONTENT,
        "virtualenv": in_virtualenv(),
        "sitecustomize": _find_sitecustomize(site_dir),
    }


def describe_status(info: Dict[str, Any]) -> str:
    """Several lines for a person, from a :func:`status` dict."""
    site_dir, pth = info["site_dir"], info["pth"]
    if info["current"]:
        lines = [f"globalhook start-up hook: installed in {site_dir} ({pth})"]
    elif info["installed"]:
        lines = [
            f"globalhook start-up hook: installed in {site_dir} ({pth}), "
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
