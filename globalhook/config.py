"""One merged configuration: command line > environment > config file > defaults.

Settings live in ``[tool.globalhook]`` of ``pyproject.toml`` (or of the file
named by ``--config`` / ``GLOBALHOOK_CONFIG``), the way coverage.py reads
``[tool.coverage]``.  A value given at a higher level replaces the lower one
entirely; lists are not merged, so ``--include`` means exactly what it says.

Every error is one line that names where the bad value came from (file and
key, environment variable, or command-line option), because the user has to
find it to fix it.  Unknown keys in the file only warn: a typo should not stop
a run, but it should not go unnoticed either.

This module is loaded before the program starts, so it imports nothing the
program might want to track: no dataclasses, typing or json, and TOML is read
by :mod:`globalhook.toml` (``tomllib`` only for what that refuses).
"""

from __future__ import annotations

import os

from . import patterns

TYPE_CHECKING = False  # not from typing: see the module docstring
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

__all__ = [
    "COMMAND_MODES",
    "DEFAULT_DATA_FILE",
    "STRATEGIES",
    "Config",
    "ConfigError",
    "OutsideProjectError",
    "find_config_file",
    "load_config",
    "read_toml_table",
]

DEFAULT_DATA_FILE = ".globalhook.json"
STRATEGIES = ("native", "proxy")
#: How ``runs[].command`` is recorded: the whole argv, the program with its
#: arguments replaced by a placeholder, or not at all.
COMMAND_MODES = ("full", "redacted", "none")

ENV_CONFIG = "GLOBALHOOK_CONFIG"
_SECTION = "[tool.globalhook]"
#: Sub-tables that other commands read themselves ([tool.globalhook.check]: globalhook/check.py).
_SUBTABLES = ("check",)
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


class ConfigError(Exception):
    """One-line, user-facing message that names the file and the key (or env var / option) that is wrong."""


class OutsideProjectError(ConfigError):
    """A config file names a data file outside the folder that holds it.

    A project's config is not the user's own choice (it came with a clone):
    it may point only into its own folder.  The start-up hook treats this as
    "not enabled" and says nothing; commands report it.
    """


def _inside(folder: str, path: str) -> bool:
    """Whether ``path`` is in ``folder`` once every symlink on the way is followed."""
    real_folder = os.path.realpath(folder)
    real_path = os.path.realpath(path)
    return real_path != real_folder and os.path.commonpath([real_folder, real_path]) == real_folder


class Config:
    """The settings a run uses, already validated and resolved."""

    #: Every field, in order; all but ``warnings`` are handed to child processes.
    FIELDS = (
        "include", "exclude", "strategy", "data_file", "report", "enabled", "record_command", "attributes",
        "config_reads", "config_file", "warnings",
    )

    def __init__(
        self,
        include: "List[str]",
        exclude: "List[str]",
        strategy: str,
        data_file: str,
        report: bool,
        enabled: bool = False,
        record_command: str = "full",
        attributes: bool = True,
        config_reads: bool = True,
        config_file: "Optional[str]" = None,
        warnings: "Optional[List[str]]" = None,
    ) -> None:
        self.include = include  # validated patterns; [] means "the default path rule"
        self.exclude = exclude
        self.strategy = strategy  # one of STRATEGIES
        self.data_file = data_file  # always absolute
        self.report = report  # print the text report after the run
        self.enabled = enabled  # start tracking in every process started here (with the install)
        self.record_command = record_command  # one of COMMAND_MODES
        self.attributes = attributes  # record reads of tracked modules' attributes (native strategy)
        self.config_reads = config_reads  # record environment variables and framework settings by name
        self.config_file = config_file  # absolute path of the file read, if any
        self.warnings = [] if warnings is None else warnings

    def __eq__(self, other: object) -> bool:
        if type(other) is not Config:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.FIELDS)

    def __repr__(self) -> str:
        return "Config(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS) + ")"


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_patterns(value: object) -> List[str]:
    """Validated, stripped patterns; ConfigError carries only the problem, the caller adds where."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"expected a list of strings, got {_type_name(value)}")
    result = []
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"expected a list of strings, got an item of type {_type_name(item)}")
        try:
            result.append(patterns.validate_pattern(item))
        except patterns.PatternError as exc:
            raise ConfigError(str(exc)) from None
    return result


def _check_strategy(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {_type_name(value)}")
    if value not in STRATEGIES:
        raise ConfigError(f"unknown strategy {value!r} (expected one of: {', '.join(STRATEGIES)})")
    return value


def _check_path(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {_type_name(value)}")
    if not value.strip():
        raise ConfigError("empty path")
    return value


def _check_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {_type_name(value)}")
    return value


def _resolve(base: str, path: str) -> str:
    """Absolute ``path``; a relative one is taken from ``base``, not from the process's cwd."""
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _env_patterns(text: str) -> List[str]:
    return _check_patterns([item.strip() for item in text.split(",")])


def _env_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigError(f"expected one of {'/'.join(_TRUE + _FALSE)}, got {text!r}")


def _check_command_mode(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {_type_name(value)}")
    if value not in COMMAND_MODES:
        raise ConfigError(f"unknown value {value!r} (expected one of: {', '.join(COMMAND_MODES)})")
    return value


# key -> (checker for TOML/CLI values, parser for environment strings)
_KEYS: "Dict[str, Tuple[Callable[[Any], Any], Callable[[str], Any]]]" = {
    "include": (_check_patterns, _env_patterns),
    "exclude": (_check_patterns, _env_patterns),
    "strategy": (_check_strategy, lambda text: _check_strategy(text.strip())),
    "data_file": (_check_path, lambda text: _check_path(text.strip())),
    "report": (_check_bool, _env_bool),
    "enabled": (_check_bool, _env_bool),
    "record_command": (_check_command_mode, lambda text: _check_command_mode(text.strip())),
    "attributes": (_check_bool, _env_bool),
    "config_reads": (_check_bool, _env_bool),
}


def read_toml_table(path: str) -> dict:
    """Return the ``[tool.globalhook]`` table of ``path``, ``{}`` when it has none."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    return _globalhook_table(path, parse_toml(path, raw))


def parse_toml(path: str, raw: bytes) -> dict:
    """The whole document, read without importing anything the program may want.

    :mod:`globalhook.toml` reads what it can; whatever it refuses (invalid
    TOML, dates and times) goes to ``tomllib``, whose result or error is the
    answer.
    """
    from . import toml

    try:
        return toml.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, toml.TOMLError, toml.Unsupported):
        pass
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:  # pragma: no cover - tomli is a dependency on < 3.11
            raise ConfigError(f"{path}: cannot read config: install tomli to read TOML on Python < 3.11") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _globalhook_table(path: str, data: dict) -> dict:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool] must be a table, got {_type_name(tool)}")
    table = tool.get("globalhook", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {_SECTION} must be a table, got {_type_name(table)}")
    return table


def find_config_file(
    cwd: str, environ: "Mapping[str, str]", explicit: "Optional[str]", explicit_source: str = "--config"
) -> "Optional[str]":
    """The absolute path of the file to read, or None when there is none.

    A file the user named must exist (silently ignoring it would hide a typo);
    ``pyproject.toml`` in ``cwd`` is read only when it is there.
    ``explicit_source`` names where ``explicit`` came from, for the message.
    """
    cwd = os.path.abspath(cwd)
    for source, name in ((explicit_source, explicit), (ENV_CONFIG, environ.get(ENV_CONFIG) or None)):
        if name is not None:
            path = _resolve(cwd, name)
            if not os.path.exists(path):
                raise ConfigError(f"{source}: config file not found: {path}")
            return path
    candidate = os.path.join(cwd, "pyproject.toml")
    return candidate if os.path.isfile(candidate) else None


def load_config(
    cli: "Optional[Mapping[str, object]]" = None,
    environ: "Optional[Mapping[str, str]]" = None,
    cwd: "Optional[str]" = None,
    config_source: str = "--config",
) -> Config:
    """Merge command line, environment, config file and defaults into one :class:`Config`.

    ``cli`` may hold more keys than the ones read here; a value of None means
    "not given".  Empty environment variables count as unset, so
    ``GLOBALHOOK_X= cmd`` restores the lower-precedence value.
    ``config_source`` names where ``cli["config"]`` came from, for messages.
    """
    cli = cli or {}
    environ = os.environ if environ is None else environ
    cwd = os.path.abspath(os.getcwd() if cwd is None else cwd)

    explicit = cli.get("config")
    if explicit is not None and not isinstance(explicit, str):
        raise ConfigError(f"{config_source}: expected a path, got {_type_name(explicit)}")
    config_file = find_config_file(cwd, environ, explicit, config_source)

    values: "Dict[str, Any]" = {
        "include": [],
        "exclude": [],
        "strategy": STRATEGIES[0],
        "data_file": _resolve(cwd, DEFAULT_DATA_FILE),
        "report": False,
        "enabled": False,
        "record_command": COMMAND_MODES[0],
        "attributes": True,
        "config_reads": True,
    }
    warnings: "List[str]" = []
    outside: "Optional[str]" = None  # why the config file's data_file cannot be used, if it is used

    if config_file is not None:
        folder = os.path.dirname(config_file)
        for key, value in read_toml_table(config_file).items():
            if key in _SUBTABLES:
                continue
            if key not in _KEYS:
                warnings.append(f"{config_file}: {_SECTION} unknown key {key!r} (ignored)")
                continue
            try:
                values[key] = _KEYS[key][0](value)
            except ConfigError as exc:
                raise ConfigError(f"{config_file}: {_SECTION} {key}: {exc}") from None
            if key == "data_file":
                values[key] = _resolve(folder, values[key])
                if not _inside(folder, values[key]):
                    outside = (
                        f"{config_file}: {_SECTION} data_file: {value!r} is outside {folder} "
                        "(a config file may name a data file only inside its own folder; "
                        "give --data-file or GLOBALHOOK_DATA_FILE for another place)"
                    )

    for key, (_, parse) in _KEYS.items():
        if key == "enabled":
            continue  # activation from the environment is GLOBALHOOK_PROCESS_START's job
        var = f"GLOBALHOOK_{key.upper()}"
        text = environ.get(var, "")
        if text.strip():
            try:
                values[key] = parse(text)
            except ConfigError as exc:
                raise ConfigError(f"{var}: {exc}") from None
            if key == "data_file":
                values[key] = _resolve(cwd, values[key])
                outside = None  # the user's own choice

    for key, (check, _) in _KEYS.items():
        value = cli.get(key)
        if value is not None:
            try:
                values[key] = check(value)
            except ConfigError as exc:
                raise ConfigError(f"--{key.replace('_', '-')}: {exc}") from None
            if key == "data_file":
                values[key] = _resolve(cwd, values[key])
                outside = None

    if outside is not None:
        raise OutsideProjectError(outside)
    return Config(config_file=config_file, warnings=warnings, **values)


def to_json(config: Config, **extra: object) -> str:
    """Serialise a config for child processes (``GLOBALHOOK_PROCESS_START``).

    The same text as ``json.dumps(..., sort_keys=True)``, without importing
    json before the program starts.
    """
    fields = {name: getattr(config, name) for name in Config.FIELDS if name != "warnings"}
    fields.update(extra)
    return _json_text(fields)


def _json_text(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json_string(k)}: {_json_text(value[k])}" for k in sorted(value)) + "}"
    raise TypeError(f"cannot serialise {_type_name(value)}")


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_string(text: str) -> str:
    """What ``json.dumps`` writes for a str (``ensure_ascii``: everything else as \\uXXXX)."""
    out = []
    for char in text:
        if " " <= char <= "~":
            out.append(_JSON_ESCAPES.get(char, char))
        elif char in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[char])
        else:
            code = ord(char)
            if code > 0xFFFF:  # a surrogate pair, as json writes it
                code -= 0x10000
                out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def _read_json(text: str) -> object:
    """``json.loads(text)``, without importing json for what :func:`to_json` writes.

    Child processes read their config at start, before the program: objects,
    arrays, strings, integers, true, false and null are read here; anything
    else (floats, odd spacing...) goes to json itself.
    """
    try:
        value, end = _json_value(text, _skip_json_space(text, 0))
        if _skip_json_space(text, end) == len(text):
            return value
    except (_NotMine, IndexError):
        pass
    import json

    return json.loads(text)


class _NotMine(Exception):
    pass


_JSON_UNESCAPE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _skip_json_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos


def _json_value(text: str, pos: int) -> "Tuple[object, int]":
    char = text[pos]
    if char == '"':
        return _json_string_at(text, pos + 1)
    if char == "{":
        result: "Dict[str, object]" = {}
        pos = _skip_json_space(text, pos + 1)
        if text[pos] == "}":
            return result, pos + 1
        while True:
            if text[pos] != '"':
                raise _NotMine
            key, pos = _json_string_at(text, pos + 1)
            pos = _skip_json_space(text, pos)
            if text[pos] != ":":
                raise _NotMine
            result[key], pos = _json_value(text, _skip_json_space(text, pos + 1))
            pos = _skip_json_space(text, pos)
            if text[pos] == "}":
                return result, pos + 1
            if text[pos] != ",":
                raise _NotMine
            pos = _skip_json_space(text, pos + 1)
    if char == "[":
        items: "List[object]" = []
        pos = _skip_json_space(text, pos + 1)
        if text[pos] == "]":
            return items, pos + 1
        while True:
            item, pos = _json_value(text, pos)
            items.append(item)
            pos = _skip_json_space(text, pos)
            if text[pos] == "]":
                return items, pos + 1
            if text[pos] != ",":
                raise _NotMine
            pos = _skip_json_space(text, pos + 1)
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, pos):
            return value, pos + len(word)
    end = pos + 1 if char == "-" else pos
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    digits = text[pos + 1 if char == "-" else pos : end]
    if not digits or (len(digits) > 1 and digits[0] == "0") or len(digits) > 100 or text[end : end + 1] in (".", "e", "E"):
        raise _NotMine  # not an integer json would read as one: let json decide
    return int(text[pos:end]), end


def _json_string_at(text: str, pos: int) -> "Tuple[str, int]":
    out = []
    while True:
        char = text[pos]
        if char == '"':
            return "".join(out), pos + 1
        if char < " ":
            raise _NotMine
        if char != "\\":
            out.append(char)
            pos += 1
            continue
        escape = text[pos + 1]
        if escape != "u":
            if escape not in _JSON_UNESCAPE:
                raise _NotMine
            out.append(_JSON_UNESCAPE[escape])
            pos += 2
            continue
        code = _json_hex(text, pos + 2)
        pos += 6
        if 0xD800 <= code <= 0xDBFF and text.startswith("\\u", pos):
            low = _json_hex(text, pos + 2)
            if 0xDC00 <= low <= 0xDFFF:  # a surrogate pair, as json joins it
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                pos += 6
        out.append(chr(code))


def _json_hex(text: str, pos: int) -> int:
    digits = text[pos : pos + 4]
    if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise _NotMine
    return int(digits, 16)


#: Fields a serialized config must have; the others default.
_REQUIRED = ("include", "exclude", "strategy", "data_file", "report")


def from_json(text: str, source: str) -> "Tuple[Config, Dict[str, Any]]":
    """Read what :func:`to_json` wrote; returns the config and the extra fields.

    Every field is checked as strictly as in a config file (booleans must be
    booleans; ``run_id`` and ``root`` strings), and ``data_file`` is made
    absolute with ``~`` expanded: anything else is a one-line error.
    """
    try:
        try:
            raw = _read_json(text)
        except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
            raise ConfigError(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError("not a JSON object")
        for name in _REQUIRED:
            if name not in raw:
                raise ConfigError(f"missing {name!r}")
        values: "Dict[str, Any]" = {}
        for name, value in raw.items():
            if name in _KEYS:
                try:
                    values[name] = _KEYS[name][0](value)
                except ConfigError as exc:
                    raise ConfigError(f"{name}: {exc}") from None
            elif name in ("config_file", "run_id", "root") and value is not None and not isinstance(value, str):
                raise ConfigError(f"{name}: expected a string, got {_type_name(value)}")
        values["data_file"] = _resolve(os.getcwd(), values["data_file"])
        if raw.get("config_file") is not None:
            values["config_file"] = raw["config_file"]
    except ConfigError as exc:
        raise ConfigError(f"{source}: not a usable serialized config ({exc})") from None
    known = set(Config.FIELDS)
    return Config(**values), {k: v for k, v in raw.items() if k not in known}
