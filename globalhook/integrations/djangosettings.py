"""Django: reads and writes of settings through ``django.conf.settings``.

``settings`` is a ``LazySettings`` that caches each value in its own
``__dict__`` after the first read, so only a ``__getattribute__`` sees every
read.  The class gets one that records upper-case names (Django's rule for
settings) read on the ``settings`` object itself, then does what it did;
``setattr``/``delattr`` (pytest-django's ``settings`` fixture) are writes.
``override_settings`` (decorator or context manager) is a write of each name
it overrides, charged to the tracked code that entered it, or else to the
Django code that entered it (a decorated test's wrapper, ``setUpClass``), so
that the test it wraps still has it in its context.
"""

from __future__ import annotations

import sys

from ..configreads import NOT_FOUND, register_resolver
from ..tracking import count_config

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["OWNER", "watch_settings", "watch_overrides"]

OWNER = "django.conf.settings"

_getframe = sys._getframe
_type = type
#: The LazySettings classes wrapped (once each, whichever way django.conf is reached).
_watched: set = set()


def _setting(name: object) -> bool:
    return _type(name) is str and name.isupper() and name.isidentifier()  # type: ignore[union-attr]


def watch_settings(conf: "ModuleType") -> None:
    """Wrap ``django.conf.LazySettings`` (once) so that ``settings.NAME`` is recorded."""
    lazy = conf.LazySettings
    if lazy in _watched:
        return
    settings = conf.settings
    getattribute, setattr_, delattr_ = lazy.__getattribute__, lazy.__setattr__, lazy.__delattr__

    def __getattribute__(self, name):
        if self is settings and _setting(name):
            count_config(False, OWNER, name, _getframe(1))
        return getattribute(self, name)

    def __setattr__(self, name, value):
        setattr_(self, name, value)
        if self is settings and _setting(name):
            count_config(True, OWNER, name, _getframe(1))

    def __delattr__(self, name):
        delattr_(self, name)
        if self is settings and _setting(name):
            count_config(True, OWNER, name, _getframe(1))

    for function, original in ((__getattribute__, getattribute), (__setattr__, setattr_), (__delattr__, delattr_)):
        function.__qualname__ = original.__qualname__
        function.__module__ = lazy.__module__
        function.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(lazy, function.__name__, function)
    _watched.add(lazy)

    def current(name: str) -> object:
        # Read through LazySettings' own __getattribute__: not recorded.
        try:
            return getattribute(settings, name)
        except AttributeError:
            return NOT_FOUND

    register_resolver(OWNER, current)


def watch_overrides(utils: "ModuleType") -> None:
    """Wrap ``override_settings.enable`` (once): each overridden name is a write."""
    override = utils.override_settings
    enable = override.enable
    if getattr(enable, "_globalhook_wrapper", False):
        return

    def wrapped_enable(self):
        result = enable(self)
        frame = _getframe(1)  # override_settings.__enter__, or the tracked code that called enable()
        for name in getattr(self, "options", {}):
            if _setting(name):
                count_config(True, OWNER, name, frame, True)
        return result

    wrapped_enable.__name__ = enable.__name__
    wrapped_enable.__qualname__ = enable.__qualname__
    wrapped_enable.__module__ = enable.__module__
    wrapped_enable.__doc__ = enable.__doc__
    wrapped_enable.__wrapped__ = enable  # type: ignore[attr-defined]
    wrapped_enable._globalhook_wrapper = True  # type: ignore[attr-defined]
    override.enable = wrapped_enable
