"""The interactive console of ``globalhook repl`` and ``globalhook run -i``.

It runs each input in the tracked ``__main__``'s namespace as its globals
(``code.InteractiveConsole`` calls ``exec(code, namespace)``), so functions
defined at the prompt have that namespace as ``__globals__`` and their reads
are recorded like any tracked module's.  Each input is the ``<module>`` code of
the file ``<console>``.  As with ``python``, prompts go to stderr when the
input is not a terminal, and leaving the console (end of input) exits with
status 0; ``sys.exit(n)`` exits with ``n``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not from typing
if TYPE_CHECKING:  # pragma: no cover
    import types

__all__ = ["interact"]


def interact(module: "types.ModuleType", banner: "str | None" = None) -> None:
    """Read, run and print inputs in ``module``'s namespace until the input ends."""
    import code

    class Console(code.InteractiveConsole):
        def raw_input(self, prompt: str = "") -> str:
            if sys.stdin is not None and sys.stdin.isatty():
                return input(prompt)
            sys.stderr.write(prompt)
            sys.stderr.flush()
            line = sys.stdin.readline() if sys.stdin is not None else ""
            if not line:
                raise EOFError
            return line[:-1] if line.endswith("\n") else line

    if sys.stdin is not None and sys.stdin.isatty():
        try:
            import readline  # noqa: F401 - line editing and history, as python's REPL has
        except ImportError:
            pass
    console = Console(module.__dict__, filename="<console>")
    console.interact(banner="" if banner is None else banner, exitmsg="")
