"""Command line: ``globalhook run | report | combine | install | uninstall | status``.

Errors in what the user gave us (options, config, data files) are one line
on stderr and exit status 2; they never show a traceback from our code.

``run`` imports as little as it can before the program starts (whatever it
imports, the program can no longer track, and some programs must patch
modules before anything imports them): its options are parsed by hand, and
everything else (argparse, data files, reports) is imported by the commands
that need it.
"""

from __future__ import annotations

import os
import sys

from . import __version__

TYPE_CHECKING = False  # not from typing: see the module docstring
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

    from .runner import Program
    from .session import Session

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_NO_TRACKING = 3

#: ``run`` options that take a value, and the config key each one sets.
_RUN_VALUE_OPTIONS = {
    "--include": "include",
    "--exclude": "exclude",
    "--strategy": "strategy",
    "--data-file": "data_file",
    "--config": "config",
    "--record-command": "record_command",
}
#: ``run`` options that are flags.
_RUN_FLAGS = {
    "--report": "report", "--help": "help", "--no-attributes": "attributes", "--no-config-reads": "config_reads",
    "--interactive": "interactive",
}
#: Flags that switch a setting off.
_RUN_OFF_FLAGS = ("--no-attributes", "--no-config-reads")
#: Short ``run`` options, as python spells them.
_RUN_SHORT = {"-h": "--help", "-i": "--interactive"}
_REPEATABLE = ("include", "exclude")

_RUN_USAGE = "usage: globalhook run [options] (script.py | -m module | -c command) [args ...]"
_REPL_USAGE = "usage: globalhook repl [options]"
_RUN_HELP = f"""{_RUN_USAGE}

Run a Python program, recording the global names its code looks up.

Option parsing stops at the script, -m module or -c command: what follows is the program's.

options:
  -h, --help              show this help message and exit
  -c command              run the program passed in as a string (like python -c)
  -i, --interactive       afterwards, an interactive console in the program's
                          tracked __main__ (like python -i)
  --include PAT           track modules matching PAT (repeatable)
  --exclude PAT           never track modules matching PAT (repeatable)
  --strategy {{native,proxy}}
                          how tracked modules are made (default: native)
  --data-file FILE        where to write the data (default: .globalhook.json)
  --config FILE           TOML file with a [tool.globalhook] table
  --report                print the text report to stderr after the run
  --record-command {{full,redacted,none}}
                          how the command line is kept in the data (default: full)
  --no-attributes         do not record reads of tracked modules' attributes
                          (settings.TAX) from other code
  --no-config-reads       do not record environment variables and framework
                          settings (Django, Flask, pydantic-settings) by name
"""
_REPL_HELP = f"""{_REPL_USAGE}

An interactive Python console whose __main__ is tracked from the first input;
the data is written when the console ends (end of input, or exit()).

options: those of 'globalhook run' (see: globalhook run --help), without -i.
"""


class UsageError(Exception):
    pass


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    from .printable import escape_controls  # run's messages name paths a project's config chose

    print(escape_controls(f"globalhook: error: {message}"), file=sys.stderr)
    return status


def _run_option(word: str) -> str:
    """The full ``run`` option ``word`` names (argparse's unique-prefix rule)."""
    known = list(_RUN_VALUE_OPTIONS) + list(_RUN_FLAGS)
    if word in known or word in _RUN_SHORT:
        return _RUN_SHORT.get(word, word)
    matches = [option for option in known if option.startswith(word)] if word.startswith("--") else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"ambiguous option: {word} could match {', '.join(matches)}")
    raise UsageError(f"unrecognized option {word!r} (see: globalhook run --help)")


def split_run_args(
    argv: "Sequence[str]", command: str = "run"
) -> "Tuple[Dict[str, object], Optional[str], Optional[str], List[str]]":
    """Split ``run`` arguments into (our options, script, module, program args).

    Like ``python`` and ``coverage run``, option parsing stops at the script,
    at ``-m module`` or at ``-c command``: everything after belongs to the
    program.  Options are returned as config keys (``{"include": [...],
    "report": True}``); a ``-c`` command as ``options["command"]``, with
    neither script nor module.
    For ``repl`` (``command``), there is no program: any word that is not an
    option is an error.
    """
    options: "Dict[str, object]" = {}
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        if command == "repl" and (
            word == "--" or not word.startswith("-") or word == "-" or word.startswith(("-m", "-c"))
        ):
            raise UsageError(f"repl runs no program: unexpected {word!r} (see: globalhook repl --help)")
        if word == "-c" or (word.startswith("-c") and not word.startswith("--")):
            if word[2:]:
                code, rest = word[2:], words[i + 1 :]
            elif i + 1 < len(words):
                code, rest = words[i + 1], words[i + 2 :]
            else:
                raise UsageError("-c needs a command (python code)")
            options["command"] = code
            return options, None, None, rest
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
        name, equals, value = word.partition("=")
        option = _run_option(name)
        if option in _RUN_FLAGS:
            if equals:
                raise UsageError(f"{option} takes no value")
            options[_RUN_FLAGS[option]] = option not in _RUN_OFF_FLAGS
        else:
            if not equals:
                if i + 1 >= len(words):
                    raise UsageError(f"{option} needs a value")
                i += 1
                value = words[i]
            key = _RUN_VALUE_OPTIONS[option]
            if key in _REPEATABLE:
                options.setdefault(key, []).append(value)  # type: ignore[union-attr]
            else:
                options[key] = value
        i += 1
    if options.get("help") or command == "repl":
        if command == "repl" and options.get("interactive"):
            raise UsageError("repl is interactive already: -i is for run")
        return options, None, None, []
    raise UsageError("run needs a script, -m module or -c command (see: globalhook run --help)")


def prepare_run(argv: "Sequence[str]", command_name: str = "run") -> "Union[int, Tuple[Program, Session]]":
    """Everything ``run`` does before the program's first line: an exit status, or the program.

    For ``repl`` (``command_name``), the "program" is the interactive console,
    and ``program.module`` its tracked ``__main__``.
    """
    from .config import ConfigError, load_config

    try:
        options, script, module, program_args = split_run_args(argv, command_name)
    except UsageError as exc:
        return _fail(str(exc))
    if options.get("help"):
        print(_REPL_HELP if command_name == "repl" else _RUN_HELP, end="")
        return 0
    interactive = bool(options.pop("interactive", False)) or command_name == "repl"
    command_text = options.pop("command", None)  # -c: the program is this text
    try:
        config = load_config(options)
    except ConfigError as exc:
        return _fail(str(exc))
    for warning in config.warnings:
        print(f"globalhook: warning: {warning}", file=sys.stderr)
    from .tracking import CORE_PROBLEM, CORE_WARNING

    if CORE_PROBLEM:
        return _fail(CORE_PROBLEM)
    from .finder import installed_hook
    from .modules import StrategyError
    from .patterns import PatternError
    from .runner import NoSource, check_script, prepare_command, prepare_console, prepare_module, prepare_path
    from .session import Session, writable_problem
    if CORE_WARNING:
        print(f"globalhook: warning: {CORE_WARNING}", file=sys.stderr)

    # Found out before the program runs, not after it (the data is written at exit).
    problem = writable_problem(config.data_file)
    if problem:
        return _fail(problem)
    if script is not None:
        try:
            check_script(script)  # before anything starts: the last run's data stays as it is
        except NoSource as exc:
            return _fail(str(exc), exc.status)
    if installed_hook() is not None:
        return _fail("tracking is already on in this process (globalhook.install()): run cannot start another hook")
    if command_name == "repl":
        command = ["<repl>"]
    elif command_text is not None:
        command = ["-c", command_text, *program_args]
    else:
        command = ["-m", module, *program_args] if module else [script, *program_args]
    outer_run_id = _outer_run_id(config.data_file)
    session = Session(config, command, root=os.getcwd(), primary=outer_run_id is None, run_id=outer_run_id)
    _hand_to_children(session)
    try:
        hook = session.start()
    except StrategyError as exc:
        return _fail(str(exc), EXIT_NO_TRACKING)
    except PatternError as exc:
        return _fail(str(exc))
    new_module = hook.new_module
    if hook.finder.filter.excluded("__main__"):
        new_module = type(sys)  # --exclude __main__: the program itself runs untracked
    try:
        if command_name == "repl":
            program = prepare_console(new_module)
        elif command_text is not None:
            program = prepare_command(command_text, program_args, new_module)
        elif module is not None:
            program = prepare_module(module, program_args, new_module)
        else:
            program = prepare_path(script, program_args, new_module)  # type: ignore[arg-type]
    except NoSource as exc:  # nothing of the program ran: the last run's data stays as it is
        session.abandon()
        return _fail(str(exc), exc.status)
    except SystemExit as exc:  # a syntax error in the program, already reported
        session.exit_code = exc.code if isinstance(exc.code, int) else 1
        raise
    except BaseException:  # an error while importing a -m module's parent packages
        session.exit_code = 1
        raise
    program.interactive = interactive
    return program, session


def _outer_run_id(data_file: str) -> "Optional[str]":
    """The run id of the ``globalhook run`` this one runs inside, if both write ``data_file``.

    A run nested in another (its program runs ``globalhook run`` again) that
    writes the same data file joins the outer run: it writes a per-process
    file the outer run folds in, rather than a data file the outer run would
    then replace.  With another data file it is a run of its own.
    """
    from .config import ConfigError, from_json
    from .startup import ENV_START

    value = os.environ.get(ENV_START, "").strip()
    if not value.startswith("{"):
        return None
    try:
        outer, extra = from_json(value, ENV_START)
    except ConfigError:
        return None
    run_id = extra.get("run_id")
    return run_id if isinstance(run_id, str) and run_id and outer.data_file == data_file else None


def _stop_start_up_session() -> None:
    """globalhook's own commands never track themselves.

    The start-up hook leaves them alone, but where it could not tell (Python
    3.9 outside Linux starts ``-m globalhook`` with ``sys.argv == ['-m']``)
    it may have started a session in this process: it is abandoned here,
    before it wrote anything.
    """
    session_module = sys.modules.get("globalhook.session")
    session = session_module.current_session() if session_module is not None else None
    if session is not None:
        session.abandon()


def _hand_to_children(session: "Session") -> None:
    """Child processes of this run track too (those that start a new
    interpreter only where ``globalhook install`` put the start-up hook)."""
    from .config import to_json
    from .startup import ENV_START

    os.environ[ENV_START] = to_json(session.config, run_id=session.run_id, root=session.root)
    session.note_checks.append(_untracked_children_note)


def _untracked_children_note() -> "Optional[str]":
    """Checked when the data is saved: looking for the hook loads sysconfig and importlib."""
    from .sitehook import status

    if status()["installed"]:
        return None
    return (
        "child processes that start a new Python interpreter (subprocess, multiprocessing "
        "spawn/forkserver) were not tracked: the start-up hook is not installed in this "
        "environment (run 'globalhook install')"
    )


def _exit_code(exc: BaseException) -> int:
    """The status the interpreter will exit with for an exception that ends the program."""
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


def cmd_combine(argv: "Sequence[str]") -> int:
    import argparse

    from .config import ConfigError, load_config
    from .data import DataError, combine_parts, find_parts, load_stored
    from .datalock import DataFileLock, LockError
    from .printable import printable

    parser = argparse.ArgumentParser(
        prog="globalhook combine",
        description="Merge the per-process data files (<data file>.<host>.<pid>.<random>) into the data file.",
        allow_abbrev=False,
    )
    parser.add_argument("--data-file", dest="data_file", metavar="FILE", help="data file to combine into (default: .globalhook.json)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with a [tool.globalhook] table")
    parser.add_argument("--keep", action="store_true", help="keep the per-process files")
    parser.add_argument("--ignore-errors", action="store_true", help="exit 0 even if some files could not be read")
    options = parser.parse_args(argv)
    try:
        config = load_config({"data_file": options.data_file, "config": options.config})
        shown = printable(config.data_file)
        parts = find_parts(config.data_file)
        if not parts:
            print(f"globalhook: no per-process data files to combine into {shown}", file=sys.stderr)
            return 0
        # Alone from reading the data file to deleting the parts: a second
        # combine (or a run's save) reads the file only once this one wrote it.
        with DataFileLock(config.data_file):
            base = [load_stored(config.data_file)] if os.path.exists(config.data_file) else []
            result = combine_parts(config.data_file, base, keep=options.keep, stored=True)
    except (ConfigError, DataError, LockError) as exc:
        return _fail(str(exc))
    for error in result.errors:
        print(f"globalhook: warning: skipped {error}", file=sys.stderr)
    added = len(result.added)
    line = f"Combined {added} data file{'s' if added != 1 else ''} into {shown}"
    if result.already:
        already = len(result.already)
        line += f" ({already} more {'were' if already != 1 else 'was'} in it already: not counted again)"
    print(line)
    return 1 if result.errors and not options.ignore_errors else 0


def _site_parser(name: str, description: str):
    import argparse

    parser = argparse.ArgumentParser(prog=f"globalhook {name}", description=description, allow_abbrev=False)
    parser.add_argument("--system", action="store_true", help="allow writing outside a virtual environment")
    parser.add_argument("--site-dir", dest="site_dir", metavar="DIR", help=argparse.SUPPRESS)
    return parser


def cmd_install(argv: "Sequence[str]") -> int:
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


def cmd_uninstall(argv: "Sequence[str]") -> int:
    from . import sitehook

    options = _site_parser("uninstall", "Remove exactly what 'globalhook install' added.").parse_args(argv)
    try:
        path, changed = sitehook.uninstall(options.site_dir, options.system)
    except sitehook.SiteHookError as exc:
        return _fail(str(exc))
    print(f"{'Removed' if changed else 'Not installed'}: {path}")
    return 0


def cmd_status(argv: "Sequence[str]") -> int:
    from . import sitehook

    # Its own parser, so that 'status --help' describes status (--system is accepted, as before).
    parser = _site_parser("status", "Say whether the start-up hook is installed here, and which core tracks.")
    options = parser.parse_args(argv)
    print(sitehook.describe_status(sitehook.status(options.site_dir)))
    from .tracking import CORE, CORE_REASON

    print(f"core: {'compiled (C)' if CORE == 'c' else 'pure Python'} ({CORE_REASON})")
    print(f"this folder: {_folder_status()}")
    return 0


def _folder_status() -> str:
    """What the start-up hook does in a process started here, and why (as process_start decides)."""
    from .printable import printable
    from .startup import ENV_START, folder_decision

    if os.environ.get(ENV_START, "").strip():
        return f"{ENV_START} is set: processes started with it are tracked as it says"
    if not os.path.isfile("pyproject.toml"):
        return "no pyproject.toml: nothing is tracked"
    return printable(folder_decision()[1])


def cmd_report(argv: "Sequence[str]") -> int:
    import argparse

    from .config import ConfigError, load_config
    from .data import DataError, find_parts
    from .patterns import PatternError, validate_pattern
    from .printable import printable
    from .records import read

    parser = argparse.ArgumentParser(
        prog="globalhook report",
        description="Show the recorded global lookups: per function, the globals, builtins and "
        "missing names it read. Exit status 1 when there is nothing to report.",
        allow_abbrev=False,
    )
    parser.add_argument("--data-file", dest="data_file", metavar="FILE", help="data file to read (default: .globalhook.json)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with a [tool.globalhook] table")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--module", action="append", default=[], metavar="PAT", help="only modules matching PAT (repeatable)")
    parser.add_argument(
        "--show-stores", dest="show_stores", action="store_true",
        help="list stores and deletes per function (default: one line of stored names per module)",
    )
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--by-name", action="store_true", help="per module global: the functions that read it")
    view.add_argument("--by-context", action="store_true", help="per test (context): the names it read")
    view.add_argument("--shared-state", action="store_true", help="globals one test writes and another reads")
    options = parser.parse_args(argv)
    try:
        modules = [validate_pattern(pattern) for pattern in options.module]
    except PatternError as exc:
        return _fail(f"--module: {exc}")
    try:
        config = load_config({"data_file": options.data_file, "config": options.config})
        if not os.path.exists(config.data_file):
            count = len(find_parts(config.data_file))
            if count:
                return _fail(
                    f"{printable(config.data_file)}: no such file, but {count} per-process data "
                    f"file{'s wait' if count != 1 else ' waits'} beside it: run 'globalhook combine' first"
                )
        data = read(config.data_file)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    from .gcpause import paused
    from .report import Summary, json_chunks, render_text

    # Names come from the program: never let one stop the report on a terminal that cannot show it.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")
    if options.by_context or options.shared_state:  # per-test views (globalhook/pertest.py)
        from .cli_views import per_test_view

        return per_test_view(data, modules, options)
    if options.by_name:  # the reverse view (globalhook/reverse.py)
        from .reverse import by_name_json, by_name_text

        render = by_name_json if options.format == "json" else by_name_text
        sys.stdout.write(render(data, modules))
        return 0
    summary = Summary(data, modules)
    del data  # the summary holds what is shown: the entries can go before the output is built
    if options.format == "json":
        with paused():
            for chunk in json_chunks(summary):  # a big report is never one string
                sys.stdout.write(chunk)
        return 0
    sys.stdout.write(render_text(summary, show_stores=options.show_stores))
    return 0 if summary.modules else 1


def _view(name: str):
    """A command of globalhook/cli_views.py, imported only when it runs."""

    def command(argv: "Sequence[str]") -> int:
        from . import cli_views

        return getattr(cli_views, name)(argv)

    return command


_COMMANDS = {
    "run": None,
    "repl": None,
    "report": cmd_report,
    "combine": cmd_combine,
    "install": cmd_install,
    "uninstall": cmd_uninstall,
    "status": cmd_status,
    "html": _view("cmd_html"),
    "diff": _view("cmd_diff"),
    "check": _view("cmd_check"),
    "tests-for": _view("cmd_tests_for"),
    "export": _view("cmd_export"),
    "why": _view("cmd_why"),
}


def _own_command(args: "List[str]") -> int:
    """Every command but ``run`` and ``repl``: help, version, or the command ``args[0]`` names."""
    if not args or args[0] in ("-h", "--help"):
        print(
            "usage: globalhook COMMAND [options]\n\n"
            "Record the global names that Python code looks up at run time.\n\n"
            "commands:\n"
            "  run        run a script or -m module with tracking on\n"
            "  repl       an interactive console whose __main__ is tracked\n"
            "  report     show what the last run recorded\n"
            "  combine    merge per-process data files into the data file\n"
            "  html       write an HTML report with sources and a dependency graph\n"
            "  diff       compare two data files (exit 1 when dependencies differ)\n"
            "  check      fail when lookups break rules such as 'myapp.web.* -> myapp.settings:*'\n"
            "  install    add the start-up hook to this environment (every process can track)\n"
            "  uninstall  remove the start-up hook\n"
            "  status     say whether the start-up hook is installed, and which core tracks\n"
            "  tests-for  list the tests that read a module global (after pytest --globalhook)\n"
            "  export     write the data file as plain JSON, one object per lookup (format version 1)\n"
            "  why        say why pytest --globalhook-select runs a test or leaves it out\n\n"
            "'globalhook COMMAND --help' tells more."
        )
        return 0 if args else EXIT_USAGE
    if args[0] == "--version":
        print(f"globalhook {__version__}")
        return 0
    if args[0] not in _COMMANDS:
        return _fail(f"unknown command {args[0]!r} (choose from {', '.join(_COMMANDS)})")
    return _COMMANDS[args[0]](args[1:])  # type: ignore[misc]


def main(argv: "Optional[Sequence[str]]" = None) -> int:
    """The ``globalhook`` command; ``argv`` None means this process is the command."""
    if argv is None:
        _stop_start_up_session()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("run", "repl"):
        return _run_command(_own_command, args)
    prepared = prepare_run(args[1:], args[0])
    if isinstance(prepared, int):
        return prepared
    program, session = prepared
    program.install_main()
    if program.code is None:  # repl: the console is the program
        return _console(program, session, banner=True)
    # The program runs from this frame, through one small frame of the
    # runner's: as few of our frames as can be below its own (see runner).
    try:
        program.entry(program.code, program.module.__dict__)
    except BaseException as exc:
        session.exit_code = _exit_code(exc)
        if not program.interactive:
            return program.ended(exc)
        program.show(exc)  # python -i shows it (SystemExit too), then goes on to the console
    else:
        session.exit_code = 0
    if program.interactive:
        return _console(program, session)
    return 0


def _run_command(command: "Callable[[List[str]], int]", args: "List[str]") -> int:
    """Run one of globalhook's own commands (never ``run``: a program's output is its own).

    Everything the command writes goes through the one printer
    (:class:`globalhook.printable.EscapingStream`): names from a data file
    never reach the terminal as control characters.  A reader that stops
    early (``| head -1``) ends the command quietly with status 1: Python
    ignores SIGPIPE, so a closed pipe is a ``BrokenPipeError`` at the next
    write or at the final flush, which is done here so that it happens here;
    stdout then points at the null device, so the interpreter's own flush at
    exit has nothing left to complain about (the advice of Python's
    ``signal`` documentation).
    """
    from .printable import EscapingStream

    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(stdout), EscapingStream(stderr)
    try:
        try:
            status = command(args)
        except SystemExit:  # argparse's --help and usage errors
            stdout.flush()
            raise
        stdout.flush()
        return status
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no real stdout (captured in a test)
            pass
        return 1
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _console(program: "Program", session: "Session", banner: bool = False) -> int:
    """The interactive console in the program's tracked ``__main__``, until its input ends."""
    from .console import interact

    text = None
    if banner and sys.stdin is not None and sys.stdin.isatty():
        text = (
            f"Python {sys.version} on {sys.platform}\n"
            'Type "help", "copyright", "credits" or "license" for more information.\n'
            "globalhook: __main__ is tracked; the data is written when this console ends."
        )
    try:
        interact(program.module, banner=text)
    except BaseException as exc:
        session.exit_code = _exit_code(exc)
        raise
    session.exit_code = 0
    return 0
