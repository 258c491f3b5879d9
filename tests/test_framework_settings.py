"""Framework settings read by name, per reading function and per test: Django, Flask.

Each framework gets a small project whose tests run under ``pytest
--globalhook``; the data must name the function that read the setting, the
setting, and the owner object (``django.conf.settings``, ``flask.config``),
in the context of the test that read it.  The frameworks are test-only
dependencies: a test skips, saying so, where one is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook.pertest import parse_name_spec, split_context, which_tests_read
from conftest import read_data

DJANGO = {
    "mysite/__init__.py": "",
    "mysite/settings.py": """\
        SECRET_KEY = "django-insecure-test-only"
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        ROOT_URLCONF = "mysite.urls"
        INSTALLED_APPS = []
        DATABASES = {}
        MIDDLEWARE = []
        USE_TZ = True
        GREETING = "hello"
    """,
    "mysite/urls.py": """\
        from django.urls import path

        from mysite import views

        urlpatterns = [path("", views.index)]
    """,
    "mysite/views.py": """\
        from django.conf import settings
        from django.http import HttpResponse

        def index(request):
            return HttpResponse(settings.GREETING)

        def shout():
            return settings.GREETING.upper()

        def debug_flag():
            return settings.DEBUG
    """,
    "tests/conftest.py": """\
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
        django.setup()
    """,
    "tests/test_site.py": """\
        from django.conf import settings
        from django.test import Client, override_settings

        from mysite import views

        def test_index():
            assert Client().get("/").content == b"hello"

        def test_shout():
            assert views.shout() == "HELLO"

        def test_shout_twice():
            assert views.shout() == views.shout()

        @override_settings(GREETING="hi")
        def test_override_decorator():
            assert views.shout() == "HI"

        def test_override_block():
            with override_settings(GREETING="yo"):
                assert views.shout() == "YO"

        def test_setattr():
            old = settings.GREETING
            settings.GREETING = "hey"
            try:
                assert views.shout() == "HEY"
            finally:
                settings.GREETING = old

        def test_debug():
            assert views.debug_flag() is False

        def test_nothing():
            assert True
    """,
}

FLASK = {
    "shop/__init__.py": """\
        from flask import Flask

        def create_app(**overrides):
            app = Flask(__name__)
            app.config.from_mapping(TAX_RATE=0.25, CURRENCY="EUR")
            app.config.update(overrides)
            from shop import views
            app.add_url_rule("/price/<int:cents>", view_func=views.price)
            return app
    """,
    "shop/views.py": """\
        from flask import current_app

        def price(cents):
            rate = current_app.config["TAX_RATE"]
            return f"{cents * (1 + rate):.0f} {current_app.config.get('CURRENCY')}"

        def currency(app):
            return app.config["CURRENCY"] if "CURRENCY" in app.config else None
    """,
    "tests/test_shop.py": """\
        from shop import create_app, views

        def test_price():
            client = create_app().test_client()
            assert client.get("/price/100").data == b"125 EUR"

        def test_currency():
            assert views.currency(create_app()) == "EUR"

        def test_override():
            app = create_app(TAX_RATE=0.5)
            assert app.test_client().get("/price/100").data == b"150 EUR"

        def test_set_in_test():
            app = create_app()
            app.config["CURRENCY"] = "USD"
            assert views.currency(app) == "USD"

        def test_nothing():
            assert True
    """,
}


def _project(root: Path, files: dict, include: list) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "pyproject.toml").write_text(f"[tool.globalhook]\ninclude = {json.dumps(include)}\n")
    return root


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_XDIST", "DJANGO_"))}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )


def _config_entries(lookups: list, owner: str) -> dict:
    """(test, phase, reader module, function, name, kind) -> count for one owner."""
    found: dict = {}
    for entry in lookups:
        if entry.get("owner") == owner:
            test, phase = split_context(entry.get("context", ""))
            key = (test, phase, entry["module"], entry["function"], entry["name"], entry["kind"])
            found[key] = found.get(key, 0) + entry["count"]
    return found


@pytest.fixture(scope="module")
def django_data(tmp_path_factory):
    pytest.importorskip("django", reason="Django is a test-only dependency (the test extra)")
    root = _project(tmp_path_factory.mktemp("django"), DJANGO, ["mysite", "test_*"])
    result = _pytest(root, "--globalhook")
    assert result.returncode == 0, result.stdout + result.stderr
    return root, read_data((root / ".globalhook.json"))["lookups"]


class TestDjango:
    @pytest.fixture
    def data(self, django_data):
        return django_data

    def test_tests_that_read_a_setting(self, data):
        root, lookups = data
        readers = [
            "tests/test_site.py::test_index",
            "tests/test_site.py::test_override_block",
            "tests/test_site.py::test_override_decorator",
            "tests/test_site.py::test_setattr",
            "tests/test_site.py::test_shout",
            "tests/test_site.py::test_shout_twice",
        ]
        assert which_tests_read(lookups, [parse_name_spec("django.conf.settings:GREETING")]) == readers
        shown = subprocess.run(
            [sys.executable, "-m", "globalhook", "tests-for", "django.conf.settings:GREETING"],
            cwd=root, capture_output=True, text=True,
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.split() == readers

    def test_reader_function_and_name_per_test(self, data):
        entries = _config_entries(data[1], "django.conf.settings")
        assert entries[("tests/test_site.py::test_shout", "call", "mysite.views", "shout", "GREETING", "read")] == 1
        assert entries[("tests/test_site.py::test_shout_twice", "call", "mysite.views", "shout", "GREETING", "read")] == 2
        assert entries[("tests/test_site.py::test_index", "call", "mysite.views", "index", "GREETING", "read")] == 1
        assert entries[("tests/test_site.py::test_debug", "call", "mysite.views", "debug_flag", "DEBUG", "read")] == 1
        assert not [key for key in entries if key[0] == "tests/test_site.py::test_nothing"]

    def test_overrides_and_setattr_are_writes_of_the_test(self, data):
        entries = _config_entries(data[1], "django.conf.settings")
        writes = {(key[0], key[4]) for key in entries if key[5] == "write"}
        assert ("tests/test_site.py::test_override_decorator", "GREETING") in writes
        assert ("tests/test_site.py::test_override_block", "GREETING") in writes
        assert entries[("tests/test_site.py::test_setattr", "call", "test_site", "test_setattr", "GREETING", "write")] == 2

    def test_django_start_up_reads_are_not_charged_to_the_views(self, data):
        # Settings.__init__ reads every setting of mysite.settings: that stays an
        # attribute read of the module by Django, never a read of the settings object.
        entries = _config_entries(data[1], "django.conf.settings")
        assert not [key for key in entries if key[0] == "" and key[3] == "shout"]


@pytest.fixture(scope="module")
def flask_data(tmp_path_factory):
    pytest.importorskip("flask", reason="Flask is a test-only dependency (the test extra)")
    root = _project(tmp_path_factory.mktemp("flask"), FLASK, ["shop", "test_*"])
    result = _pytest(root, "--globalhook")
    assert result.returncode == 0, result.stdout + result.stderr
    return root, read_data((root / ".globalhook.json"))["lookups"]


class TestFlask:
    @pytest.fixture
    def data(self, flask_data):
        return flask_data

    def test_key_reads_per_function_and_test(self, data):
        entries = _config_entries(data[1], "flask.config")
        assert entries[("tests/test_shop.py::test_price", "call", "shop.views", "price", "TAX_RATE", "read")] == 1
        assert entries[("tests/test_shop.py::test_price", "call", "shop.views", "price", "CURRENCY", "read")] == 1
        assert entries[("tests/test_shop.py::test_currency", "call", "shop.views", "currency", "CURRENCY", "read")] == 2

    def test_tests_that_read_a_key(self, data):
        assert which_tests_read(data[1], [parse_name_spec("flask.config:TAX_RATE")]) == [
            "tests/test_shop.py::test_override", "tests/test_shop.py::test_price",
        ]

    def test_only_reads(self, data):
        # Writes are left out: every test's app factory fills a new Config.
        entries = _config_entries(data[1], "flask.config")
        assert not [key for key in entries if key[5] == "write"]
        assert entries[("tests/test_shop.py::test_set_in_test", "call", "shop.views", "currency", "CURRENCY", "read")] == 2
        assert not [key for key in entries if key[0] == "tests/test_shop.py::test_nothing"]


PROBE = """\
import json
import sys

out = {"before": sorted(m for m in sys.modules if m.split(".")[0] in ("django", "flask", "pydantic_settings")
                        or m.startswith("globalhook.integrations."))}
if sys.argv[1:] == ["frameworks"]:
    import django
    from django.conf import settings
    from django.test.utils import override_settings
    from flask import Flask

    settings.configure(GREETING="hello", DEBUG=True)
    app = Flask("probe")
    app.config["TAX"] = 0.2
    import reader

    out["django"] = [type(settings).__name__, reader.greeting(), hasattr(settings, "NOPE"), settings.configured,
                     type(settings).__getattribute__.__qualname__]
    with override_settings(GREETING="hi"):
        out["django"].append(reader.greeting())
    out["flask"] = [type(app.config).__name__, reader.tax(app), app.config.get("NOPE"), "TAX" in app.config,
                    isinstance(app.config, dict), sorted(app.config)[:2], dict(app.config)["TAX"]]
out["after"] = sorted(m for m in sys.modules if m.startswith("globalhook.integrations."))
print(json.dumps(out))
"""

READER = """\
from django.conf import settings

def greeting():
    return settings.GREETING

def tax(app):
    return app.config["TAX"]
"""


@pytest.mark.parametrize("frameworks", [False, True], ids=["without", "with"])
def test_adapters_load_with_their_framework_and_change_nothing(tmp_path, frameworks):
    if frameworks:
        pytest.importorskip("django", reason="Django is a test-only dependency (the test extra)")
        pytest.importorskip("flask", reason="Flask is a test-only dependency (the test extra)")
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "reader.py").write_text(READER)
    args = ["frameworks"] if frameworks else []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "DJANGO_"))}
    plain = subprocess.run([sys.executable, "probe.py", *args], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    tracked = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include", "reader", "probe.py", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert tracked.returncode == 0, tracked.stderr
    shown, expected = json.loads(tracked.stdout), json.loads(plain.stdout)
    assert shown["before"] == expected["before"] == []
    if not frameworks:
        assert shown["after"] == []  # no framework imported: no adapter loaded
        return
    assert shown["after"] == ["globalhook.integrations.djangosettings", "globalhook.integrations.flaskconfig"]
    expected.pop("after"), shown.pop("after")
    assert shown == expected
    lookups = read_data((tmp_path / ".globalhook.json"))["lookups"]
    reads = {(e["function"], e["owner"], e["name"], e["kind"]): e["count"] for e in lookups if e.get("owner") in ("django.conf.settings", "flask.config")}
    assert reads[("greeting", "django.conf.settings", "GREETING", "read")] == 2
    assert reads[("tax", "flask.config", "TAX", "read")] == 1


PYDANTIC = {
    "appcfg.py": """\
        from pydantic_settings import BaseSettings, SettingsConfigDict

        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            debug: bool = False
            region: str = "eu"

        def load():
            return Settings()

        def describe(settings):
            return f"{settings.region}:{settings.debug}"
    """,
    "main.py": """\
        import copy
        import json
        import pickle

        import appcfg

        settings = appcfg.load()
        out = [appcfg.describe(settings), type(settings).__name__, settings.model_dump(), repr(settings),
               pickle.loads(pickle.dumps(settings)) == settings, copy.deepcopy(settings) == settings,
               type(settings).__getattribute__.__qualname__]
        print(json.dumps(out))
    """,
}


def test_pydantic_settings_fields_and_their_variables(tmp_path):
    pytest.importorskip("pydantic_settings", reason="pydantic-settings is a test-only dependency (the test extra)")
    for name, text in PYDANTIC.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "APP_"))}
    env["APP_DEBUG"] = "1"
    plain = subprocess.run([sys.executable, "main.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    tracked = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include", "appcfg", "--exclude", "__main__", "main.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert tracked.returncode == 0, tracked.stderr
    assert json.loads(tracked.stdout) == json.loads(plain.stdout)
    assert json.loads(plain.stdout)[0] == "eu:True"
    lookups = read_data((tmp_path / ".globalhook.json"))["lookups"]
    reads = {(e["function"], e["owner"], e["name"], e["kind"]): e["count"] for e in lookups if e.get("owner")}
    assert reads[("describe", "appcfg.Settings", "region", "read")] == 1
    assert reads[("describe", "appcfg.Settings", "debug", "read")] == 1
    # The variables behind the fields, set or not; not the whole environment pydantic-settings copies.
    assert reads[("load", "os.environ", "APP_DEBUG", "read")] == 1
    assert reads[("load", "os.environ", "APP_REGION", "read")] == 1
    assert ("load", "os.environ", "*", "read") not in reads
    assert ("load", "os.environ", "HOME", "read") not in reads
