"""One merged configuration: command line > environment > config file > defaults.

Settings live in ``[tool.globalhook]`` of ``pyproject.toml`` (or of the file
named by ``--config`` / ``GLOBALHOOK_CONFIG``), the way coverage.py reads
``[tool.coverage]``.  A value given at a higher level replaces the lower one
entirely; lists are not merged, so ``--include`` means exactly what it says.

Every error is one line that names where the bad value came from (file and
key, environment variable, or command-line option), because the user has to
find it to fix it.  Unknown keys in the file only warn: a typo should not stop
a run, but it should not go unnoticed either.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import patterns

try:
    import tomllib
except ImportError:  # Python < 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:  # pragma: no cover - tomli is a dependency on < 3.11
        tomllib = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_DATA_FILE",
    "STRATEGIES",
    "Config",
    "ConfigError",
    "find_config_file",
    "load_config",
    "read_toml_table",
]

DEFAULT_DATA_FILE = ".globalhook.json"
STRATEGIES = ("native", "proxy")

ENV_CONFIG = "GLOBALHOOK_CONFIG"
_SECTION = "[tool.globalhook]"
#: Sub-tables that other commands read themselves ([tool.globalhook.check]: globalhook/check.py).
_SUBTABLES = ("check",)
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


class ConfigError(Exception):
    """One-line, user-facing message that names the file and the key (or env var / option) that is wrong."""


@dataclasses.dataclass
class Config:
    """The settings a run uses, already validated and resolved."""

    include: List[str]  # validated patterns; [] means "the default path rule"
    exclude: List[str]
    strategy: str  # one of STRATEGIES
    data_file: str  # always absolute
    report: bool  # print the text report after the run
    enabled: bool = False  # start tracking in every process started here (with the install)
    config_file: Optional[str] = None  # absolute path of the file read, if any
    warnings: List[str] = dataclasses.field(default_factory=list)


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


# key -> (checker for TOML/CLI values, parser for environment strings)
_KEYS: Dict[str, Tuple[Callable[[Any], Any], Callable[[str], Any]]] = {
    "include": (_check_patterns, _env_patterns),
    "exclude": (_check_patterns, _env_patterns),
    "strategy": (_check_strategy, lambda text: _check_strategy(text.strip())),
    "data_file": (_check_path, lambda text: _check_path(text.strip())),
    "report": (_check_bool, _env_bool),
    "enabled": (_check_bool, _env_bool),
}


def read_toml_table(path: str) -> dict:
    """Return the ``[tool.globalhook]`` table of ``path``, ``{}`` when it has none."""
    if tomllib is None:  # pragma: no cover - only without tomli on < 3.11
        raise ConfigError(f"{path}: cannot read config: install tomli to read TOML on Python < 3.11")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool] must be a table, got {_type_name(tool)}")
    table = tool.get("globalhook", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {_SECTION} must be a table, got {_type_name(table)}")
    return table


def find_config_file(cwd: str, environ: Mapping[str, str], explicit: Optional[str]) -> Optional[str]:
    """The absolute path of the file to read, or None when there is none.

    A file the user named must exist (silently ignoring it would hide a typo);
    ``pyproject.toml`` in ``cwd`` is read only when it is there.
    """
    cwd = os.path.abspath(cwd)
    for source, name in (("--config", explicit), (ENV_CONFIG, environ.get(ENV_CONFIG) or None)):
        if name is not None:
            path = _resolve(cwd, name)
            if not os.path.exists(path):
                raise ConfigError(f"{source}: config file not found: {path}")
            return path
    candidate = os.path.join(cwd, "pyproject.toml")
    return candidate if os.path.isfile(candidate) else None


def load_config(
    cli: Optional[Mapping[str, object]] = None,
    environ: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> Config:
    """Merge command line, environment, config file and defaults into one :class:`Config`.

    ``cli`` may hold more keys than the ones read here (e.g. ``vars(args)``);
    a value of None means "not given".  Empty environment variables count as
    unset, so ``GLOBALHOOK_X= cmd`` restores the lower-precedence value.
    """
    cli = cli or {}
    environ = os.environ if environ is None else environ
    cwd = os.path.abspath(os.getcwd() if cwd is None else cwd)

    explicit = cli.get("config")
    if explicit is not None and not isinstance(explicit, str):
        raise ConfigError(f"--config: expected a path, got {_type_name(explicit)}")
    config_file = find_config_file(cwd, environ, explicit)

    values: Dict[str, Any] = {
        "include": [],
        "exclude": [],
        "strategy": STRATEGIES[0],
        "data_file": _resolve(cwd, DEFAULT_DATA_FILE),
        "report": False,
        "enabled": False,
    }
    warnings: List[str] = []

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

    for key, (check, _) in _KEYS.items():
        value = cli.get(key)
        if value is not None:
            try:
                values[key] = check(value)
            except ConfigError as exc:
                raise ConfigError(f"--{key.replace('_', '-')}: {exc}") from None
            if key == "data_file":
                values[key] = _resolve(cwd, values[key])

    return Config(config_file=config_file, warnings=warnings, **values)


def to_json(config: Config, **extra: object) -> str:
    """Serialise a config for child processes (``GLOBALHOOK_PROCESS_START``)."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(Config) if f.name != "warnings"}
    fields.update(extra)
    return json.dumps(fields, sort_keys=True)


def from_json(text: str, source: str) -> Tuple[Config, Dict[str, Any]]:
    """Read what :func:`to_json` wrote; returns the config and the extra fields."""
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in dataclasses.fields(Config)}
        config = Config(**{k: v for k, v in raw.items() if k in known})
        config.include = _check_patterns(config.include)
        config.exclude = _check_patterns(config.exclude)
        config.strategy = _check_strategy(config.strategy)
        config.data_file = _check_path(config.data_file)
    except (ValueError, TypeError, ConfigError) as exc:
        raise ConfigError(f"{source}: not a usable serialized config ({exc})") from None
    return config, {k: v for k, v in raw.items() if k not in known}
