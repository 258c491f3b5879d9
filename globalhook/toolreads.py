"""Which code is a tool's: reads it makes of a project's globals are not the project's.

Test runners and introspection look into the modules they work on: pytest
probes every test module for ``setup_module``, ``pytestmark`` and
``pytest_plugins`` and reads ``__tracebackhide__`` from every frame of a
failure, ``unittest.mock`` reads the global it patches, ``inspect`` and
``typing`` look at objects, ``pickle`` finds a class through its module.
Those reads are recorded for the tool's own code (its module is the
reader); the answers then keep them apart from the project's (``check``
leaves them out, ``report`` lists them last).

A plain list of top-level packages, so that what counts is easy to say and
to check: no guess from where a file lives.
"""

from __future__ import annotations

__all__ = ["TOOL_PACKAGES", "is_tool_module"]

#: Packages whose code reads other modules' globals to do its own job.
TOOL_PACKAGES = (
    "_pytest", "pytest", "pluggy", "xdist", "inspect", "importlib", "pkgutil", "doctest", "unittest",
    "pydoc", "pickle", "copyreg", "typing", "globalhook",
)
_PREFIXES = tuple(package + "." for package in TOOL_PACKAGES)


def is_tool_module(module: str) -> bool:
    """Is ``module`` one of :data:`TOOL_PACKAGES` or inside one?"""
    return module in TOOL_PACKAGES or module.startswith(_PREFIXES)
