"""``pytest --globalhook-select`` and code reached only through a registry filled at import.

A function or class that a decorator, a call or a class-creation hook stores
in a container at import, and that tests reach only through that container,
is never read by name at run time.  Each case records, edits the registered
code so that the test fails, and checks that selection runs the test; a
control test that does not read the registry is left out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = """\
    from pkg import api


    def test_handle():
        assert api.handle("ping") == "pong"


    def test_unrelated():
        assert api.unrelated() == 1
"""

UNRELATED = """

    def unrelated():
        return 1
"""

CASES = {
    "decorator-into-dict": """\
        HANDLERS = {}


        def register(f):
            HANDLERS[f.__name__] = f
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return HANDLERS[name]()
    """,
    "decorator-factory-through-a-helper": """\
        HANDLERS = {}


        def _store(name, f):
            HANDLERS[name] = f


        def route(name):
            def decorate(f):
                _store(name, f)
                return f
            return decorate


        @route("ping")
        def ping():
            return "pong"


        def handle(name):
            return HANDLERS[name]()
    """,
    "decorator-method-of-a-registry-object": """\
        class Registry:
            def __init__(self):
                self.found = {}

            def add(self, f):
                self.found[f.__name__] = f
                return f


        REGISTRY = Registry()


        @REGISTRY.add
        def ping():
            return "pong"


        def handle(name):
            return REGISTRY.found[name]()
    """,
    "append-at-module-level": """\
        HANDLERS = []


        def ping():
            return "pong"


        HANDLERS.append(ping)


        def handle(name):
            return {f.__name__: f for f in HANDLERS}[name]()
    """,
    "register-call-at-module-level": """\
        HANDLERS = {}


        def register(f):
            HANDLERS[f.__name__] = f


        def ping():
            return "pong"


        register(ping)


        def handle(name):
            return HANDLERS[name]()
    """,
    "rebound-by-hand": """\
        HANDLERS = {}


        def register(f):
            HANDLERS[f.__name__] = f
            return f


        def ping():
            return "pong"


        ping = register(ping)


        def handle(name):
            return HANDLERS[name]()
    """,
    "init-subclass": """\
        HANDLERS = {}


        class Handler:
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                HANDLERS[cls.__name__.lower()] = cls


        class Ping(Handler):
            def run(self):
                return "pong"


        def handle(name):
            return HANDLERS[name]().run()
    """,
    "metaclass": """\
        HANDLERS = {}


        class Meta(type):
            def __init__(cls, name, bases, namespace):
                super().__init__(name, bases, namespace)
                HANDLERS[name.lower()] = cls


        class Base(metaclass=Meta):
            pass


        class Ping(Base):
            def run(self):
                return "pong"


        def handle(name):
            return HANDLERS[name]().run()
    """,
    "class-decorator-storing-cls": """\
        PLUGINS = {}


        def plugin(cls):
            PLUGINS[cls.__name__.lower()] = cls
            return cls


        @plugin
        class Ping:
            def run(self):
                return "pong"


        def handle(name):
            return PLUGINS[name]().run()
    """,
    "appended-to-a-list-attribute": """\
        class Registry:
            items = []


        def register(f):
            Registry.items.append(f)
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return {f.__name__: f for f in Registry.items}[name]()
    """,
    "stored-through-a-local-alias": """\
        HANDLERS = {}


        def register(f):
            table = HANDLERS
            table[f.__name__] = f
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return HANDLERS[name]()
    """,
    "helper-given-the-container": """\
        HANDLERS = {}


        def _store(table, f):
            table[f.__name__] = f


        def register(f):
            _store(HANDLERS, f)
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return HANDLERS[name]()
    """,
    "setattr-on-a-namespace": """\
        import types

        HANDLERS = types.SimpleNamespace()


        def register(f):
            setattr(HANDLERS, f.__name__, f)
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return getattr(HANDLERS, name)()
    """,
    "setattr-on-a-module": """\
        import sys


        def register(f):
            setattr(sys.modules[__name__], "handler_" + f.__name__, f)
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return globals()["handler_" + name]()
    """,
    "factory-appending-a-pair": """\
        ROUTES = []


        def route(name):
            def decorate(f):
                ROUTES.append((name, f))
                return f
            return decorate


        @route("ping")
        def ping():
            return "pong"


        def handle(name):
            return dict(ROUTES)[name]()
    """,
    "stored-by-a-builtin-calling-back": """\
        HANDLERS = []


        def register(f):
            list(map(HANDLERS.append, [f]))
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return {f.__name__: f for f in HANDLERS}[name]()
    """,
    "registered-after-wrapping": """\
        import functools

        HANDLERS = {}


        def traced(f):
            @functools.wraps(f)
            def wrapper(*args):
                return f(*args)
            return wrapper


        def register(f):
            HANDLERS[f.__name__.lstrip("_")] = f
            return f


        def _ping():
            return "pong"


        ping = register(traced(_ping))


        def handle(name):
            return HANDLERS[name]()
    """,
}


def _write(root: Path, files: "dict[str, str]") -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _run(cwd: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_"))}
    if "GLOBALHOOK_CORE" in os.environ:
        env["GLOBALHOOK_CORE"] = os.environ["GLOBALHOOK_CORE"]
    env["PYTHONPATH"] = str(cwd)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # an edit of the same size in the same second
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                           "--globalhook=pkg", "--globalhook-data=data.json", *args],
                          cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120)


#: Registered by a statement that binds nothing: every name of its module depends on such statements.
EFFECTS = {"append-at-module-level", "register-call-at-module-level",
           # a name with no definition, read through globals(): its whole module
           "setattr-on-a-module"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_edit_of_registered_code_selects_the_tests_that_read_the_registry(tmp_path, case):
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/api.py": textwrap.dedent(CASES[case]) + textwrap.dedent(UNRELATED),
                      "tests/test_r.py": TESTS})
    recorded = _run(tmp_path, "tests")
    assert recorded.returncode == 0 and "2 passed" in recorded.stdout, recorded.stdout + recorded.stderr
    api = tmp_path / "pkg" / "api.py"
    api.write_text(api.read_text().replace('"pong"', '"pang"'))
    done = _run(tmp_path, "--globalhook-select", "tests")
    # The edit makes test_handle fail (as the full suite shows): selection must run it...
    assert re.search(r"^FAILED tests/test_r.py::test_handle\b", done.stdout, re.M), done.stdout + done.stderr
    if case in EFFECTS:
        return  # the whole module changed for everything in it: test_unrelated runs too
    # ...and leave out the test that never touches the registry.
    assert "test_unrelated" not in done.stdout and "1 deselected" in done.stdout, done.stdout


#: The registering code in ``pkg/registry.py``, the registered code in ``pkg/handlers.py``: tests read neither
#: ``handlers`` nor ``ping`` (``pkg/__init__.py`` imports the handlers).
ACROSS = {
    "imported-decorator": ("""\
        HANDLERS = {}


        def register(f):
            HANDLERS[f.__name__] = f
            return f


        def handle(name):
            return HANDLERS[name]()
    """, """\
        from .registry import register


        @register
        def ping():
            return "pong"
    """),
    "decorator-through-the-module": ("""\
        HANDLERS = {}


        def _store(f):
            HANDLERS[f.__name__] = f


        def register(f):
            _store(f)
            return f


        def handle(name):
            return HANDLERS[name]()
    """, """\
        from . import registry


        @registry.register
        def ping():
            return "pong"
    """),
    "method-of-an-imported-object": ("""\
        class App:
            def __init__(self):
                self.routes = {}

            def route(self, name):
                def decorate(f):
                    self.routes[name] = f
                    return f
                return decorate


        app = App()


        def handle(name):
            return app.routes[name]()
    """, """\
        from .registry import app


        @app.route("ping")
        def ping():
            return "pong"
    """),
    "imported-base-with-init-subclass": ("""\
        HANDLERS = {}


        class Handler:
            def __init_subclass__(cls, **kwargs):
                HANDLERS[cls.__name__.lower()] = cls


        def handle(name):
            return HANDLERS[name]().run()
    """, """\
        from .registry import Handler


        class Ping(Handler):
            def run(self):
                return "pong"
    """),
    "register-call-into-a-helper": ("""\
        HANDLERS = {}


        def register(f):
            HANDLERS[f.__name__] = f


        def handle(name):
            return HANDLERS[name]()
    """, """\
        from .registry import register


        def ping():
            return "pong"


        handler = register(ping)
    """),
}

ACROSS_TESTS = """\
    from pkg import registry


    def test_handle():
        assert registry.handle("ping") == "pong"


    def test_unrelated():
        assert registry.unrelated() == 1
"""


@pytest.mark.parametrize("case", sorted(ACROSS))
def test_registering_code_of_another_module(tmp_path, case):
    """The registering code lives in another module than the registered code."""
    registry, handlers = ACROSS[case]
    _write(tmp_path, {"pkg/__init__.py": "from . import handlers\n",
                      "pkg/registry.py": textwrap.dedent(registry) + textwrap.dedent(UNRELATED),
                      "pkg/handlers.py": handlers, "tests/test_r.py": ACROSS_TESTS})
    recorded = _run(tmp_path, "tests")
    assert recorded.returncode == 0 and "2 passed" in recorded.stdout, recorded.stdout + recorded.stderr
    path = tmp_path / "pkg" / "handlers.py"
    path.write_text(path.read_text().replace('"pong"', '"pang"'))
    done = _run(tmp_path, "--globalhook-select", "tests")
    assert re.search(r"^FAILED tests/test_r.py::test_handle\b", done.stdout, re.M), done.stdout + done.stderr
    assert "test_unrelated" not in done.stdout and "1 deselected" in done.stdout, done.stdout


def test_a_module_tied_into_one_cycle_is_searched_once(tmp_path):
    """A registry can tie a module's names into one cycle: every name refers to every other.

    The search settles a cycle as a whole; without that each path through it
    was searched again (20 names: 19! paths), and a deep one hit the recursion limit.
    """
    from globalhook.definitions import digests, encode_refs, file_definitions
    from globalhook.testselect import Selector

    names = [f"n{i}" for i in range(1500)]
    lines = [f"{name} = [{', '.join(names[max(0, i - 20):i])}]" for i, name in enumerate(names)]
    lines += [f"{names[0]} = [{', '.join(names[-20:])}]"]  # and back: one cycle, 1500 names deep
    module = tmp_path / "m.py"
    module.write_text("\n".join(lines) + "\n")
    found = file_definitions(str(module), "m")
    info = os.stat(module)
    record = {"file": "m.py", "tracked": True, "stat": [info.st_size, info.st_mtime_ns], "defs": digests(found),
              "refs": encode_refs(found)}
    test = {"outcome": "passed", "reads": {"m": names[0]}, "roots": []}
    selection = {"modules": {"m": record, "t": {"file": "t.py", "defs": {}, "stat": None}},
                 "tests": {"t.py::test": test}}
    assert not Selector(selection, str(tmp_path)).decide("t.py::test").run  # nothing changed (the file is the same)
    module.write_text(module.read_text() + "\n# a comment\n")
    assert not Selector(selection, str(tmp_path)).decide("t.py::test").run  # read again: the same digests
    module.write_text(module.read_text().replace("n700 = [", "n700 = [0, ", 1))
    decision = Selector(selection, str(tmp_path)).decide("t.py::test")
    assert decision.run and "m:n700 (changed)" in decision.why[0], decision.why


#: Decorators that wrap or patch what they are given and store it nowhere, loading a module-level
#: name that a test reads (``greeting()``): that test does not depend on what they decorate.
WRAPPING = {
    "functools-wraps": """\
        import functools

        GREETING = "hello"


        def greeted(f):
            prefix = GREETING

            @functools.wraps(f)
            def wrapper(*args):
                return prefix + " " + f(*args)
            return wrapper


        @greeted
        def ping():
            return "pong"
    """,
    "factory-given-constants": """\
        GREETING = "hello"


        def greeted(times, sep=" "):
            def decorate(f):
                def wrapper(*args):
                    return sep.join([GREETING] * times + [f(*args)])
                return wrapper
            return decorate


        @greeted(1)
        def ping():
            return "pong"
    """,
    "class-patched-and-returned": """\
        GREETING = "hello"


        def _make_hello(cls):
            text = GREETING + " " + cls.__name__.lower()
            namespace = {}
            exec("def hello(self):\\n    return " + repr(text), namespace)
            return namespace["hello"]


        def greeted(cls):
            cls.hello = _make_hello(cls)
            return cls


        @greeted
        class Ping:
            def run(self):
                return "pong"


        def ping():
            return Ping().hello().replace("ping", Ping().run())
    """,
}

WRAPPING_TESTS = """\
    from pkg import api


    def test_ping():
        assert api.ping() == "hello pong"


    def test_greeting():
        assert api.greeting() == "hello"
"""

GREETING = """

    def greeting():
        return GREETING
"""


def _edit_selects_only_the_caller(tmp_path: Path, edited: Path) -> None:
    recorded = _run(tmp_path, "tests")
    assert recorded.returncode == 0 and "2 passed" in recorded.stdout, recorded.stdout + recorded.stderr
    edited.write_text(edited.read_text().replace('"pong"', '"pang"'))
    done = _run(tmp_path, "--globalhook-select", "tests")
    assert re.search(r"^FAILED tests/test_r.py::test_ping\b", done.stdout, re.M), done.stdout + done.stderr
    # The decorator only loaded GREETING: a test reading GREETING does not depend on what it decorated.
    assert "test_greeting" not in done.stdout and "1 deselected" in done.stdout, done.stdout


@pytest.mark.parametrize("case", sorted(WRAPPING))
def test_a_wrapping_decorator_ties_nothing_to_what_it_loads(tmp_path, case):
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/api.py": textwrap.dedent(WRAPPING[case]) + textwrap.dedent(GREETING),
                      "tests/test_r.py": WRAPPING_TESTS})
    _edit_selects_only_the_caller(tmp_path, tmp_path / "pkg" / "api.py")


def test_a_wrapping_decorator_of_another_module_ties_nothing(tmp_path):
    """attrs' case: its classes elsewhere decorated with ``@attrs`` (which loads most of its module)."""
    make = """\
        GREETING = "hello"


        def _hello(cls):
            return GREETING + " " + cls.__name__.lower()


        def greeted(cls=None, *, loud=False):
            def wrap(cls):
                text = _hello(cls)
                cls.hello = lambda self: text.upper() if loud else text
                return cls
            return wrap if cls is None else wrap(cls)


        def greeting():
            return GREETING
    """
    handlers = """\
        from .make import greeted


        @greeted(loud=False)
        class Ping:
            def run(self):
                return "pong"


        def ping():
            return Ping().hello().replace("ping", Ping().run())
    """
    tests = """\
        from pkg import handlers, make


        def test_ping():
            assert handlers.ping() == "hello pong"


        def test_greeting():
            assert make.greeting() == "hello"
    """
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/make.py": make, "pkg/handlers.py": handlers, "tests/test_r.py": tests})
    _edit_selects_only_the_caller(tmp_path, tmp_path / "pkg" / "handlers.py")


def test_a_decorator_given_a_callback_registers_through_it(tmp_path):
    """``@greeted(SEEN.append)``: the callback it is given stores the class (the rule before missed it:
    only the decorator's own code was followed)."""
    api = """\
        SEEN = []


        def greeted(callback):
            def wrap(cls):
                callback(cls)
                return cls
            return wrap


        @greeted(SEEN.append)
        class Ping:
            def run(self):
                return "pong"


        def handle(name):
            return {cls.__name__.lower(): cls for cls in SEEN}[name]().run()
    """
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/api.py": textwrap.dedent(api) + textwrap.dedent(UNRELATED),
                      "tests/test_r.py": TESTS})
    recorded = _run(tmp_path, "tests")
    assert recorded.returncode == 0 and "2 passed" in recorded.stdout, recorded.stdout + recorded.stderr
    path = tmp_path / "pkg" / "api.py"
    path.write_text(path.read_text().replace('"pong"', '"pang"'))
    done = _run(tmp_path, "--globalhook-select", "tests")
    assert re.search(r"^FAILED tests/test_r.py::test_handle\b", done.stdout, re.M), done.stdout + done.stderr
    assert "test_unrelated" not in done.stdout and "1 deselected" in done.stdout, done.stdout
