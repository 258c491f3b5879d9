"""The cache and configuration reads: a changed environment variable (or Django
setting) invalidates exactly the results that read it, across processes too;
a configuration read whose current value cannot be told is never served stale.

Issue 24's proof ("a cached function that reads an environment variable is
recomputed when it changes and only then") and issue 18's exactness rule.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from test_cache import lines, run, write

GREETING = textwrap.dedent("""\
    import os
    import sys

    import globalhook

    store = sys.argv[1] if len(sys.argv) > 1 else None


    def greeting(name):
        print("computing")
        return os.environ.get("GREETING", "hello") + ", " + name


    greeting = globalhook.cache(store=store)(greeting) if store else globalhook.cache(greeting)
""")


def test_a_changed_environment_variable_invalidates_and_an_unrelated_one_does_not(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": GREETING, "main.py": textwrap.dedent("""\
        import os
        import globalhook
        from app import greeting

        os.environ["GREETING"] = "hi"
        print(greeting("a"))
        print(greeting("a"))
        os.environ["UNRELATED"] = "x"
        print(greeting("a"))
        print(sorted(globalhook.dependencies(greeting.__wrapped__, "a").state()))
        os.environ["GREETING"] = "hey"
        print(greeting.cache_explain("a"))
        print(greeting("a"))
        del os.environ["GREETING"]
        print(greeting("a"))
    """)})
    out = lines(run(tmp_path))
    assert out[:4] == ["computing", "hi, a", "hi, a", "hi, a"]
    dependencies = out[5] if out[4] == "computing" else out[4]  # dependencies() runs the function itself
    assert "'os.environ.GREETING'" in dependencies and "UNRELATED" not in dependencies
    rest = out[out.index(dependencies) + 1:]
    assert rest == ["miss: changed since it was computed: os.environ.GREETING", "computing", "hey, a",
                    "computing", "hello, a"]


def test_the_disk_store_sees_the_environment_of_each_process(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": GREETING, "main.py": "import sys\nfrom app import greeting\nprint(greeting('a'))\n"})
    store = str(tmp_path / "store")
    assert lines(run(tmp_path, "main.py", store, GREETING="hi")) == ["computing", "hi, a"]
    assert lines(run(tmp_path, "main.py", store, GREETING="hi", UNRELATED="1")) == ["hi, a"]
    assert lines(run(tmp_path, "main.py", store, GREETING="hey")) == ["computing", "hey, a"]
    assert lines(run(tmp_path, "main.py", store, GREETING="hi")) == ["computing", "hi, a"]


def test_a_read_whose_value_cannot_be_told_is_recomputed_never_stale(tmp_path: Path) -> None:
    # A watched object has no way to say what a name holds now: such a read counts as changed.
    write(tmp_path, {"main.py": textwrap.dedent("""\
        import globalhook

        class Config:
            rate = 2

        config = globalhook.watch(Config(), name="app.config")


        @globalhook.cache
        def price(amount):
            print("computing")
            return amount * config.rate


        print(price(10))
        config.rate = 3
        print(price(10))
    """)})
    assert lines(run(tmp_path)) == ["computing", "20", "computing", "30"]
