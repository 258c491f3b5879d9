"""Teach picklers that dispatch on the exact type about tracked modules.

Native tracked modules whose attribute reads are recorded are of
:data:`~globalhook.tracking.AttributeModule`, a subclass of
``types.ModuleType``.  Plain ``pickle`` and ``copy`` refuse them exactly as
any module ("cannot pickle 'module' object"), but cloudpickle and dill pickle
modules by reference through a table keyed by ``type(obj)``
(``Pickler._dispatch_table[types.ModuleType]``, ``Pickler.dispatch``), which
a subclass would miss.  When the program imports one of them (never before:
see :mod:`globalhook.postimport`), the module type gets the same entry.
"""

from __future__ import annotations

import types

from .postimport import when_imported
from .tracking import AttributeModule

__all__ = ["register_when_imported", "register"]

#: Modules holding a cloudpickle (vendored copies included) or dill.
WATCHED = ("cloudpickle", "joblib.externals.cloudpickle", "dill")

_registered = False


def register_when_imported() -> None:
    """Register tracked modules with each watched pickler when (if ever) it is imported."""
    global _registered
    if _registered:
        return
    _registered = True
    for name in WATCHED:
        when_imported(name, register)


def register(package: types.ModuleType) -> None:
    """Give ``AttributeModule`` the reducer that ``package`` has for ``types.ModuleType``."""
    holders = [package]
    for sub in ("cloudpickle", "cloudpickle_fast", "_dill"):
        found = getattr(package, sub, None)
        if isinstance(found, types.ModuleType):
            holders.append(found)
    for holder in holders:
        for owner in (holder, getattr(holder, "Pickler", None), getattr(holder, "CloudPickler", None)):
            for attribute in ("_dispatch_table", "dispatch"):
                table = getattr(owner, attribute, None) if owner is not None else None
                if isinstance(table, dict) and types.ModuleType in table:
                    table.setdefault(AttributeModule, table[types.ModuleType])
