"""Teach picklers that dispatch on the exact type about tracked modules.

Native tracked modules whose attribute reads are recorded are of
:data:`~globalhook.tracking.AttributeModule`, a subclass of
``types.ModuleType``; the proxy strategy's modules are of
:class:`~globalhook.modules.ProxyModule`, which is no module type at all.  Plain ``pickle`` and ``copy`` refuse them exactly as
any module ("cannot pickle 'module' object"), but cloudpickle and dill pickle
modules by reference through a table keyed by ``type(obj)``
(``Pickler._dispatch_table[types.ModuleType]``, ``Pickler.dispatch``), which
a subclass would miss.  When the program imports one of them (never before:
see :mod:`globalhook.postimport`), those types get the same entry.  (A module whose class the program
changed to a ``ModuleType`` subclass gets none: untracked, these picklers
refuse it too.)
"""

from __future__ import annotations

import types

from .postimport import when_imported
from .tracking import AttributeModule

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import List, Optional

__all__ = ["register_when_imported", "register"]

#: Modules holding a cloudpickle (vendored copies included) or dill.
WATCHED = ("cloudpickle", "joblib.externals.cloudpickle", "dill")

_registered = False
#: The types of tracked modules that stand for ``types.ModuleType`` itself.
_TYPES: "List[type]" = [AttributeModule]
#: Every dispatch table an imported pickler has for modules, for types registered later.
_TABLES: "List[dict]" = []


def register_when_imported(module_type: "Optional[type]" = None) -> None:
    """Register tracked modules (and ``module_type``) with each watched pickler when (if ever) it is imported."""
    global _registered
    if module_type is not None and module_type not in _TYPES:
        _TYPES.append(module_type)
        for table in _TABLES:
            table.setdefault(module_type, table[types.ModuleType])
    if _registered:
        return
    _registered = True
    for name in WATCHED:
        when_imported(name, register)


def register(package: types.ModuleType) -> None:
    """Give tracked module types the reducer that ``package`` has for ``types.ModuleType``."""
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
                    if not any(table is known for known in _TABLES):
                        _TABLES.append(table)
                    for module_type in _TYPES:
                        table.setdefault(module_type, table[types.ModuleType])
