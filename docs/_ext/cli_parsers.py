"""The real parsers of ``globalhook``'s commands, for the command-line reference.

The commands build their ``argparse`` parsers inside themselves (so that
``globalhook run`` never imports argparse before the program starts).  To
document exactly what they accept, each command is called with ``--help``
while ``ArgumentParser.parse_args`` is replaced by a catch that hands back
the parser it was called on: nothing runs past the parsing, and a command
added later is documented without an edit here.  ``run`` and ``repl`` parse
their options by hand; their help text is what ``--help`` prints.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Union


class _Caught(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


@contextlib.contextmanager
def _catching() -> Iterator[None]:
    real = argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args

    def catch(self, *args, **kwargs):
        raise _Caught(self)

    argparse.ArgumentParser.parse_args = catch  # type: ignore[method-assign]
    argparse.ArgumentParser.parse_known_args = catch  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args = real  # type: ignore[method-assign]


def command_parsers() -> Dict[str, Union[argparse.ArgumentParser, str]]:
    """Each command's parser, or for ``run``/``repl`` their help text, in the CLI's order."""
    from globalhook import cli

    found: Dict[str, Union[argparse.ArgumentParser, str]] = {}
    for name, command in cli._COMMANDS.items():
        if command is None:
            found[name] = cli._RUN_HELP if name == "run" else cli._REPL_HELP
            continue
        with _catching(), contextlib.redirect_stdout(io.StringIO()):
            try:
                command(["--help"])
            except _Caught as caught:
                found[name] = caught.parser
                continue
        raise RuntimeError(f"globalhook {name}: no argparse parser was reached with --help")
    return found


def main_help() -> str:
    """What ``globalhook --help`` prints."""
    from globalhook import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["--help"])
    return out.getvalue()


@dataclass
class Option:
    names: str  # "--data-file FILE", "-d DIR, --directory DIR", "MODULE:NAME"
    help: str
    notes: List[str] = field(default_factory=list)  # choices, default, repeatable


@dataclass
class Command:
    name: str
    usage: str
    description: str
    options: List[Option]
    text: Optional[str] = None  # a hand-parsed command's whole help


def _names(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or (
        "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper()
    )
    if action.nargs == "?":
        return ", ".join(f"{option}[={metavar}]" for option in action.option_strings)
    return ", ".join(f"{option} {metavar}" for option in action.option_strings)


def describe(name: str, parser: Union[argparse.ArgumentParser, str]) -> Command:
    """A command's usage, description and options, as its parser holds them."""
    if isinstance(parser, str):
        return Command(name, parser.splitlines()[0], "", [], text=parser)
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # the same usage lines whatever terminal builds the docs
    try:
        usage = parser.format_usage().strip()
        formatter = parser._get_formatter()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    options = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        notes = []
        if action.choices and action.metavar:
            notes.append("one of " + ", ".join(map(str, action.choices)))
        help_text = formatter._expand_help(action) if action.help else ""
        if isinstance(action, argparse._AppendAction) and "repeatable" not in help_text:
            notes.append("repeatable")
        if (action.option_strings and action.nargs != 0 and "default" not in help_text
                and action.default not in (None, [], argparse.SUPPRESS)):
            notes.append(f"default: {action.default}")
        options.append(Option(_names(action), help_text, notes))
    return Command(name, usage, parser.description or "", options)


def pytest_options() -> List[Option]:
    """The options the pytest plugin adds, from its own ``pytest_addoption``."""
    from globalhook import pytest_plugin

    parser = argparse.ArgumentParser(prog="pytest", add_help=False)

    class Group:
        def addoption(self, *names, **kwargs):
            parser.add_argument(*names, **kwargs)

    class Parser:
        def getgroup(self, *args, **kwargs):
            return Group()

        def addoption(self, *names, **kwargs):
            parser.add_argument(*names, **kwargs)

        def addini(self, *args, **kwargs):
            pass

    pytest_plugin.pytest_addoption(Parser())
    return describe("pytest", parser).options
