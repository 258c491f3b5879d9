"""Behaviour of the include/exclude allowlist in :mod:`globalhook.patterns`."""

from __future__ import annotations

import sys

import pytest

from globalhook import patterns
from globalhook.patterns import ModuleFilter, PatternError, validate_pattern


class TestPlainNames:
    def test_matches_itself(self) -> None:
        assert ModuleFilter(include=["pkg"]).wants("pkg")

    def test_matches_submodules(self) -> None:
        f = ModuleFilter(include=["pkg"])
        assert f.wants("pkg.sub")
        assert f.wants("pkg.sub.deeper")

    def test_does_not_match_names_that_only_share_a_prefix(self) -> None:
        f = ModuleFilter(include=["pkg"])
        assert not f.wants("pkg_other")
        assert not f.wants("pkgx.sub")
        assert not f.wants("other")

    def test_dotted_name_does_not_match_its_parent(self) -> None:
        f = ModuleFilter(include=["pkg.sub"])
        assert f.wants("pkg.sub.mod")
        assert not f.wants("pkg")
        assert not f.wants("pkg.other")

    def test_surrounding_whitespace_is_ignored(self) -> None:
        f = ModuleFilter(include=["  pkg "])
        assert f.include.patterns == ("pkg",)
        assert f.wants("pkg.sub")

    def test_include_given_means_names_decide_without_files(self) -> None:
        f = ModuleFilter(include=["pkg"])
        assert not f.uses_paths
        assert f.decide_name("other") is False


class TestWildcards:
    def test_star_suffix(self) -> None:
        f = ModuleFilter(include=["pkg.*"])
        assert f.wants("pkg.a")
        assert f.wants("pkg.a.b")  # fnmatch's * crosses dots
        assert not f.wants("pkg")
        assert not f.wants("pkgx.a")

    def test_star_prefix(self) -> None:
        f = ModuleFilter(include=["*.tests"])
        assert f.wants("app.tests")
        assert f.wants("app.sub.tests")
        assert not f.wants("tests")
        assert not f.wants("app.tests.unit")  # the whole name must match

    def test_question_mark_is_one_character(self) -> None:
        f = ModuleFilter(include=["a?c"])
        assert f.wants("axc")
        assert f.wants("a_c")
        assert not f.wants("ac")
        assert not f.wants("axxc")
        assert not f.wants("axc.sub")  # wildcards do not imply submodules
        assert not f.wants("abc")  # matches, but is the stdlib's abc: see TestStdlib

    def test_character_class(self) -> None:
        f = ModuleFilter(include=["mod[12]"])
        assert f.wants("mod1")
        assert f.wants("mod2")
        assert not f.wants("mod3")

    def test_case_sensitive(self) -> None:
        f = ModuleFilter(include=["Pkg.*"])
        assert f.wants("Pkg.a")
        assert not f.wants("pkg.a")

    def test_plain_and_wildcard_patterns_together(self) -> None:
        f = ModuleFilter(include=["alpha", "beta.*"])
        assert f.wants("alpha.x")
        assert f.wants("beta.y")
        assert not f.wants("beta")
        assert not f.wants("gamma")


class TestExclude:
    def test_exclude_wins_over_plain_include(self) -> None:
        f = ModuleFilter(include=["pkg"], exclude=["pkg.secret"])
        assert f.wants("pkg.public")
        assert not f.wants("pkg.secret")
        assert not f.wants("pkg.secret.inner")

    def test_exclude_wins_over_wildcard_include(self) -> None:
        f = ModuleFilter(include=["pkg.*"], exclude=["*.tests"])
        assert f.wants("pkg.core")
        assert not f.wants("pkg.tests")

    def test_exclude_wins_over_identical_include(self) -> None:
        f = ModuleFilter(include=["pkg"], exclude=["pkg"])
        assert not f.wants("pkg")

    def test_exclude_applies_to_the_path_rule(self, tmp_path) -> None:
        f = ModuleFilter(exclude=["local"], root=str(tmp_path))
        assert not f.wants("local", str(tmp_path / "local.py"))
        assert f.wants("other", str(tmp_path / "other.py"))

    def test_excluded_helper(self) -> None:
        f = ModuleFilter(exclude=["pkg", "*.tests"])
        assert f.excluded("pkg.sub")
        assert f.excluded("app.tests")
        assert not f.excluded("app")


class TestNeverSelf:
    @pytest.mark.parametrize("name", ["globalhook", "globalhook.x", "globalhook.patterns"])
    @pytest.mark.parametrize(
        "include", [["globalhook"], ["globalhook.x"], ["*"], ["glob*"], ["globalhook.*"]]
    )
    def test_never_wanted_via_patterns(self, name: str, include: list) -> None:
        assert not ModuleFilter(include=include).wants(name)

    def test_never_wanted_via_path_rule(self, tmp_path) -> None:
        f = ModuleFilter(root=str(tmp_path))
        assert not f.wants("globalhook", str(tmp_path / "globalhook" / "__init__.py"))
        assert not f.wants("globalhook.x", str(tmp_path / "globalhook" / "x.py"))

    def test_similar_names_are_not_the_tool(self) -> None:
        f = ModuleFilter(include=["*"])
        assert f.wants("globalhooks")
        assert f.wants("globalhook_plugin")


class TestStdlib:
    def test_named_explicitly(self) -> None:
        f = ModuleFilter(include=["json", "email.mime"])
        assert f.wants("json")
        assert f.wants("json.decoder")
        assert f.wants("email.mime")
        assert f.wants("email.mime.text")
        assert not f.wants("email")

    def test_not_via_wildcard(self) -> None:
        f = ModuleFilter(include=["*"])
        assert f.wants("mypkg")
        assert not f.wants("json")
        assert not f.wants("email.mime")

    def test_not_via_prefix_wildcard(self) -> None:
        f = ModuleFilter(include=["emai*"])
        assert not f.wants("email")
        assert not f.wants("email.mime")

    def test_is_stdlib_module(self) -> None:
        assert patterns.is_stdlib_module("json")
        assert patterns.is_stdlib_module("email.mime.text")
        assert patterns.is_stdlib_module("sys")  # built in, no file
        assert not patterns.is_stdlib_module("globalhook")
        assert not patterns.is_stdlib_module("pytest")


class TestDefaultPathRule:
    def test_uses_paths_without_include(self, tmp_path) -> None:
        f = ModuleFilter(root=str(tmp_path))
        assert f.uses_paths
        assert f.decide_name("mymod") is None  # the file must be seen

    def test_file_under_root(self, tmp_path) -> None:
        f = ModuleFilter(root=str(tmp_path))
        assert f.wants("mymod", str(tmp_path / "mymod.py"))
        assert f.wants("pkg.sub", str(tmp_path / "pkg" / "sub.py"))

    def test_file_outside_root(self, tmp_path) -> None:
        root = tmp_path / "project"
        root.mkdir()
        f = ModuleFilter(root=str(root))
        assert not f.wants("mymod", str(tmp_path / "elsewhere" / "mymod.py"))

    def test_sibling_folder_sharing_a_prefix_is_outside(self, tmp_path) -> None:
        root = tmp_path / "proj"
        f = ModuleFilter(root=str(root))
        assert not f.wants("mymod", str(tmp_path / "proj2" / "mymod.py"))

    @pytest.mark.parametrize("folder", ["site-packages", "dist-packages"])
    def test_installed_package_under_root(self, tmp_path, folder: str) -> None:
        f = ModuleFilter(root=str(tmp_path))
        path = tmp_path / ".venv" / "lib" / "python3" / folder / "dep" / "__init__.py"
        assert not f.wants("dep", str(path))

    def test_no_file(self, tmp_path) -> None:
        f = ModuleFilter(root=str(tmp_path))
        assert not f.wants("mymod", None)
        assert not f.wants("mymod", "")
        assert not f.wants("mymod", "mymod.py")  # relative: cannot tell where it is

    def test_symlink_into_root_counts_by_target(self, tmp_path) -> None:
        root = tmp_path / "root"
        outside = tmp_path / "outside"
        root.mkdir()
        outside.mkdir()
        (outside / "mod.py").write_text("")
        link = root / "link"
        try:
            link.symlink_to(outside, target_is_directory=True)
        except OSError:  # pragma: no cover - e.g. Windows without privilege
            pytest.skip("cannot create symlinks")
        assert not ModuleFilter(root=str(root)).wants("mod", str(link / "mod.py"))

    def test_main_wanted(self, tmp_path) -> None:
        assert ModuleFilter(root=str(tmp_path)).wants("__main__", None)

    def test_main_excluded(self, tmp_path) -> None:
        assert not ModuleFilter(exclude=["__main__"], root=str(tmp_path)).wants("__main__", None)

    def test_stdlib_files_never(self, tmp_path) -> None:
        import json

        f = ModuleFilter(root="/")  # even a root that holds the standard library
        assert not f.wants("json", json.__file__)

    def test_local_module_with_a_stdlib_name_is_the_projects(self, tmp_path) -> None:
        # A project's own code.py or test/ under the root is tracked by the path rule.
        f = ModuleFilter(root=str(tmp_path))
        assert f.decide_name("code") is None
        assert f.wants("code", str(tmp_path / "code.py"))
        assert f.wants("test.helpers", str(tmp_path / "test" / "helpers.py"))

    def test_project_inside_the_interpreter_prefix(self, tmp_path, monkeypatch) -> None:
        monkeypatch.setattr(sys, "prefix", str(tmp_path))
        monkeypatch.setattr(sys, "base_prefix", str(tmp_path))
        root = tmp_path / "src" / "app"
        f = ModuleFilter(root=str(root))
        assert f.wants("app_mod", str(root / "app_mod.py"))

    def test_site_packages_above_the_root_does_not_count(self, tmp_path) -> None:
        root = tmp_path / "site-packages" / "proj"
        f = ModuleFilter(root=str(root))
        assert f.wants("m", str(root / "m.py"))
        assert not f.wants("dep", str(root / "lib" / "site-packages" / "dep.py"))

    def test_root_defaults_to_cwd(self, tmp_path, monkeypatch) -> None:
        monkeypatch.chdir(tmp_path)
        f = ModuleFilter()
        assert f.wants("mymod", str(tmp_path / "mymod.py"))


class TestValidatePattern:
    @pytest.mark.parametrize("good", ["pkg", "pkg.sub", "pkg.*", "*.tests", "a?c", "mod[12]", "_private"])
    def test_valid(self, good: str) -> None:
        assert validate_pattern(good) == good

    def test_strips(self) -> None:
        assert validate_pattern("  pkg.sub\t") == "pkg.sub"

    @pytest.mark.parametrize(
        "bad, message",
        [
            ("", "empty pattern"),
            ("   ", "empty pattern"),
            (None, "must be a string, not NoneType"),
            (3, "must be a string, not int"),
            (["pkg"], "must be a string, not list"),
            ("a..b", "not a dotted module name"),
            (".a", "not a dotted module name"),
            ("a.", "not a dotted module name"),
            ("a b", "cannot appear in a module name"),
            ("pkg/sub", "cannot appear in a module name"),
        ],
    )
    def test_invalid(self, bad: object, message: str) -> None:
        with pytest.raises(PatternError, match=message):
            validate_pattern(bad)

    def test_pattern_error_is_a_value_error(self) -> None:
        assert issubclass(PatternError, ValueError)

    def test_filter_rejects_invalid_patterns(self) -> None:
        with pytest.raises(PatternError):
            ModuleFilter(include=["ok", "a..b"])
        with pytest.raises(PatternError):
            ModuleFilter(exclude=[""])


class TestCache:
    def test_same_answer_twice(self, tmp_path) -> None:
        f = ModuleFilter(include=["pkg"], exclude=["pkg.x"])
        for name in ["pkg", "pkg.x", "other", "json", "globalhook"]:
            assert f.decide_name(name) == f.decide_name(name)
            assert f.wants(name) == f.wants(name)

    def test_second_call_does_not_recompute(self, monkeypatch) -> None:
        f = ModuleFilter(include=["pkg.*"])
        calls = []
        original = f._decide_name

        def counting(fullname: str):
            calls.append(fullname)
            return original(fullname)

        monkeypatch.setattr(f, "_decide_name", counting)
        assert f.wants("pkg.a") is True
        assert f.wants("pkg.a") is True
        assert f.wants("other") is False
        assert f.wants("other") is False
        assert calls == ["pkg.a", "other"]

    def test_cached_undecided_still_looks_at_the_file(self, tmp_path) -> None:
        f = ModuleFilter(root=str(tmp_path))
        assert f.wants("mod", str(tmp_path / "mod.py"))
        # Same name, different file: the name-level "don't know" is cached,
        # the path decision is not.
        assert not f.wants("mod", str(tmp_path.parent / "elsewhere" / "mod.py"))


class TestDescribe:
    def test_with_patterns(self) -> None:
        lines = ModuleFilter(include=["a", "b.*"], exclude=["b.tests"]).describe()
        assert lines == ["include: a, b.*", "exclude: b.tests"]

    def test_default_names_root(self, tmp_path) -> None:
        (line,) = ModuleFilter(root=str(tmp_path)).describe()
        assert str(tmp_path.resolve()) in line
        assert "default" in line


class TestPatternsThatCanNeverMatch:
    @pytest.mark.parametrize("bad", ["my-pkg", "1abc", "a!b", "pkg[", "pkg.1x"])
    def test_rejected(self, bad) -> None:
        with pytest.raises(PatternError):
            validate_pattern(bad)

    @pytest.mark.parametrize("good", ["pkg.[ab]*", "pkg.[!t]est", "p_1.*.tests", "x?y"])
    def test_wildcards_accepted(self, good) -> None:
        assert validate_pattern(good) == good

    def test_main_tracked_with_include_patterns(self) -> None:
        assert ModuleFilter(include=["pkg"]).wants("__main__")
        assert not ModuleFilter(include=["pkg"], exclude=["__main__"]).wants("__main__")
