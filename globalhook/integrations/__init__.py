"""Adapters for frameworks' settings objects, each loaded only when the program imports that framework.

A framework's configuration is read through its own object (Django's
``settings``, Flask's ``app.config``, pydantic's ``BaseSettings``), not
through globals, so the tracking dict never sees the setting's name.  Each
adapter here wraps that object's class so that reads and writes are recorded
like environment variables (:mod:`globalhook.configreads`): kind ``read`` or
``write``, owner the object (``django.conf.settings``), charged to the
innermost tracked function on the stack.

Layer: beside the session (process & data), above the engine; the engine
never imports these, and none of them imports its framework: each is handed
the framework's module by :func:`globalhook.postimport.when_imported` once
the program has imported it.
"""

from __future__ import annotations

from ..postimport import when_imported

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType
    from typing import Callable

__all__ = ["watch_frameworks", "ADAPTERS"]

#: framework module -> (adapter module in this package, its function taking that module).
ADAPTERS = {
    "django.conf": ("djangosettings", "watch_settings"),
    "django.test.utils": ("djangosettings", "watch_overrides"),
    "flask.config": ("flaskconfig", "watch_config"),
    "pydantic_settings.main": ("pydanticsettings", "watch_settings"),
}


def watch_frameworks() -> None:
    """Load each adapter when (if ever) the program imports its framework."""
    for module_name, adapter in ADAPTERS.items():
        when_imported(module_name, _adapter(*adapter))  # not functools.partial: nothing more is preloaded


def _adapter(module_name: str, function: str) -> "Callable[[ModuleType], None]":
    def adapt(module: "ModuleType") -> None:
        import importlib

        getattr(importlib.import_module(f"{__name__}.{module_name}"), function)(module)

    return adapt
