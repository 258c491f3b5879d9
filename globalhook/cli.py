"""Command line: ``globalhook run | report``.

Errors in what the user gave us (options, config, data files) are one line
on stderr and exit status 2; they never show a traceback from our code.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from typing import List, Optional, Sequence, Tuple

from . import __version__
from .config import STRATEGIES, ConfigError, load_config
from .data import DataError, combine, find_parts, load
from .modules import StrategyError
from .patterns import PatternError

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_NO_TRACKING = 3

#: ``run`` options that take a value; parsing stops at the first other word.
_RUN_VALUE_OPTIONS = ("--include", "--exclude", "--strategy", "--data-file", "--config")


class UsageError(Exception):
    pass


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"globalhook: error: {message}", file=sys.stderr)
    return status


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="globalhook run",
        description="Run a Python program, recording the global names its code looks up.",
        usage="globalhook run [options] (script.py | -m module) [args ...]",
    )
    parser.add_argument("--include", action="append", metavar="PAT", help="track modules matching PAT (repeatable)")
    parser.add_argument("--exclude", action="append", metavar="PAT", help="never track modules matching PAT (repeatable)")
    parser.add_argument("--strategy", choices=STRATEGIES, help="how tracked modules are made (default: native)")
    parser.add_argument("--data-file", dest="data_file", metavar="FILE", help="where to write the data (default: .globalhook.json)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with a [tool.globalhook] table")
    parser.add_argument("--report", action="store_true", default=None, help="print the text report to stderr after the run")
    return parser


def split_run_args(argv: Sequence[str]) -> Tuple[List[str], Optional[str], Optional[str], List[str]]:
    """Split ``run`` arguments into (our options, script, module, program args).

    Like ``python`` and ``coverage run``, option parsing stops at the script
    or at ``-m module``: everything after belongs to the program.
    """
    options: List[str] = []
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-m" or (word.startswith("-m") and not word.startswith("--")):
            module = word[2:] or (words[i + 1] if i + 1 < len(words) else None)
            if not module:
                raise UsageError("-m needs a module name")
            rest = words[i + 1 :] if word[2:] else words[i + 2 :]
            return options, None, module, rest
        if word == "--":
            if i + 1 >= len(words):
                break
            return options, words[i + 1], None, words[i + 2 :]
        if not word.startswith("-") or word == "-":
            return options, word, None, words[i + 1 :]
        options.append(word)
        if word in _RUN_VALUE_OPTIONS:
            if i + 1 >= len(words):
                raise UsageError(f"{word} needs a value")
            options.append(words[i + 1])
            i += 1
        i += 1
    if any(w in ("-h", "--help") for w in options):
        return options, None, None, []
    raise UsageError("run needs a script or -m module (see: globalhook run --help)")


def cmd_run(argv: Sequence[str]) -> int:
    try:
        option_words, script, module, program_args = split_run_args(argv)
    except UsageError as exc:
        return _fail(str(exc))
    parser = _run_parser()
    options = parser.parse_args(option_words)
    try:
        config = load_config(vars(options))
    except ConfigError as exc:
        return _fail(str(exc))
    # Found out before the program runs, not after it (the data is written at exit).
    if not os.path.isdir(os.path.dirname(config.data_file)):
        return _fail(f"{config.data_file}: cannot write the data file: its folder does not exist")
    for warning in config.warnings:
        print(f"globalhook: warning: {warning}", file=sys.stderr)
    from .tracking import CORE_PROBLEM, CORE_WARNING

    if CORE_PROBLEM:
        return _fail(CORE_PROBLEM)
    if CORE_WARNING:
        print(f"globalhook: warning: {CORE_WARNING}", file=sys.stderr)

    from .runner import NoSource, run_module, run_path
    from .session import Session

    command = ["-m", module, *program_args] if module else [script, *program_args]
    session = Session(config, command, root=os.getcwd())
    _hand_to_children(session)
    try:
        hook = session.start()
    except StrategyError as exc:
        return _fail(str(exc), EXIT_NO_TRACKING)
    except PatternError as exc:
        return _fail(str(exc))
    new_module = hook.new_module
    if hook.finder.filter.excluded("__main__"):
        new_module = types.ModuleType  # --exclude __main__: the program itself runs untracked
    try:
        if module is not None:
            run_module(module, program_args, new_module)
        else:
            run_path(script, program_args, new_module)  # type: ignore[arg-type]
    except NoSource as exc:
        session.exit_code = exc.status
        return _fail(str(exc), exc.status)
    except SystemExit as exc:
        code = exc.code
        session.exit_code = code if isinstance(code, int) else (0 if code is None else 1)
        raise
    except KeyboardInterrupt:
        session.exit_code = 130
        raise
    except BaseException:
        session.exit_code = 1
        raise
    session.exit_code = 0
    return 0


def _hand_to_children(session) -> None:
    """Child processes of this run track too (those that start a new
    interpreter only where ``globalhook install`` put the start-up hook)."""
    from .config import to_json
    from .sitehook import status
    from .startup import ENV_START

    os.environ[ENV_START] = to_json(session.config, run_id=session.run_id, root=session.root)
    if not status()["installed"]:
        session.notes.append(
            "child processes that start a new Python interpreter (subprocess, multiprocessing "
            "spawn/forkserver) were not tracked: the start-up hook is not installed in this "
            "environment (run 'globalhook install')"
        )


def cmd_combine(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="globalhook combine",
        description="Merge the per-process data files (<data file>.<host>.<pid>.<random>) into the data file.",
    )
    parser.add_argument("--data-file", dest="data_file", metavar="FILE", help="data file to combine into (default: .globalhook.json)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with a [tool.globalhook] table")
    parser.add_argument("--keep", action="store_true", help="keep the per-process files")
    parser.add_argument("--ignore-errors", action="store_true", help="exit 0 even if some files could not be read")
    options = parser.parse_args(argv)
    try:
        config = load_config({"data_file": options.data_file, "config": options.config})
        parts = find_parts(config.data_file)
        if not parts:
            print(f"globalhook: no per-process data files to combine into {config.data_file}", file=sys.stderr)
            return 0
        base = [load(config.data_file)] if os.path.exists(config.data_file) else []
        _, used, errors = combine(config.data_file, base, keep=options.keep)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    for error in errors:
        print(f"globalhook: warning: skipped {error}", file=sys.stderr)
    print(f"Combined {len(used)} data file{'s' if len(used) != 1 else ''} into {config.data_file}")
    return 1 if errors and not options.ignore_errors else 0


def _site_parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"globalhook {name}", description=description)
    parser.add_argument("--system", action="store_true", help="allow writing outside a virtual environment")
    parser.add_argument("--site-dir", dest="site_dir", metavar="DIR", help=argparse.SUPPRESS)
    return parser


def cmd_install(argv: Sequence[str]) -> int:
    from . import sitehook

    parser = _site_parser(
        "install",
        "Add a start-up hook to this environment, so that tracking can start in every Python "
        "process (activated by GLOBALHOOK_PROCESS_START, which 'globalhook run' sets, or by "
        "enabled = true in [tool.globalhook]).",
    )
    parser.add_argument("--check", action="store_true", help="only say what is installed where")
    options = parser.parse_args(argv)
    if options.check:
        print(sitehook.describe_status(sitehook.status(options.site_dir)))
        return 0
    try:
        path, changed = sitehook.install(options.site_dir, options.system)
    except sitehook.SiteHookError as exc:
        return _fail(str(exc))
    print(f"{'Installed' if changed else 'Already installed'}: {path}")
    return 0


def cmd_uninstall(argv: Sequence[str]) -> int:
    from . import sitehook

    options = _site_parser("uninstall", "Remove exactly what 'globalhook install' added.").parse_args(argv)
    try:
        path, changed = sitehook.uninstall(options.site_dir, options.system)
    except sitehook.SiteHookError as exc:
        return _fail(str(exc))
    print(f"{'Removed' if changed else 'Not installed'}: {path}")
    return 0


def cmd_status(argv: Sequence[str]) -> int:
    status = cmd_install(["--check", *argv])
    if status == 0:
        from .tracking import CORE, CORE_REASON

        print(f"core: {'compiled (C)' if CORE == 'c' else 'pure Python'} ({CORE_REASON})")
    return status


def cmd_report(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="globalhook report", description="Show the recorded global lookups.")
    parser.add_argument("--data-file", dest="data_file", metavar="FILE", help="data file to read (default: .globalhook.json)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with a [tool.globalhook] table")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--module", action="append", default=[], metavar="PAT", help="only modules matching PAT (repeatable)")
    options = parser.parse_args(argv)
    try:
        config = load_config({"data_file": options.data_file, "config": options.config})
        if not os.path.exists(config.data_file) and find_parts(config.data_file):
            count = len(find_parts(config.data_file))
            return _fail(
                f"{config.data_file}: no such file, but {count} per-process data file"
                f"{'s' if count != 1 else ''} wait beside it: run 'globalhook combine' first"
            )
        data = load(config.data_file)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    from .report import json_report, text_report

    render = json_report if options.format == "json" else text_report
    sys.stdout.write(render(data, options.module))
    return 0


_COMMANDS = {
    "run": cmd_run,
    "report": cmd_report,
    "combine": cmd_combine,
    "install": cmd_install,
    "uninstall": cmd_uninstall,
    "status": cmd_status,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(
            "usage: globalhook COMMAND [options]\n\n"
            "Record the global names that Python code looks up at run time.\n\n"
            "commands:\n"
            "  run        run a script or -m module with tracking on\n"
            "  report     show what the last run recorded\n"
            "  combine    merge per-process data files into the data file\n"
            "  install    add the start-up hook to this environment (every process can track)\n"
            "  uninstall  remove the start-up hook\n"
            "  status     say whether the start-up hook is installed, and which core tracks\n\n"
            "'globalhook COMMAND --help' tells more."
        )
        return 0 if args else EXIT_USAGE
    if args[0] == "--version":
        print(f"globalhook {__version__}")
        return 0
    command = _COMMANDS.get(args[0])
    if command is None:
        return _fail(f"unknown command {args[0]!r} (choose from {', '.join(_COMMANDS)})")
    return command(args[1:])
