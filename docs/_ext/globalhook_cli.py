"""Sphinx directives that render ``globalhook``'s command line from its real parsers.

``globalhook-command NAME`` shows one command's usage, description and
options; ``globalhook-other-commands`` shows, each under a heading of its
own, every command the page has not shown yet (so a new command appears in
the reference without an edit); ``globalhook-pytest-options`` lists the
pytest plugin's options.
"""

from __future__ import annotations

from typing import List

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

import cli_parsers

_SHOWN = "globalhook_cli_shown"


def _options(options: List[cli_parsers.Option]) -> nodes.Node:
    listing = nodes.definition_list()
    for option in options:
        item = nodes.definition_list_item()
        item += nodes.term("", "", nodes.literal(option.names, option.names))
        text = option.help
        if option.notes:
            text = (text + " " if text else "") + "(" + "; ".join(option.notes) + ")"
        item += nodes.definition("", nodes.paragraph(text, text))
        listing += item
    return listing


def _command_nodes(command: cli_parsers.Command) -> List[nodes.Node]:
    if command.text is not None:
        return [nodes.literal_block(command.text, command.text.rstrip("\n"), language="text")]
    found: List[nodes.Node] = [nodes.literal_block(command.usage, command.usage, language="text")]
    if command.description:
        found.append(nodes.paragraph(command.description, command.description))
    if command.options:
        found.append(_options(command.options))
    return found


class CommandDirective(SphinxDirective):
    required_arguments = 1

    def run(self) -> List[nodes.Node]:
        name = self.arguments[0]
        parsers = cli_parsers.command_parsers()
        if name not in parsers:
            raise self.error(f"globalhook has no command {name!r} (it has: {', '.join(parsers)})")
        self.env.temp_data.setdefault(_SHOWN, set()).add(name)
        return _command_nodes(cli_parsers.describe(name, parsers[name]))


class OtherCommandsDirective(SphinxDirective):
    option_spec = {"level": directives.unchanged}

    def run(self) -> List[nodes.Node]:
        shown = self.env.temp_data.get(_SHOWN, set())
        found: List[nodes.Node] = []
        for name, parser in cli_parsers.command_parsers().items():
            if name in shown:
                continue
            section = nodes.section(ids=[nodes.make_id(f"command-{name}")], names=[f"globalhook {name}"])
            section += nodes.title(f"globalhook {name}", "", nodes.literal(f"globalhook {name}", f"globalhook {name}"))
            for node in _command_nodes(cli_parsers.describe(name, parser)):
                section += node
            found.append(section)
        if not found:
            found.append(nodes.paragraph("", "Every command is described above."))
        return found


class MainHelpDirective(SphinxDirective):
    def run(self) -> List[nodes.Node]:
        text = cli_parsers.main_help()
        return [nodes.literal_block(text, text.rstrip("\n"), language="text")]


class PytestOptionsDirective(SphinxDirective):
    def run(self) -> List[nodes.Node]:
        return [_options(cli_parsers.pytest_options())]


def setup(app):
    app.add_directive("globalhook-command", CommandDirective)
    app.add_directive("globalhook-other-commands", OtherCommandsDirective)
    app.add_directive("globalhook-main-help", MainHelpDirective)
    app.add_directive("globalhook-pytest-options", PytestOptionsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
