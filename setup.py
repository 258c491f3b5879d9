"""Build the optional compiled core; everything else is in pyproject.toml.

Like coverage.py's C tracer, the extension is optional: without a compiler,
on a Python that is not CPython, on a CPython the core does not know (it
knows 3.9 to 3.14, with the GIL or free-threaded), or with
GLOBALHOOK_NO_EXTENSION=1, the install still succeeds and globalhook uses its
pure-Python core.  It is never silent about it: the build prints one line
saying that the compiled core was not built and why (``pip install -v``
shows build output), ``globalhook status`` names the core in use and why, and
``globalhook run`` warns where the compiled core should have been.
GLOBALHOOK_REQUIRE_C=1 turns a failed build into a failed install.
"""

import os
import platform
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: The CPythons _ctracking.c knows; keep in step with it and tracking.C_VERSIONS.
KNOWN = ((3, 9), (3, 14))


_told = []


def _not_built(why: str) -> None:
    if _told:  # one line: a failed compile also fails the in-place copy after it
        return
    _told.append(why)
    if os.environ.get("GLOBALHOOK_REQUIRE_C"):
        raise SystemExit(f"globalhook: the compiled core was not built ({why}) and GLOBALHOOK_REQUIRE_C is set")
    print(f"globalhook: the compiled core was NOT built ({why}); globalhook will use its pure-Python core",
          file=sys.stderr)


def _why_failed(error: Exception) -> str:
    text = " ".join(str(error).split())
    if not text or len(text) > 100:  # a whole compiler command line says nothing new
        text = type(error).__name__
    return f"the C build failed: {text}; the compiler's messages are above"


class OptionalBuildExt(build_ext):
    """Never fail the install because the accelerator did not build; say so once."""

    def run(self):
        try:
            super().run()
        except Exception as error:  # no compiler at all, broken toolchain, ...
            _not_built(_why_failed(error))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as error:
            _not_built(_why_failed(error))
            return


def _why_not_wanted():
    """None when the extension should be built, else why not (a few words)."""
    if os.environ.get("GLOBALHOOK_NO_EXTENSION"):
        return "GLOBALHOOK_NO_EXTENSION is set"
    if platform.python_implementation() != "CPython":
        return f"it is for CPython, this is {platform.python_implementation()}"
    version = sys.version_info[:2]
    if not KNOWN[0] <= version <= KNOWN[1]:
        return "it knows CPython {}.{} to {}.{}, this is {}.{}".format(*KNOWN[0], *KNOWN[1], *version)
    if sysconfig.get_config_var("Py_GIL_DISABLED") and version < (3, 14):
        return "on free-threaded CPython it needs 3.14t or newer, this is {}.{}t".format(*version)
    return None


_BUILDING = ("build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install")
_why = _why_not_wanted()
if _why is not None and any(command in sys.argv for command in _BUILDING):
    _not_built(_why)  # once, not for every metadata query

setup(
    ext_modules=[Extension("globalhook._ctracking", ["globalhook/_ctracking.c"])] if _why is None else [],
    cmdclass={"build_ext": OptionalBuildExt},
)
