"""Behaviour of :mod:`globalhook.config`: sources, precedence, validation, messages.

Every test passes ``environ`` and ``cwd`` explicitly, so neither the real
environment nor the repository's own pyproject.toml can leak in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional

import pytest

from globalhook.config import (
    DEFAULT_DATA_FILE,
    STRATEGIES,
    Config,
    ConfigError,
    find_config_file,
    load_config,
    read_toml_table,
)


def write_pyproject(folder: Path, body: str, name: str = "pyproject.toml") -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def load(
    cwd: Path,
    cli: Optional[Dict[str, object]] = None,
    environ: Optional[Dict[str, str]] = None,
) -> Config:
    return load_config(cli=cli, environ=environ or {}, cwd=str(cwd))


def error(cwd: Path, cli=None, environ=None) -> str:
    with pytest.raises(ConfigError) as info:
        load(cwd, cli, environ)
    message = str(info.value)
    assert "\n" not in message, "messages are one line"
    return message


class TestDefaults:
    def test_no_config_anywhere(self, tmp_path: Path) -> None:
        config = load(tmp_path)
        assert config == Config(
            include=[],
            exclude=[],
            strategy="native",
            data_file=str(tmp_path / DEFAULT_DATA_FILE),
            report=False,
            config_file=None,
            warnings=[],
        )

    def test_constants(self) -> None:
        assert DEFAULT_DATA_FILE == ".globalhook.json"
        assert STRATEGIES == ("native", "proxy")

    def test_pyproject_without_section_is_fine(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, '[project]\nname = "x"\n')
        config = load(tmp_path)
        assert config.config_file == str(path)
        assert config.include == []
        assert config.warnings == []

    def test_empty_section(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "[tool.globalhook]\n")
        assert load(tmp_path).strategy == "native"

    def test_relative_cwd_is_made_absolute(self, tmp_path: Path, monkeypatch) -> None:
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path)
        config = load_config(environ={}, cwd="sub")
        assert config.data_file == str(tmp_path / "sub" / DEFAULT_DATA_FILE)

    def test_defaults_to_os_environ_and_getcwd(self, tmp_path: Path, monkeypatch) -> None:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("GLOBALHOOK_STRATEGY", "proxy")
        monkeypatch.delenv("GLOBALHOOK_CONFIG", raising=False)
        for var in ("INCLUDE", "EXCLUDE", "DATA_FILE", "REPORT"):
            monkeypatch.delenv("GLOBALHOOK_" + var, raising=False)
        write_pyproject(tmp_path, "[tool.globalhook]\nreport = true\n")
        config = load_config()
        assert config.strategy == "proxy"
        assert config.report is True
        assert config.data_file == os.path.join(os.getcwd(), DEFAULT_DATA_FILE)


class TestConfigFile:
    def test_all_keys(self, tmp_path: Path) -> None:
        write_pyproject(
            tmp_path,
            """
[tool.globalhook]
include = ["pkg", " app.* "]
exclude = ["pkg.tests"]
strategy = "proxy"
data_file = "out/data.json"
report = true
""",
        )
        config = load(tmp_path)
        assert config.include == ["pkg", "app.*"]
        assert config.exclude == ["pkg.tests"]
        assert config.strategy == "proxy"
        assert config.data_file == str(tmp_path / "out" / "data.json")
        assert config.report is True
        assert config.config_file == str(tmp_path / "pyproject.toml")

    def test_only_cwd_pyproject_is_found(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\nstrategy = "proxy"\n')
        sub = tmp_path / "sub"
        sub.mkdir()
        config = load(sub)
        assert config.config_file is None
        assert config.strategy == "native"

    def test_unknown_key_warns(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, '[tool.globalhook]\ninclde = ["pkg"]\nreport = true\n')
        config = load(tmp_path)
        assert config.include == []
        assert config.report is True
        (warning,) = config.warnings
        assert str(path) in warning
        assert "[tool.globalhook]" in warning
        assert "'inclde'" in warning
        assert "ignored" in warning

    def test_unknown_keys_warn_once_each(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "[tool.globalhook]\na = 1\nb = 2\n")
        warnings = load(tmp_path).warnings
        assert len(warnings) == 2
        assert "'a'" in warnings[0] and "'b'" in warnings[1]

    def test_other_tools_are_not_our_business(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "[tool.coverage.run]\nbranch = true\n[tool.globalhook]\n")
        assert load(tmp_path).warnings == []


class TestConfigFileErrors:
    @pytest.mark.parametrize(
        "line, key, problem",
        [
            ('include = "pkg"', "include", "expected a list of strings, got str"),
            ("exclude = 3", "exclude", "expected a list of strings, got int"),
            ("include = [1]", "include", "expected a list of strings, got an item of type int"),
            ("strategy = 1", "strategy", "expected a string, got int"),
            ("data_file = []", "data_file", "expected a string, got list"),
            ('data_file = "  "', "data_file", "empty path"),
            ('report = "yes"', "report", "expected true or false, got str"),
            ("report = 1", "report", "expected true or false, got int"),
        ],
    )
    def test_wrong_type(self, tmp_path: Path, line: str, key: str, problem: str) -> None:
        path = write_pyproject(tmp_path, f"[tool.globalhook]\n{line}\n")
        message = error(tmp_path)
        assert message.startswith(f"{path}: [tool.globalhook] {key}: ")
        assert problem in message

    @pytest.mark.parametrize(
        "value, problem",
        [
            ('[""]', "empty pattern"),
            ('["  "]', "empty pattern"),
            ('["ok", "a..b"]', "not a dotted module name"),
            ('["a b"]', "cannot appear in a module name"),
        ],
    )
    @pytest.mark.parametrize("key", ["include", "exclude"])
    def test_invalid_pattern(self, tmp_path: Path, key: str, value: str, problem: str) -> None:
        path = write_pyproject(tmp_path, f"[tool.globalhook]\n{key} = {value}\n")
        message = error(tmp_path)
        assert str(path) in message
        assert f"[tool.globalhook] {key}:" in message
        assert problem in message

    def test_invalid_strategy_lists_valid_ones(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, '[tool.globalhook]\nstrategy = "fast"\n')
        message = error(tmp_path)
        assert str(path) in message
        assert "strategy" in message
        assert "'fast'" in message
        assert "native" in message and "proxy" in message

    def test_section_not_a_table(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, '[tool]\nglobalhook = "pkg"\n')
        message = error(tmp_path)
        assert str(path) in message
        assert "[tool.globalhook] must be a table" in message

    def test_tool_not_a_table(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, "tool = 3\n")
        message = error(tmp_path)
        assert str(path) in message
        assert "[tool] must be a table" in message

    def test_invalid_toml(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, "[tool.globalhook\ninclude = \n")
        message = error(tmp_path)
        assert message.startswith(f"{path}: invalid TOML: ")
        assert len(message) > len(f"{path}: invalid TOML: ")  # the parser's reason follows

    def test_invalid_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "pyproject.toml"
        path.write_bytes(b'[tool.globalhook]\nstrategy = "\xff"\n')
        assert error(tmp_path).startswith(f"{path}: invalid TOML: ")

    def test_unreadable(self, tmp_path: Path) -> None:
        folder = tmp_path / "pyproject.toml"
        folder.mkdir()  # exists, is not a file: reading it fails
        message = error(tmp_path, cli={"config": str(folder)})
        assert message.startswith(f"{folder}: cannot read config: ")

    def test_error_is_raised_even_if_cli_overrides_the_key(self, tmp_path: Path) -> None:
        # A broken file is broken; fixing it must not depend on today's options.
        write_pyproject(tmp_path, '[tool.globalhook]\nstrategy = "fast"\n')
        assert "strategy" in error(tmp_path, cli={"strategy": "native"})


class TestReadTomlTable:
    def test_returns_section(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, '[tool.globalhook]\ninclude = ["a"]\nzzz = 1\n')
        assert read_toml_table(str(path)) == {"include": ["a"], "zzz": 1}

    def test_missing_section(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, "[tool.other]\nx = 1\n")
        assert read_toml_table(str(path)) == {}

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nope.toml"
        with pytest.raises(ConfigError, match="cannot read config") as info:
            read_toml_table(str(path))
        assert str(info.value).startswith(f"{path}: cannot read config: ")


class TestFindConfigFile:
    def test_none(self, tmp_path: Path) -> None:
        assert find_config_file(str(tmp_path), {}, None) is None

    def test_pyproject_in_cwd(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, "")
        assert find_config_file(str(tmp_path), {}, None) == str(path)

    def test_explicit_beats_env_and_pyproject(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "")
        env_file = write_pyproject(tmp_path, "", "env.toml")
        cli_file = write_pyproject(tmp_path, "", "cli.toml")
        environ = {"GLOBALHOOK_CONFIG": str(env_file)}
        assert find_config_file(str(tmp_path), environ, str(cli_file)) == str(cli_file)

    def test_env_beats_pyproject(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "")
        env_file = write_pyproject(tmp_path, "", "env.toml")
        environ = {"GLOBALHOOK_CONFIG": str(env_file)}
        assert find_config_file(str(tmp_path), environ, None) == str(env_file)

    def test_relative_names_are_from_cwd_and_made_absolute(self, tmp_path: Path) -> None:
        (tmp_path / "conf").mkdir()
        path = write_pyproject(tmp_path / "conf", "", "gh.toml")
        assert find_config_file(str(tmp_path), {}, "conf/gh.toml") == str(path)
        environ = {"GLOBALHOOK_CONFIG": "conf/gh.toml"}
        assert find_config_file(str(tmp_path), environ, None) == str(path)

    def test_missing_explicit(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "")  # no silent fallback to it
        with pytest.raises(ConfigError) as info:
            find_config_file(str(tmp_path), {}, "missing.toml")
        message = str(info.value)
        assert "--config" in message
        assert str(tmp_path / "missing.toml") in message

    def test_missing_env(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "")
        with pytest.raises(ConfigError) as info:
            find_config_file(str(tmp_path), {"GLOBALHOOK_CONFIG": "missing.toml"}, None)
        message = str(info.value)
        assert "GLOBALHOOK_CONFIG" in message
        assert str(tmp_path / "missing.toml") in message

    def test_empty_env_is_unset(self, tmp_path: Path) -> None:
        path = write_pyproject(tmp_path, "")
        assert find_config_file(str(tmp_path), {"GLOBALHOOK_CONFIG": ""}, None) == str(path)


class TestExplicitConfigFile:
    def test_cli_config_is_read(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\nstrategy = "native"\n')
        other = write_pyproject(tmp_path, '[tool.globalhook]\nstrategy = "proxy"\n', "other.toml")
        config = load(tmp_path, cli={"config": "other.toml"})
        assert config.strategy == "proxy"
        assert config.config_file == str(other)

    def test_env_config_is_read(self, tmp_path: Path) -> None:
        other = write_pyproject(tmp_path, "[tool.globalhook]\nreport = true\n", "gh.toml")
        config = load(tmp_path, environ={"GLOBALHOOK_CONFIG": str(other)})
        assert config.report is True
        assert config.config_file == str(other)

    def test_cli_config_beats_env_config(self, tmp_path: Path) -> None:
        env_file = write_pyproject(tmp_path, '[tool.globalhook]\ninclude = ["env"]\n', "env.toml")
        cli_file = write_pyproject(tmp_path, '[tool.globalhook]\ninclude = ["cli"]\n', "cli.toml")
        config = load(tmp_path, cli={"config": str(cli_file)}, environ={"GLOBALHOOK_CONFIG": str(env_file)})
        assert config.include == ["cli"]

    def test_missing_cli_config(self, tmp_path: Path) -> None:
        message = error(tmp_path, cli={"config": "nope.toml"})
        assert "--config" in message
        assert "nope.toml" in message

    def test_missing_env_config(self, tmp_path: Path) -> None:
        message = error(tmp_path, environ={"GLOBALHOOK_CONFIG": str(tmp_path / "nope.toml")})
        assert "GLOBALHOOK_CONFIG" in message
        assert str(tmp_path / "nope.toml") in message

    def test_errors_name_the_explicit_file(self, tmp_path: Path) -> None:
        other = write_pyproject(tmp_path, "[tool.globalhook]\ninclude = 1\n", "gh.toml")
        message = error(tmp_path, cli={"config": "gh.toml"})
        assert message.startswith(f"{other}: [tool.globalhook] include:")

    def test_unknown_key_warning_names_the_explicit_file(self, tmp_path: Path) -> None:
        other = write_pyproject(tmp_path, "[tool.globalhook]\nbogus = 1\n", "gh.toml")
        (warning,) = load(tmp_path, environ={"GLOBALHOOK_CONFIG": "gh.toml"}).warnings
        assert warning.startswith(f"{other}: ")
        assert "'bogus'" in warning


class TestEnvironment:
    def test_all_variables(self, tmp_path: Path) -> None:
        config = load(
            tmp_path,
            environ={
                "GLOBALHOOK_INCLUDE": " pkg , app.*",
                "GLOBALHOOK_EXCLUDE": "pkg.tests",
                "GLOBALHOOK_STRATEGY": "proxy",
                "GLOBALHOOK_DATA_FILE": "data/x.json",
                "GLOBALHOOK_REPORT": "yes",
            },
        )
        assert config.include == ["pkg", "app.*"]
        assert config.exclude == ["pkg.tests"]
        assert config.strategy == "proxy"
        assert config.data_file == str(tmp_path / "data" / "x.json")
        assert config.report is True
        assert config.config_file is None

    @pytest.mark.parametrize(
        "text, expected",
        [("1", True), ("true", True), ("TRUE", True), ("yes", True), (" Yes ", True),
         ("0", False), ("false", False), ("no", False), ("No", False)],
    )
    def test_report_values(self, tmp_path: Path, text: str, expected: bool) -> None:
        assert load(tmp_path, environ={"GLOBALHOOK_REPORT": text}).report is expected

    def test_report_false_overrides_file(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "[tool.globalhook]\nreport = true\n")
        assert load(tmp_path, environ={"GLOBALHOOK_REPORT": "0"}).report is False

    @pytest.mark.parametrize("text", ["maybe", "2", "on"])
    def test_report_invalid(self, tmp_path: Path, text: str) -> None:
        message = error(tmp_path, environ={"GLOBALHOOK_REPORT": text})
        assert message.startswith("GLOBALHOOK_REPORT: ")
        assert repr(text) in message

    @pytest.mark.parametrize("var", ["GLOBALHOOK_INCLUDE", "GLOBALHOOK_EXCLUDE"])
    @pytest.mark.parametrize("text", ["a,,b", "a, ,b", "a,", ",a"])
    def test_empty_item(self, tmp_path: Path, var: str, text: str) -> None:
        message = error(tmp_path, environ={var: text})
        assert message == f"{var}: empty pattern"

    def test_invalid_pattern(self, tmp_path: Path) -> None:
        message = error(tmp_path, environ={"GLOBALHOOK_INCLUDE": "ok,a..b"})
        assert message.startswith("GLOBALHOOK_INCLUDE: ")
        assert "'a..b'" in message

    def test_invalid_strategy(self, tmp_path: Path) -> None:
        message = error(tmp_path, environ={"GLOBALHOOK_STRATEGY": "fast"})
        assert message.startswith("GLOBALHOOK_STRATEGY: ")
        assert "native" in message and "proxy" in message

    def test_empty_variables_count_as_unset(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\ninclude = ["pkg"]\nstrategy = "proxy"\n')
        environ = {
            "GLOBALHOOK_INCLUDE": "",
            "GLOBALHOOK_EXCLUDE": " ",
            "GLOBALHOOK_STRATEGY": "",
            "GLOBALHOOK_DATA_FILE": "",
            "GLOBALHOOK_REPORT": "",
        }
        config = load(tmp_path, environ=environ)
        assert config.include == ["pkg"]
        assert config.strategy == "proxy"
        assert config.data_file == str(tmp_path / DEFAULT_DATA_FILE)

    def test_unrelated_variables_are_ignored(self, tmp_path: Path) -> None:
        config = load(tmp_path, environ={"GLOBALHOOK_SOMETHING_ELSE": "x", "INCLUDE": "y"})
        assert config.include == [] and config.warnings == []


class TestCommandLine:
    def test_all_options(self, tmp_path: Path) -> None:
        config = load(
            tmp_path,
            cli={
                "include": ["pkg", " app.* "],
                "exclude": ["pkg.tests"],
                "strategy": "proxy",
                "data_file": "d.json",
                "report": True,
            },
        )
        assert config.include == ["pkg", "app.*"]
        assert config.exclude == ["pkg.tests"]
        assert config.strategy == "proxy"
        assert config.data_file == str(tmp_path / "d.json")
        assert config.report is True

    def test_none_means_not_given(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\ninclude = ["pkg"]\nreport = true\nstrategy = "proxy"\n')
        cli = {"include": None, "exclude": None, "strategy": None, "data_file": None, "report": None, "config": None}
        config = load(tmp_path, cli=cli)
        assert config.include == ["pkg"]
        assert config.report is True
        assert config.strategy == "proxy"

    def test_extra_keys_are_ignored(self, tmp_path: Path) -> None:
        config = load(tmp_path, cli={"script": "x.py", "args": ["-v"], "module": None})
        assert config.strategy == "native"

    def test_empty_list_is_given(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\ninclude = ["pkg"]\n')
        assert load(tmp_path, cli={"include": []}).include == []

    @pytest.mark.parametrize(
        "key, value, option, problem",
        [
            ("include", [""], "--include", "empty pattern"),
            ("include", ["  "], "--include", "empty pattern"),
            ("exclude", ["a b"], "--exclude", "cannot appear in a module name"),
            ("include", ["a."], "--include", "not a dotted module name"),
            ("include", "pkg", "--include", "expected a list of strings, got str"),
            ("strategy", "fast", "--strategy", "expected one of: native, proxy"),
            ("data_file", "", "--data-file", "empty path"),
            ("report", "yes", "--report", "expected true or false, got str"),
            ("config", 3, "--config", "expected a path"),
        ],
    )
    def test_errors_name_the_option(self, tmp_path: Path, key: str, value: object, option: str, problem: str) -> None:
        message = error(tmp_path, cli={key: value})
        assert message.startswith(f"{option}: ")
        assert problem in message

    def test_exact_empty_pattern_message(self, tmp_path: Path) -> None:
        assert error(tmp_path, cli={"include": ["pkg", ""]}) == "--include: empty pattern"


class TestPrecedence:
    FILE = """
[tool.globalhook]
include = ["from_file"]
exclude = ["file_ex"]
strategy = "proxy"
data_file = "file.json"
report = true
"""

    def test_file_beats_defaults(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, self.FILE)
        config = load(tmp_path)
        assert (config.include, config.exclude, config.strategy, config.report) == (
            ["from_file"], ["file_ex"], "proxy", True)
        assert config.data_file == str(tmp_path / "file.json")

    def test_env_beats_file(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, self.FILE)
        environ = {
            "GLOBALHOOK_INCLUDE": "from_env",
            "GLOBALHOOK_EXCLUDE": "env_ex",
            "GLOBALHOOK_STRATEGY": "native",
            "GLOBALHOOK_DATA_FILE": "env.json",
            "GLOBALHOOK_REPORT": "false",
        }
        config = load(tmp_path, environ=environ)
        assert (config.include, config.exclude, config.strategy, config.report) == (
            ["from_env"], ["env_ex"], "native", False)
        assert config.data_file == str(tmp_path / "env.json")

    def test_cli_beats_env_and_file(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, self.FILE)
        environ = {"GLOBALHOOK_INCLUDE": "from_env", "GLOBALHOOK_REPORT": "1", "GLOBALHOOK_STRATEGY": "proxy"}
        cli = {"include": ["from_cli"], "report": False, "strategy": "native", "data_file": "cli.json"}
        config = load(tmp_path, cli=cli, environ=environ)
        assert config.include == ["from_cli"]
        assert config.report is False
        assert config.strategy == "native"
        assert config.exclude == ["file_ex"]  # not given above: the file's value stays
        assert config.data_file == str(tmp_path / "cli.json")

    def test_lists_are_replaced_not_merged(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\ninclude = ["a", "b"]\n')
        assert load(tmp_path, environ={"GLOBALHOOK_INCLUDE": "c"}).include == ["c"]
        assert load(tmp_path, cli={"include": ["d"]}, environ={"GLOBALHOOK_INCLUDE": "c"}).include == ["d"]

    def test_each_key_independently(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\nstrategy = "proxy"\n')
        config = load(tmp_path, cli={"report": True}, environ={"GLOBALHOOK_INCLUDE": "e"})
        assert (config.strategy, config.report, config.include) == ("proxy", True, ["e"])

    def test_env_error_is_raised_even_if_cli_overrides(self, tmp_path: Path) -> None:
        message = error(tmp_path, cli={"report": True}, environ={"GLOBALHOOK_REPORT": "maybe"})
        assert message.startswith("GLOBALHOOK_REPORT: ")


class TestDataFile:
    @pytest.mark.parametrize(
        "value, expected",
        [("gh.json", "conf/gh.json"), ("data/gh.json", "conf/data/gh.json"), ("data/../gh.json", "conf/gh.json")],
    )
    def test_from_file_is_relative_to_the_file(self, tmp_path: Path, value: str, expected: str) -> None:
        conf = tmp_path / "conf"
        run = tmp_path / "deep" / "run"
        conf.mkdir()
        run.mkdir(parents=True)
        write_pyproject(conf, f'[tool.globalhook]\ndata_file = "{value}"\n', "gh.toml")
        config = load(run, cli={"config": str(conf / "gh.toml")})
        assert config.data_file == str(tmp_path.joinpath(*expected.split("/")))

    @pytest.mark.parametrize("value", ["../gh.json", "~/gh.json", "/tmp/gh.json", "."])
    def test_from_file_never_outside_the_files_folder(self, tmp_path: Path, value: str) -> None:
        """A cloned project's config must not aim the data file at ~/.bashrc (issue 17, item 1)."""
        conf = tmp_path / "conf"
        conf.mkdir()
        write_pyproject(conf, f'[tool.globalhook]\ndata_file = "{value}"\n')
        message = error(conf)
        assert message.startswith(f"{conf / 'pyproject.toml'}: [tool.globalhook] data_file: ")
        assert "outside" in message and "\n" not in message
        # the user's own choice wins, and then the file's value does not matter
        assert load(conf, cli={"data_file": "mine.json"}).data_file == str(conf / "mine.json")
        assert load(conf, environ={"GLOBALHOOK_DATA_FILE": "env.json"}).data_file == str(conf / "env.json")

    def test_from_cwd_pyproject(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\ndata_file = "out/gh.json"\n')
        assert load(tmp_path).data_file == str(tmp_path / "out" / "gh.json")

    def test_default_is_relative_to_cwd_even_with_a_file(self, tmp_path: Path) -> None:
        conf = tmp_path / "conf"
        run = tmp_path / "run"
        conf.mkdir()
        run.mkdir()
        write_pyproject(conf, '[tool.globalhook]\nreport = true\n', "gh.toml")
        config = load(run, environ={"GLOBALHOOK_CONFIG": str(conf / "gh.toml")})
        assert config.data_file == str(run / DEFAULT_DATA_FILE)

    def test_from_env_is_relative_to_cwd(self, tmp_path: Path) -> None:
        conf = tmp_path / "conf"
        conf.mkdir()
        write_pyproject(conf, '[tool.globalhook]\ndata_file = "file.json"\n', "gh.toml")
        environ = {"GLOBALHOOK_CONFIG": str(conf / "gh.toml"), "GLOBALHOOK_DATA_FILE": "env.json"}
        assert load(tmp_path, environ=environ).data_file == str(tmp_path / "env.json")

    def test_from_cli_is_relative_to_cwd(self, tmp_path: Path) -> None:
        conf = tmp_path / "conf"
        conf.mkdir()
        write_pyproject(conf, '[tool.globalhook]\ndata_file = "file.json"\n', "gh.toml")
        config = load(tmp_path, cli={"config": "conf/gh.toml", "data_file": "sub/../cli.json"})
        assert config.data_file == str(tmp_path / "cli.json")

    def test_absolute_stays(self, tmp_path: Path) -> None:
        target = tmp_path / "abs" / "x.json"
        write_pyproject(tmp_path, f"[tool.globalhook]\ndata_file = {str(target)!r}\n")
        assert load(tmp_path).data_file == str(target)

    def test_always_absolute(self, tmp_path: Path) -> None:
        for config in (
            load(tmp_path),
            load(tmp_path, environ={"GLOBALHOOK_DATA_FILE": "x.json"}),
            load(tmp_path, cli={"data_file": "y.json"}),
        ):
            assert os.path.isabs(config.data_file)


class TestStartUpActivation:
    def test_enabled_from_the_file(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, "[tool.globalhook]\nenabled = true\n")
        assert load(tmp_path).enabled is True
        assert not load(tmp_path, environ={}).warnings

    def test_enabled_must_be_a_bool(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\nenabled = "yes"\n')
        assert "enabled" in error(tmp_path)

    def test_not_from_the_environment(self, tmp_path: Path) -> None:
        assert load(tmp_path, environ={"GLOBALHOOK_ENABLED": "1"}).enabled is False

    def test_serialized_round_trip(self, tmp_path: Path) -> None:
        from globalhook.config import from_json, to_json

        config = load(tmp_path, cli={"include": ["pkg"], "strategy": "proxy"})
        again, extra = from_json(to_json(config, run_id="r1", root="/x"), "TEST")
        assert (again.include, again.strategy, again.data_file) == (["pkg"], "proxy", config.data_file)
        assert extra == {"run_id": "r1", "root": "/x"}

    @pytest.mark.parametrize("text", ["{not json", "[1]", '{"include": [""], "exclude": [], "strategy": "native", "data_file": "d", "report": false}'])
    def test_serialized_garbage_names_the_source(self, text: str) -> None:
        from globalhook.config import ConfigError, from_json

        with pytest.raises(ConfigError, match="^GLOBALHOOK_PROCESS_START: not a usable serialized config"):
            from_json(text, "GLOBALHOOK_PROCESS_START")


class TestRecordCommand:
    def test_default_is_the_whole_command(self, tmp_path: Path) -> None:
        assert load(tmp_path).record_command == "full"

    def test_every_source(self, tmp_path: Path) -> None:
        write_pyproject(tmp_path, '[tool.globalhook]\nrecord_command = "none"\n')
        assert load(tmp_path).record_command == "none"
        assert load(tmp_path, environ={"GLOBALHOOK_RECORD_COMMAND": " redacted "}).record_command == "redacted"
        assert load(tmp_path, cli={"record_command": "full"}, environ={"GLOBALHOOK_RECORD_COMMAND": "none"}).record_command == "full"

    @pytest.mark.parametrize("value", ['"hidden"', "false", "1"])
    def test_bad_value_names_the_key(self, tmp_path: Path, value: str) -> None:
        write_pyproject(tmp_path, f"[tool.globalhook]\nrecord_command = {value}\n")
        message = error(tmp_path)
        assert "record_command" in message and str(tmp_path / "pyproject.toml") in message

    def test_serialized_for_children(self, tmp_path: Path) -> None:
        from globalhook.config import from_json, to_json

        config = load(tmp_path, cli={"record_command": "redacted"})
        assert from_json(to_json(config), "TEST")[0].record_command == "redacted"


class TestSerializedConfigReader:
    """Child processes read GLOBALHOOK_PROCESS_START without importing json: same results as json."""

    def test_same_as_json_on_random_documents(self) -> None:
        import json
        import random

        from globalhook.config import _json_text, _read_json

        rng = random.Random(9)
        alphabet = ["a", "\u00e9", "\u20ac", "\U0001f600", "\ud800", "\udc80", '"', "\\", "/", "\n", "\x01", " "]

        def value(depth: int = 0) -> object:
            kind = rng.randrange(8 if depth < 3 else 5)
            if kind == 0:
                return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
            if kind == 1:
                return rng.choice([True, False, None])
            if kind in (2, 3):
                return rng.randint(-(10 ** 30), 10 ** 30) if kind == 3 else rng.randint(-3, 3)
            if kind == 4:
                return rng.choice(["x", ""])
            if kind in (5, 6):
                return [value(depth + 1) for _ in range(rng.randrange(4))]
            return {"".join(rng.choice(alphabet) for _ in range(3)): value(depth + 1) for _ in range(rng.randrange(4))}

        for _ in range(3000):
            obj = value()
            for text in (
                json.dumps(obj), json.dumps(obj, ensure_ascii=False), json.dumps(obj, indent=2),
                json.dumps(obj, separators=(",", ":")), _json_text(obj) if not isinstance(obj, (int, bool)) or True else "",
            ):
                assert _read_json(text) == json.loads(text)
                for cut in (1, len(text) // 2):
                    broken = text[:-cut] if len(text) > cut else text + "}"
                    try:
                        expected = json.loads(broken)
                    except ValueError:
                        with pytest.raises(ValueError):
                            _read_json(broken)
                    else:
                        assert _read_json(broken) == expected

    def test_floats_and_other_json_go_to_json(self) -> None:
        from globalhook.config import _read_json

        assert _read_json('{"a": 1.5e3, "b": [1E2]}') == {"a": 1500.0, "b": [100.0]}

    def test_a_child_reads_its_config_without_json(self, tmp_path: Path) -> None:
        import json
        import subprocess
        import sys

        start = json.dumps({"include": ["x"], "exclude": [], "strategy": "native", "data_file": str(tmp_path / "d.json"),
                            "report": False, "run_id": "abc", "root": str(tmp_path)})
        code = (
            "import sys; sys.path.insert(0, sys.argv[2]); before = set(sys.modules)\n"
            "from globalhook import startup; startup.activate(sys.argv[1])\n"
            "print(sorted(m for m in ('json', 're', 'typing', 'enum') if m in set(sys.modules) - before))\n"
        )
        repo = str(Path(__file__).resolve().parent.parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTHON"))}
        result = subprocess.run([sys.executable, "-I", "-S", "-c", code, start, repo],
                                capture_output=True, text=True, cwd=str(tmp_path), env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]"
