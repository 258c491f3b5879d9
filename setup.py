"""Build the optional compiled core; everything else is in pyproject.toml.

Like coverage.py's C tracer, the extension is optional: without a compiler
(or with GLOBALHOOK_NO_EXTENSION=1, or on a Python that is not CPython or has
no GIL) the install still succeeds and globalhook uses its pure-Python core.
"""

import os
import platform
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Never fail the install because the accelerator did not build."""

    def run(self):
        try:
            super().run()
        except Exception as error:  # no compiler at all, broken toolchain, ...
            self.warn(f"globalhook: compiled core not built ({error}); using the pure-Python core")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as error:
            self.warn(f"globalhook: compiled core not built ({error}); using the pure-Python core")


def _want_extension() -> bool:
    if os.environ.get("GLOBALHOOK_NO_EXTENSION"):
        return False
    if platform.python_implementation() != "CPython":
        return False
    return not sysconfig.get_config_var("Py_GIL_DISABLED")


setup(
    ext_modules=[Extension("globalhook._ctracking", ["globalhook/_ctracking.c"], optional=True)]
    if _want_extension()
    else [],
    cmdclass={"build_ext": OptionalBuildExt},
)
