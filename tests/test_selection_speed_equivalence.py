"""The faster selection data is the same selection data.

``definitions`` (one position-flattening walk per file, no whole-class compile
unless it is an autouse fixture's, its own child iteration) and
``testrecords.reads_by_label`` (decisions per place and per context instead of
per entry) and ``selectplugin.roots_of`` (conftest files and module keys looked
up once per session) were rewritten for speed only.  The implementations they replace
are kept here, as they were, and both are run on the same input: real sources,
tricky snippets, and a whole recording of a small project in a subprocess.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_select_scenarios import PROJECT, env, write

import globalhook
from globalhook import definitions
from globalhook.definitions import (
    AUTOUSE,
    EFFECTS,
    HOOKS,
    _bound_names,
    _called,
    _define,
    _future_flags,
    _hex,
    _imports,
    _is_autouse,
    _is_docstring,
    _is_main_guard,
    digests,
    encode_refs,
)

# -- the implementations before ------------------------------------------------------------


def old_module_definitions(source, filename, module, is_package=False, digests=True):
    tree = ast.parse(source, filename)
    flags = _future_flags(tree) if digests else -1
    package = module if is_package else module.rpartition(".")[0]
    found = {}
    statements = tree.body
    if statements and _is_docstring(statements[0]):
        _define(found, "__doc__").add(_old_digest([statements[0]], filename, flags))
        statements = statements[1:]
    for statement in statements:
        if _is_main_guard(statement):
            continue
        digest = _old_digest([statement], filename, flags)
        if isinstance(statement, ast.ClassDef):
            _old_class(found, statement.name, statement, filename, flags, digest)
            continue
        bound = _bound_names(statement)
        run, body, calls = set(), set(), set()
        definitions._refs(statement, run, body, top=True, calls=calls)
        imports = _imports(statement, package)
        if not bound:
            bound = [EFFECTS]
        for name in bound:
            definition = _define(found, name)
            definition.add(digest)
            definition.run |= run
            definition.calls |= calls
            definition.body |= body
            definition.imports.extend(imports.get(name, ()))
            if name != EFFECTS and _is_autouse(statement):
                _define(found, AUTOUSE).add(digest)
            if name.startswith("pytest_"):
                _define(found, HOOKS).add(digest)
    definitions.add_registrations(statements, found)  # added after this reference was taken: not a speed change
    return found


def _old_class(found, name, node, filename, flags, whole):
    header = _define(found, name)
    header_node = ast.ClassDef(**{field: getattr(node, field, None) for field in node._fields})
    header_node.body = [ast.Pass()]
    ast.copy_location(header_node, node)
    ast.fix_missing_locations(header_node)
    parts = [_old_digest([header_node], filename, flags)]
    for field in ("bases", "keywords", "decorator_list"):
        for child in getattr(node, field, ()):
            definitions._refs(child, header.run, header.body, calls=header.calls)
    for decorator in node.decorator_list:
        _called(decorator, header.calls)
    if _is_autouse(node):
        _define(found, AUTOUSE).add(whole)
    for statement in node.body:
        digest = _old_digest([statement], filename, flags)
        if isinstance(statement, ast.ClassDef):
            member = f"{name}.{statement.name}"
            _old_class(found, member, statement, filename, flags, digest)
            header.members.append(member)
            continue
        bound = _bound_names(statement)
        if not bound:
            parts.append(digest)
            definitions._refs(statement, header.run, header.body, top=True, calls=header.calls)
            continue
        for bound_name in bound:
            member = f"{name}.{bound_name}"
            definition = _define(found, member)
            definition.add(digest)
            definitions._refs(statement, definition.run, definition.body, top=True, calls=definition.calls)
            if member not in header.members:
                header.members.append(member)
    header.add(_hex("".join(parts)))


def _old_digest(statements, filename, flags):
    if flags < 0:
        return "-"
    from globalhook.fingerprint import code_digest

    for statement in statements:
        for node in ast.walk(statement):
            if "lineno" in node._attributes:
                node.lineno = node.end_lineno = 1
                node.col_offset = node.end_col_offset = 0
    try:
        code = compile(ast.Module(body=statements, type_ignores=[]), filename, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError):
        return _hex("".join(ast.dump(statement, include_attributes=False) for statement in statements))
    return code_digest(code).hex()[:16]


def old_reads_by_label(lookups, files):
    from globalhook.pertest import split_context
    from globalhook.selection import is_tool_read, owner_of, reader_of
    from globalhook.testrecords import COLLECT, FIXTURE, _Reads

    found = {}
    for entry in lookups:
        context = entry.get("context")
        if is_tool_read(entry):
            continue
        if not context:
            reader = reader_of(entry)
            if reader not in files or reader == owner_of(entry):
                continue
            context = files[reader] + COLLECT
        elif not context.endswith(FIXTURE):
            context, phase = split_context(context)
            if not phase:
                continue
        reads = found.get(context)
        if reads is None:
            reads = found[context] = _Reads()
        kind = entry["kind"]
        if kind in ("global", "attribute"):
            reads.reads.setdefault(owner_of(entry), set()).add(entry["name"])
        elif kind in ("builtin", "missing"):
            reads.absent.setdefault(entry["module"], set()).add(entry["name"])
        elif kind == "read" and entry.get("owner") == "os.environ":
            reads.env.add(entry["name"])
        else:
            continue
        function = entry.get("function")
        if isinstance(function, str) and function and not function.startswith("<"):
            reads.reads.setdefault(reader_of(entry), set()).add(function.split(".", 1)[0])
    return found


def old_roots_of(item, root):
    from globalhook.testrecords import module_key

    module = getattr(item, "module", None)
    key = module_key(module, root) if module is not None else None
    if key is None:
        return []
    roots = []
    cls = getattr(item, "cls", None)
    if cls is not None:
        roots.append(f"{key}:{cls.__qualname__.split('.')[0]}")
    else:
        name = getattr(item, "originalname", None) or getattr(item, "name", "").split("[")[0]
        roots.append(f"{key}:{name}")
    places = [key]
    path = getattr(item, "path", None)
    if path is not None:
        for plugin in item.config.pluginmanager.get_plugins():
            file = getattr(plugin, "__file__", None)
            if not (isinstance(file, str) and os.path.basename(file) == "conftest.py"):
                continue
            folder = os.path.dirname(os.path.abspath(plugin.__file__))
            if str(path).startswith(folder + os.sep):
                conftest_key = module_key(plugin, root)
                if conftest_key:
                    places.append(conftest_key)
                    roots.extend(f"{conftest_key}:{special}" for special in ("@hooks", "@effects"))
    for place in places:
        roots.append(f"{place}:@autouse")
        for name in getattr(item, "fixturenames", ()):
            roots.append(f"{place}:{name}")
    info = getattr(item, "_fixtureinfo", None)
    for fixturedefs in (getattr(info, "name2fixturedefs", None) or {}).values():
        for fixturedef in fixturedefs:
            func = getattr(fixturedef, "func", None)
            owner = sys.modules.get(getattr(func, "__module__", None) or "")
            owner_key = module_key(owner, root) if owner is not None else None
            qualname = getattr(func, "__qualname__", None)
            if owner_key and isinstance(qualname, str):
                roots.append(f"{owner_key}:{qualname.split('.')[0]}")
    return sorted(set(roots))


def _old_children(monkeypatch):
    """The helpers that now iterate children their own way, back on :func:`ast.iter_child_nodes`."""
    monkeypatch.setattr(definitions, "_children", lambda node: list(ast.iter_child_nodes(node)))


# -- definitions -----------------------------------------------------------------------------

SNIPPETS = {
    "autouse class and nested classes": '''
        """Doc."""
        import pytest

        @pytest.fixture(autouse=True)
        class Auto:
            X = 1
            class Inner:
                Y = 2
                class Deeper:
                    @pytest.fixture(autouse=True)
                    def z(self): return 3
            def m(self): return self.X

        class Plain(Base, metaclass=Meta):
            """Doc of a class."""
            register(1)
            A = B = 3
            def f(self, x=DEFAULT): return [y for y in x if y > LIMIT]
    ''',
    "future annotations and a main guard": '''
        from __future__ import annotations
        from .sibling import thing as other
        from ..parent import *
        import os.path, json as j

        def pytest_configure(config: Config) -> None: ...
        lam = lambda v=K: v + W
        if __name__ == "__main__":
            main()
        try:
            import fast
        except ImportError:
            fast = None
        x: int = (y := compute())
    ''',
    "a class-body-only statement": '''
        class C:
            nonlocal_like = 1
            def g(self):
                class Local:
                    V = 1
                return Local
    ''',
}


def _both(source, filename, module, package, monkeypatch):
    new = definitions.module_definitions(source, filename, module, package)
    with monkeypatch.context() as patched:
        _old_children(patched)
        old = old_module_definitions(source, filename, module, package)
    return (digests(new), encode_refs(new)), (digests(old), encode_refs(old))


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippets_give_the_same_definitions_as_before(name, monkeypatch):
    new, old = _both(textwrap.dedent(SNIPPETS[name]), "mod.py", "pkg.mod", False, monkeypatch)
    assert new == old


def test_the_package_own_sources_give_the_same_definitions_as_before(monkeypatch):
    folder = Path(globalhook.__file__).parent
    files = sorted(folder.glob("*.py"))
    assert len(files) > 20
    for path in files:
        new, old = _both(path.read_bytes(), str(path), f"globalhook.{path.stem}", path.name == "__init__.py",
                         monkeypatch)
        assert new == old, path.name


def test_children_come_in_the_order_of_ast_iter_child_nodes():
    tree = ast.parse(textwrap.dedent(SNIPPETS["autouse class and nested classes"]))
    for node in ast.walk(tree):
        assert definitions._children(node) == list(ast.iter_child_nodes(node))


# -- a whole recording ---------------------------------------------------------------------

_OLD_PLUGIN = """
import sys
sys.path.insert(0, {tests!r})
import test_selection_speed_equivalence as reference
from globalhook import definitions, selectplugin, testrecords

definitions.module_definitions = reference.old_module_definitions
definitions._children = lambda node: list(reference.ast.iter_child_nodes(node))
from globalhook import compact  # the save hands over its lookups as a table: the old function took entries
testrecords.reads_by_label = lambda lookups, files: reference.old_reads_by_label(
    compact.decode(lookups) if isinstance(lookups, dict) else lookups, files)
selectplugin.Roots = lambda root: (lambda item: reference.old_roots_of(item, root))
"""


def _record(project: Path, data: str, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--globalhook=pkg",
         "--globalhook-data", data, *extra],
        cwd=project, env=env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((project / data).read_text())["selection"]


def test_a_recording_keeps_the_same_selection_data_as_before(tmp_path):
    project = tmp_path / "project"
    write(project, PROJECT)
    then = time.time_ns() - 60 * 10**9  # old enough for their stat stamps to be kept alike by both runs
    for path in project.rglob("*.py"):
        os.utime(path, ns=(then, then))
    (project / "old_selection.py").write_text(_OLD_PLUGIN.format(tests=str(Path(__file__).parent)))
    new = _record(project, "new.json")
    old = _record(project, "old.json", "-p", "old_selection")
    extra = set(old["modules"]) - set(new["modules"])  # the plugin restoring the old code, and this file
    assert extra <= {"old_selection", "test_selection_speed_equivalence", "test_select_scenarios"}, extra
    for name in extra:
        del old["modules"][name]
    assert len(new["tests"]) == 14 and new["modules"]["pkg.mod"]["defs"] and new["collect"] and new["fixtures"]
    assert new == old
