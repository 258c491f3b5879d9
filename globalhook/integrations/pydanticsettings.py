"""pydantic-settings: reads of ``BaseSettings`` fields, and the environment variables behind them.

A field is an instance attribute, so ``BaseSettings`` gets a
``__getattribute__`` that records the reads of its fields (owner: the
settings class, ``app.config.Settings``).  Building a settings object makes
pydantic-settings copy the whole environment (``EnvSettingsSource``); that
scan is not recorded.  Instead each field's own variables (prefix, alias,
case as pydantic-settings matches them) are recorded as reads of
``os.environ`` by the code that built the object, set or not: a variable
that appears later changes the settings.
"""

from __future__ import annotations

import os
import sys

from ..configreads import name_label
from ..envreads import OWNER as ENVIRON, Hushed
from ..tracking import count_config

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["watch_settings"]

_getframe = sys._getframe
_type = type
_watched: set = set()
#: settings class -> its owner label and field names.
_fields: dict = {}


def _owner_and_fields(cls: type) -> "tuple":
    found = _fields.get(cls)
    if found is None:
        found = _fields[cls] = (f"{cls.__module__}.{cls.__qualname__}", frozenset(getattr(cls, "model_fields", ())))
    return found


def watch_settings(main: "ModuleType") -> None:
    """Wrap ``BaseSettings`` attribute reads and ``EnvSettingsSource`` (once)."""
    base = main.BaseSettings
    if base in _watched:
        return
    _watched.add(base)
    getattribute = base.__getattribute__

    def __getattribute__(self, name):
        owner, fields = _owner_and_fields(_type(self))
        if name in fields:
            count_config(False, owner, name, _getframe(1))
        return getattribute(self, name)

    __getattribute__.__qualname__ = getattribute.__qualname__
    __getattribute__.__module__ = getattr(getattribute, "__module__", None) or base.__module__
    __getattribute__.__wrapped__ = getattribute  # type: ignore[attr-defined]
    base.__getattribute__ = __getattribute__
    sources = sys.modules.get("pydantic_settings.sources")
    source = getattr(sources, "EnvSettingsSource", None)
    if source is not None and hasattr(source, "_extract_field_info"):
        _watch_env_source(source, getattr(sources, "DotEnvSettingsSource", None))


def _watch_env_source(source: type, dotenv: "type | None") -> None:
    init, get_field_value = source.__init__, source.get_field_value

    def __init__(self, *args, **kwargs):
        with Hushed():  # it copies the whole environment: the fields' own names are recorded instead
            init(self, *args, **kwargs)

    def get_field_value_(self, field, field_name):
        if dotenv is None or not isinstance(self, dotenv):
            try:
                names = [info[1] for info in self._extract_field_info(field, field_name)]
            except Exception:  # an internal that changed: record nothing rather than fail the program
                names = []
            frame = _getframe(1)
            for name in names:
                if isinstance(name, str):
                    count_config(False, ENVIRON, name_label(_variable(name, self)), frame)
        with Hushed():
            return get_field_value(self, field, field_name)

    for function, original in ((__init__, init), (get_field_value_, get_field_value)):
        function.__name__ = original.__name__
        function.__qualname__ = original.__qualname__
        function.__module__ = original.__module__
        function.__doc__ = original.__doc__
        function.__wrapped__ = original  # type: ignore[attr-defined]
    source.__init__ = __init__
    source.get_field_value = get_field_value_


def _variable(name: str, source: object) -> str:
    """The environment's own spelling of a variable pydantic-settings looks up
    (lower-cased when matching ignores case); upper case when it is not set."""
    if getattr(source, "case_sensitive", False):
        return name
    with Hushed():
        for key in os.environ:
            if key.lower() == name:
                return key
    return name.upper()
