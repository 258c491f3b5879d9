"""The command-line reference (docs/reference/command-line.md) is made from the real parsers.

docs/_ext/cli_parsers.py catches each command's argparse parser as the
command builds it; these tests hold it to every command the CLI has and
every option each parser accepts, so that a new command or option cannot be
left out of the reference.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from conftest import module_from_file

from globalhook import cli

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def parsers_module():
    with module_from_file("globalhook_docs_cli_parsers", REPO / "docs" / "_ext" / "cli_parsers.py") as module:
        yield module


def test_every_command_is_documented(parsers_module):
    parsers = parsers_module.command_parsers()
    assert list(parsers) == list(cli._COMMANDS)
    for name, parser in parsers.items():
        if cli._COMMANDS[name] is None:
            assert isinstance(parser, str) and parser.startswith(f"usage: globalhook {name}")
        else:
            assert isinstance(parser, argparse.ArgumentParser)


def test_every_option_of_every_parser_is_listed(parsers_module):
    for name, parser in parsers_module.command_parsers().items():
        described = parsers_module.describe(name, parser)
        if described.text is not None:
            continue
        listed = " ".join(option.names for option in described.options)
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings or [action.metavar or action.dest]:
                assert option in listed, f"globalhook {name}: {option} is missing from the reference"


def test_the_run_help_names_every_run_option(parsers_module):
    text = parsers_module.command_parsers()["run"]
    for option in [*cli._RUN_VALUE_OPTIONS, *cli._RUN_FLAGS]:
        assert option in text, option


def test_catching_a_parser_leaves_argparse_as_it_was(parsers_module):
    before = argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args
    parsers_module.command_parsers()
    assert (argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args) == before


def test_the_pytest_options_come_from_the_plugin(parsers_module):
    pytest.importorskip("pytest")
    names = " ".join(option.names for option in parsers_module.pytest_options())
    for option in ("--globalhook[=PKG]", "--globalhook-include PAT", "--globalhook-exclude PAT",
                   "--globalhook-data FILE", "--globalhook-report", "--globalhook-no-attributes"):
        assert option in names


def test_the_main_help_is_what_globalhook_help_prints(parsers_module, capsys):
    assert cli.main(["--help"]) == 0
    assert parsers_module.main_help() == capsys.readouterr().out


def test_each_command_describes_itself(parsers_module):
    # 'status --help' used to print install's usage (status borrowed its parser).
    for name, parser in parsers_module.command_parsers().items():
        usage = parsers_module.describe(name, parser).usage
        assert usage.startswith(f"usage: globalhook {name} "), usage
