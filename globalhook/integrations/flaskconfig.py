"""Flask: reads of ``app.config`` keys (owner ``flask.config``).

``flask.Config`` is a ``dict`` subclass whose reads never reach Python code:
the class gets ``__getitem__``, ``get`` and ``__contains__`` that record the
key, then do what ``dict`` does.  Every ``Config`` is one owner, whichever
app it belongs to; a read by Flask's own code is charged to the tracked code
that called into Flask (a view, a test).  Writes are not recorded: an app
factory fills a new ``Config`` for every test, which would make every test
look like it changes what the others read.
"""

from __future__ import annotations

import sys

from ..configreads import name_label
from ..tracking import count_config

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["OWNER", "watch_config"]

OWNER = "flask.config"

_getframe = sys._getframe
_type = type
_watched: set = set()


def _label(key: object) -> str:
    return key if _type(key) is str and key.isidentifier() else name_label(key)  # type: ignore[return-value,union-attr]


def watch_config(module: "ModuleType") -> None:
    """Wrap ``flask.config.Config``'s key reads (once)."""
    config = module.Config
    if config in _watched:
        return
    getitem, get, contains = config.__getitem__, config.get, config.__contains__

    def __getitem__(self, key):
        count_config(False, OWNER, _label(key), _getframe(1))
        return getitem(self, key)

    def get_(self, key, default=None):
        count_config(False, OWNER, _label(key), _getframe(1))
        return get(self, key, default)

    def __contains__(self, key):
        count_config(False, OWNER, _label(key), _getframe(1))
        return contains(self, key)

    for name, function, original in (("__getitem__", __getitem__, getitem), ("get", get_, get), ("__contains__", __contains__, contains)):
        function.__name__ = name
        function.__qualname__ = getattr(original, "__qualname__", name)
        function.__module__ = config.__module__
        function.__doc__ = original.__doc__
        function.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(config, name, function)
    _watched.add(config)
