"""Command line of the views built on a data file: ``html``, ``diff``, ``check``.

Kept apart from :mod:`globalhook.cli` (which imports this module only when
one of these commands runs), so that ``run`` never pays for them.  Bad input
is one line on stderr and exit status 2, as everywhere in the CLI.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, Sequence

from .config import ConfigError, load_config
from .data import DataError, find_parts, load
from .patterns import PatternError
from .printable import printable
from .records import read

__all__ = ["cmd_html", "cmd_diff", "cmd_check", "cmd_tests_for", "cmd_export", "per_test_view"]

EXIT_USAGE = 2


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"globalhook: error: {message}", file=sys.stderr)
    return status


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-file", dest="data_file", metavar="FILE", help="data file to read (default: .globalhook.json)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with a [tool.globalhook] table")


def _load_data(options: argparse.Namespace, records: bool = True) -> Dict[str, Any]:
    """The data file the options name, its lookups as records unless not ``records``
    (raises ConfigError or DataError)."""
    config = load_config({"data_file": options.data_file, "config": options.config})
    for warning in config.warnings:
        print(f"globalhook: warning: {warning}", file=sys.stderr)
    if not os.path.exists(config.data_file) and find_parts(config.data_file):
        raise DataError(
            f"{config.data_file}: no such file, but per-process data files wait beside it: "
            "run 'globalhook combine' first"
        )
    options.data_path = config.data_file
    return read(config.data_file) if records else load(config.data_file)


def cmd_html(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="globalhook html",
        description="Write a static HTML report (no network needed to view it): modules, functions "
        "with their source, who reads each global, and a dependency graph.",
        allow_abbrev=False,
    )
    parser.add_argument("-d", "--directory", default="globalhook-html", metavar="DIR", help="folder to write (default: globalhook-html)")
    parser.add_argument("--module", action="append", default=[], metavar="PAT", help="only modules matching PAT (repeatable)")
    parser.add_argument("--context", metavar="PAT", help="only lookups whose context (test id) matches PAT (fnmatch)")
    parser.add_argument("-j", "--jobs", type=_positive, metavar="N", help="processes that share the writing of a big report (default: one per CPU)")
    parser.add_argument("--title", default="globalhook report", help=argparse.SUPPRESS)
    parser.add_argument(
        "--source-root", dest="source_roots", action="append", default=[], metavar="DIR",
        help="show the source of files under DIR (repeatable; default: the current folder only)",
    )
    parser.add_argument(
        "--map-path", dest="path_map", action="append", default=[], metavar="RECORDED=LOCAL",
        help="read files recorded under folder RECORDED from folder LOCAL (repeatable; a run elsewhere)",
    )
    _add_data_options(parser)
    options = parser.parse_args(argv)
    from .htmlreport import HtmlError, write_html

    path_map = []
    for item in options.path_map:
        recorded, sep, local = item.partition("=")
        if not sep or not recorded or not local:
            return _fail(f"--map-path: expected RECORDED=LOCAL, got {printable(item)}")
        path_map.append((recorded, os.path.abspath(local)))
    for root in options.source_roots:
        if not os.path.isdir(root):
            return _fail(f"--source-root: {printable(root)}: not a folder")
    started = time.perf_counter()
    try:
        data = _load_data(options)
        summary = write_html(
            data, options.directory, options.module, options.context, title=options.title, workers=options.jobs,
            source_roots=options.source_roots, path_map=path_map,
        )
    except (ConfigError, DataError, PatternError, HtmlError) as exc:
        return _fail(str(exc))
    elapsed = time.perf_counter() - started
    print(
        f"Wrote {os.path.join(options.directory, 'index.html')} "
        f"({_plural(summary['modules'], 'module')}, {_plural(summary['functions'], 'function')}, {elapsed:.1f} s)"
    )
    return 0


def cmd_diff(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="globalhook diff",
        description="Compare two data files: per function, the names added and removed. "
        "Exit status 0 when the dependencies are the same, 1 when they differ, 2 on error.",
        allow_abbrev=False,
    )
    parser.add_argument("old", metavar="OLD", help="the earlier data file")
    parser.add_argument("new", metavar="NEW", help="the later data file")
    parser.add_argument("--counts", type=_non_negative, metavar="N", help="also show counts that changed by more than N (0: every change)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    options = parser.parse_args(argv)
    from .diff import diff_files, json_diff, text_diff

    try:
        result = diff_files(options.old, options.new, options.counts)
    except DataError as exc:
        return _fail(str(exc))
    render = json_diff if options.format == "json" else text_diff
    sys.stdout.write(render(result, options.old, options.new))
    return 0 if result.equal else 1


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def cmd_check(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="globalhook check",
        description="Fail when recorded lookups break a rule: 'READER -> OWNER:NAME' forbids functions "
        "in modules matching READER to read NAME of modules matching OWNER. Rules come from "
        "[tool.globalhook.check] and the command line. Exit status 1 on any (new) violation, 2 on a bad "
        "rule, data file or baseline.",
        allow_abbrev=False,
    )
    parser.add_argument("--forbid", action="append", default=[], metavar="RULE", help="a rule 'READER -> OWNER:NAME' (repeatable)")
    parser.add_argument("--no-missing", action="store_true", help="fail on any name that was looked up and not found")
    parser.add_argument(
        "--format", choices=("text", "json", "sarif", "github"), default="text",
        help="text (default), json, sarif (SARIF 2.1.0, for code scanning) or github (workflow-command annotations)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of standard output")
    parser.add_argument("--baseline", metavar="FILE", help="accept the violations listed in FILE; fail only on new ones")
    parser.add_argument("--update-baseline", action="store_true", help="write every current violation to the --baseline FILE and pass")
    parser.add_argument(
        "--tool-reads", dest="tool_reads", action="store_true",
        help="also check reads that tools (pytest, inspect, importlib, doctest, unittest...) made of "
        "the project's modules (default: left out, they are not the project's reads)",
    )
    _add_data_options(parser)
    options = parser.parse_args(argv)
    from .baseline import BaselineError, load_baseline, split, write_baseline
    from .check import RuleError, find_violations, load_check_config, parse_rule
    from .checkformats import Outcome, render
    from .selection import is_tool_read

    if options.update_baseline and not options.baseline:
        return _fail("--update-baseline needs --baseline FILE (the file to write)")
    try:
        check_config = load_check_config(options.config)
        for warning in check_config.warnings:
            print(f"globalhook: warning: {warning}", file=sys.stderr)
        rules = [parse_rule(text) for text in check_config.forbid + options.forbid]
        no_missing = options.no_missing or check_config.require_no_missing
        if not rules and not no_missing:
            where = check_config.source or "pyproject.toml"
            return _fail(f"nothing to check: give --forbid RULE or --no-missing, or set them in [tool.globalhook.check] of {where}")
        data = _load_data(options)
        accepted = load_baseline(options.baseline) if options.baseline and not options.update_baseline else []
    except (ConfigError, DataError, RuleError, BaselineError) as exc:
        return _fail(str(exc))
    if not data.get("lookups"):
        # A run that recorded nothing passes every rule: that is a broken
        # set-up (wrong --include, wrong data file), not a clean project.
        return _fail(f"nothing to check: {printable(options.data_path)} holds no lookups (did the run track anything?)")
    lookups = data.get("lookups", ())
    tool_reads = options.tool_reads or check_config.tool_reads
    violations = find_violations(lookups, rules, no_missing, tool_reads=tool_reads)
    if options.update_baseline:
        try:
            written = write_baseline(options.baseline, violations)
        except BaselineError as exc:
            return _fail(str(exc))
        print(f"globalhook check: wrote {options.baseline} ({written} violation{'s' if written != 1 else ''} accepted)")
        return 0
    cwd = os.getcwd()
    if options.baseline:
        new, known, gone = split(violations, accepted)
        outcome = Outcome([rule.text for rule in rules], no_missing, new, len(lookups), cwd, known, gone, options.baseline)
    else:
        outcome = Outcome([rule.text for rule in rules], no_missing, violations, len(lookups), cwd)
    if not tool_reads:
        outcome.tool_reads_left_out = sum(1 for entry in lookups if is_tool_read(entry))
    text = render(outcome, options.format)
    if options.output:
        from .atomic import write_atomically

        try:
            write_atomically(options.output, text.encode("utf-8"))
        except OSError as exc:
            return _fail(f"{options.output}: cannot write ({exc.strerror or exc})")
    else:
        sys.stdout.write(text)
    return 0 if outcome.passed else 1


def per_test_view(data: Dict[str, Any], modules: Sequence[str], options: argparse.Namespace) -> int:
    """``report --by-context`` and ``report --shared-state`` (globalhook/pertest.py)."""
    import json

    from . import pertest
    from .report import _module_matcher

    matches = _module_matcher(modules)
    lookups = [entry for entry in data["lookups"] if matches(entry.owner)]
    if options.by_context:
        if options.format == "json":
            text = pertest.by_context_json(lookups)
        else:
            text = pertest.by_context_text(lookups, escape=printable)
    elif options.format == "json":
        shown = {"shared_state": pertest.shared_state(lookups)}
        static = pertest.static_writers(lookups)
        if static:  # `global` writes this Python could not observe: found by a scan, no test to blame
            shown["static_writes"] = [
                {"module": module, "name": name, "kind": kind, "function": function}
                for module, name, kind, function in static
            ]
        text = json.dumps(shown, indent=2, sort_keys=True) + "\n"
    else:
        text = pertest.shared_state_text(lookups, escape=printable)
    sys.stdout.write(text)
    return 0


def cmd_tests_for(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="globalhook tests-for",
        description="List the tests whose contexts read a module global (MODULE:NAME, wildcards "
        "allowed), one test id per line: run 'pytest --globalhook' first. To run them: "
        "globalhook tests-for -0 MODULE:NAME | xargs -0 -r pytest --",
        allow_abbrev=False,
    )
    parser.add_argument("names", nargs="+", metavar="MODULE:NAME")
    parser.add_argument(
        "-0", "--null", action="store_true",
        help="end each test id with a NUL byte instead of a newline, exactly as recorded "
        "(for xargs -0; the lines escape ids a terminal cannot show as they are)",
    )
    _add_data_options(parser)
    options = parser.parse_args(argv)
    from .pertest import parse_name_spec, which_tests_read

    try:
        specs = [parse_name_spec(text) for text in options.names]
    except ValueError as exc:
        return _fail(str(exc))
    try:
        data = _load_data(options)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    tests = which_tests_read(data["lookups"], specs)
    if options.null:
        # The ids as pytest was given them on its command line: argv is decoded
        # with the file-system encoding, so that is the one to encode back with.
        sys.stdout.flush()
        sys.stdout.buffer.write(b"".join(os.fsencode(test) + b"\0" for test in tests))
        sys.stdout.buffer.flush()
    else:
        for test in tests:
            print(printable(test))
    if tests:
        return 0
    # Nothing on stdout: `pytest $(globalhook tests-for ...)` would run every test.
    asked = ", ".join(printable(str(spec)) for spec in specs)
    seen = any(spec.matches(e.owner, e.name) for e in data["lookups"] for spec in specs)
    why = "recorded outside tests only" if seen else "no lookup of it was recorded: check the name"
    print(f"globalhook: no test read {asked} ({why})", file=sys.stderr)
    return 1


def cmd_export(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="globalhook export",
        description="Write the data file as plain JSON for other tools: format version 1, one object "
        "per lookup (the data file itself keeps them as a string table and rows of numbers).",
        allow_abbrev=False,
    )
    parser.add_argument("--format", choices=("json",), default="json", help="json (default): version 1 of the data file")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (a data file or a new file) instead of standard output")
    _add_data_options(parser)
    options = parser.parse_args(argv)
    import json

    from .data import export_v1
    from .replaceable import replace_problem

    try:
        data = _load_data(options, records=False)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    text = json.dumps(export_v1(data), separators=(",", ":"), allow_nan=False) + "\n"
    if not options.output:
        sys.stdout.write(text)
        return 0
    problem = replace_problem(options.output)
    if problem is not None:
        return _fail(f"{printable(options.output)}: {problem}")
    from .atomic import write_atomically

    try:
        write_atomically(options.output, text.encode("utf-8"))
    except OSError as exc:
        return _fail(f"{printable(options.output)}: cannot write ({exc.strerror or exc})")
    return 0


def cmd_why(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="globalhook why",
        description="Say why pytest --globalhook-select would run a test (which definition changed, "
        "through which read) or leave it out, from the data the last pytest --globalhook run wrote "
        "and the sources as they are now. Run it where pytest runs (module files are recorded "
        "relative to pytest's root folder).",
        allow_abbrev=False,
    )
    parser.add_argument("test", metavar="TEST_ID", help="a test id as pytest shows it (tests/test_x.py::test_y)")
    parser.add_argument("--root", metavar="DIR", default=".", help="pytest's root folder (default: the current folder)")
    _add_data_options(parser)
    options = parser.parse_args(argv)
    try:
        data = _load_data(options)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    from .testrecords import environment_digest
    from .testselect import KEY, Selector, malformed

    selection = data.get(KEY)
    if selection is None:
        return _fail("the data file has no selection data: record it with 'pytest --globalhook' first")
    key = malformed(selection)
    if key is not None:
        return _fail(f"{printable(options.data_path)}: {key} is malformed (not an object): "
                     "record it again with 'pytest --globalhook'")
    if options.test not in selection["tests"]:
        return _fail(f"unknown test id {printable(options.test)}: not in the data (a new test always runs)")
    decision = Selector(selection, os.path.abspath(options.root), environment_digest()).decide(options.test)
    print(f"{printable(options.test)}: {'selected' if decision.run else 'deselected'}")
    for line in decision.why:
        print(f"  {printable(line)}")
    return 0
