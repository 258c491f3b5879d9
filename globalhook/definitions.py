"""Static fingerprints of a module's definitions, and what each one refers to.

Test selection asks "did anything this test depends on change?" without
importing the changed code.  Each module-level statement is compiled on its
own and fingerprinted by what the interpreter runs
(:func:`globalhook.fingerprint.code_digest`): bytecode, constants, names,
defaults, decorators, never line numbers, so comments, blank lines and moved
lines are no change.  A statement defines the names it binds (a ``def``, a
``class``, an assignment, an import); a name bound by several statements is
defined by all of them.  A class is split into its header (bases,
decorators, keywords, docstring) and its members one by one (``C.method``,
``C.RATE``), so that ``why`` can say which member changed.

Beside the digest each definition keeps the names it refers to, in two sets:

- ``run``: evaluated when the statement runs (at import): the right-hand
  side of an assignment, decorators, defaults, base classes, a class body;
- ``body``: inside function and lambda bodies, evaluated only when called.

Selection follows ``run`` edges from what a test read (a value computed at
import time depends on what computed it) and both sets where no run-time
record exists (see :mod:`globalhook.testselect`).  Imports are edges to the
module they name.  Statements that bind nothing but run at import
(``register(f)``) form the pseudo-definition ``@effects``, on which every
name of the module depends: they may change any value.  Code that a
decorator, a hand-written ``f = register(f)`` or a class-creation hook
(``__init_subclass__``, a metaclass) may store in a container at import is
reached from that container (:func:`add_registrations`).
"""

from __future__ import annotations

import ast
import hashlib

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Dict, Iterable, List, Optional, Set, Tuple

__all__ = ["Definition", "module_definitions", "file_definitions", "digests", "encode_refs", "decode_refs", "EFFECTS", "AUTOUSE", "HOOKS",
           "REGISTERED", "add_registrations", "imported_targets"]

#: The pseudo-definition of a module's statements that bind nothing but run at import.
EFFECTS = "@effects"
#: The pseudo-definition of a module's autouse fixtures (one digest for them all).
AUTOUSE = "@autouse"
#: The pseudo-definition of a module's pytest hooks (``pytest_*`` functions: a conftest's).
HOOKS = "@hooks"
#: The pseudo-definition of what a module registers through code of another module: ``run`` holds
#: the registered names, ``imports`` the registering code (no digest: nothing of its own changes).
REGISTERED = "@registered"

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = _FUNCTIONS + (ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class Definition:
    """One name of a module: its digest and the names its statements refer to.

    ``imports`` holds import targets: ``(module, None)`` for a module bound
    by ``import m``, ``(module, name)`` for ``from m import name``.
    """

    __slots__ = ("digest", "run", "calls", "body", "members", "imports")

    def __init__(self) -> None:
        self.digest = ""
        self.run: Set[str] = set()
        #: The part of ``run`` that is called at import (a decorator, ``f()``): its body ran then too.
        self.calls: Set[str] = set()
        self.body: Set[str] = set()
        self.members: List[str] = []
        self.imports: List[Tuple[str, Optional[str]]] = []

    def add(self, digest: str) -> None:
        self.digest = digest if not self.digest else _hex(self.digest + digest)


def _hex(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def file_definitions(path: str, module: str, digests: bool = True) -> "Optional[Dict[str, Definition]]":
    """The definitions of the module in ``path``; None when it cannot be read or parsed.

    Without ``digests`` only what each definition refers to (for a file known unchanged).
    """
    try:
        with open(path, "rb") as stream:
            source = stream.read()
    except OSError:
        return None
    is_package = path.endswith("__init__.py")
    try:
        return module_definitions(source, path, module, is_package, digests)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def module_definitions(
    source: "str | bytes", filename: str, module: str, is_package: bool = False, digests: bool = True
) -> "Dict[str, Definition]":
    """Every module-level name of ``source``, by name (members as ``Class.name``)."""
    tree = ast.parse(source, filename)
    flags = _future_flags(tree) if digests else -1
    if digests:
        _flatten_positions(tree)
    package = module if is_package else module.rpartition(".")[0]
    found: Dict[str, Definition] = {}
    statements = tree.body
    if statements and _is_docstring(statements[0]):
        _define(found, "__doc__").add(_digest([statements[0]], filename, flags))
        statements = statements[1:]
    for statement in statements:
        if _is_main_guard(statement):
            continue  # runs only as a script, never on import
        if isinstance(statement, ast.ClassDef):
            _class(found, statement.name, statement, filename, flags)
            continue
        digest = _digest([statement], filename, flags)
        bound = _bound_names(statement)
        run: Set[str] = set()
        body: Set[str] = set()
        calls: Set[str] = set()
        _refs(statement, run, body, top=True, calls=calls)
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
    add_registrations(statements, found)
    return found


def _define(found: "Dict[str, Definition]", name: str) -> Definition:
    definition = found.get(name)
    if definition is None:
        definition = found[name] = Definition()
    return definition


def _class(found: "Dict[str, Definition]", name: str, node: ast.ClassDef, filename: str, flags: int) -> None:
    """A class: its header (and statements binding nothing), then each member under ``name.member``.

    The class as a whole is compiled only when it is an autouse fixture's (its
    members are compiled one by one anyway)."""
    header = _define(found, name)
    header_node = ast.ClassDef(**{field: getattr(node, field, None) for field in node._fields})
    header_node.body = [ast.Pass()]
    ast.copy_location(header_node, node)
    ast.fix_missing_locations(header_node)
    parts = [_digest([header_node], filename, flags)]
    for field in ("bases", "keywords", "decorator_list"):
        for child in getattr(node, field, ()):
            _refs(child, header.run, header.body, calls=header.calls)
    for decorator in node.decorator_list:
        _called(decorator, header.calls)
    if _is_autouse(node):
        _define(found, AUTOUSE).add(_digest([node], filename, flags))
    for statement in node.body:
        if isinstance(statement, ast.ClassDef):
            member = f"{name}.{statement.name}"
            _class(found, member, statement, filename, flags)
            header.members.append(member)
            continue
        digest = _digest([statement], filename, flags)
        bound = _bound_names(statement)
        if not bound:
            parts.append(digest)  # a docstring, a call: part of the class itself
            _refs(statement, header.run, header.body, top=True, calls=header.calls)
            continue
        for bound_name in bound:
            member = f"{name}.{bound_name}"
            definition = _define(found, member)
            definition.add(digest)
            _refs(statement, definition.run, definition.body, top=True, calls=definition.calls)
            if member not in header.members:
                header.members.append(member)
    header.add(_hex("".join(parts)))


def _digest(statements: "List[ast.stmt]", filename: str, flags: int) -> str:
    if flags < 0:
        return "-"  # not wanted (the caller knows the digests already)
    from .fingerprint import code_digest

    try:
        code = compile(ast.Module(body=statements, type_ignores=[]), filename, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError):
        # Valid only in its place (a class body's own rules): its tree, without positions, stands in.
        return _hex("".join(ast.dump(statement, include_attributes=False) for statement in statements))
    return code_digest(code).hex()[:16]


def _flatten_positions(tree: ast.AST) -> None:
    """Every node on line 1: a class body keeps its first line as a constant (``__firstlineno__``,
    3.13+), which would make moving a class a change.  Done once per file, before any statement
    is compiled (a walk of its own: :func:`ast.walk`'s generators cost more than the work)."""
    positioned = _POSITIONED
    stack = [tree]
    pop, push, extend = stack.pop, stack.append, stack.extend
    node_type = ast.AST
    while stack:
        node = pop()
        kind = type(node)
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _FIELDS[kind] = kind._fields
            positioned[kind] = "lineno" in kind._attributes
        if positioned[kind]:
            node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
        for field in fields:
            value = getattr(node, field, None)
            if type(value) is list:
                extend([item for item in value if isinstance(item, node_type)])
            elif isinstance(value, node_type):
                push(value)


def _children(node: ast.AST) -> "List[ast.AST]":
    """:func:`ast.iter_child_nodes`, in the same order, as a list (without its two generators)."""
    kind = type(node)
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = kind._fields
        _POSITIONED[kind] = "lineno" in kind._attributes
    children = []
    node_type = ast.AST
    for field in fields:
        value = getattr(node, field, None)
        if type(value) is list:
            children.extend([item for item in value if isinstance(item, node_type)])
        elif isinstance(value, node_type):
            children.append(value)
    return children


#: Per node type: its fields, and whether it has a position.
_FIELDS: "Dict[type, Tuple[str, ...]]" = {}
_POSITIONED: "Dict[type, bool]" = {}


def _future_flags(tree: ast.Module) -> int:
    import __future__

    flags = 0
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            for alias in statement.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return flags


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)


def _is_main_guard(statement: ast.stmt) -> bool:
    test = statement.test if isinstance(statement, ast.If) else None
    if not isinstance(test, ast.Compare) or len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    texts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and texts == ["__main__"]


def _is_autouse(node: ast.AST) -> bool:
    for decorator in getattr(node, "decorator_list", ()):
        for child in ast.walk(decorator):
            if isinstance(child, ast.keyword) and child.arg == "autouse":
                return True
    return False


def _bound_names(statement: ast.stmt) -> "List[str]":
    """Names a module-level statement binds, in order (nested function and class bodies excluded)."""
    names: List[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (_FUNCTIONS + (ast.ClassDef,))):
            names.append(node.name)
            for field in ("decorator_list", "bases", "keywords", "args", "returns"):
                value = getattr(node, field, None)
                for child in value if isinstance(value, list) else ([value] if value is not None else []):
                    visit(child)
            return
        if isinstance(node, (ast.Lambda,) + _COMPREHENSIONS):
            return  # their own scopes (a walrus inside binds outside: rare, and read at run time)
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.append(node.id)
        elif isinstance(node, ast.Import):
            names.extend(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.extend(alias.asname or alias.name for alias in node.names if alias.name != "*")
        elif isinstance(node, (ast.ExceptHandler,)) and node.name:
            names.append(node.name)
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        for child in _children(node):
            visit(child)

    visit(statement)
    unique: List[str] = []
    for name in names:
        if name not in unique:
            unique.append(name)
    return unique


def _refs(node: ast.AST, run: "Set[str]", body: "Set[str]", top: bool = False, calls: "Optional[Set[str]]" = None) -> None:
    """Names ``node`` loads: into ``run`` when evaluated with it, into ``body`` inside functions;
    those called as it runs (decorators, call targets) into ``calls`` as well."""
    if calls is None:
        calls = set()
    if isinstance(node, _FUNCTIONS):
        for decorator in node.decorator_list:
            _refs(decorator, run, body, calls=calls)
            _called(decorator, calls)
        _refs(node.args, run, body, calls=calls)
        if node.returns is not None:
            _refs(node.returns, run, body, calls=calls)
        for statement in node.body:
            _refs(statement, body, body)
        return
    if isinstance(node, ast.ClassDef):
        for decorator in node.decorator_list:
            _called(decorator, calls)
    if isinstance(node, ast.Lambda):
        _refs(node.args, run, body, calls=calls)
        _refs(node.body, body, body)
        return
    if isinstance(node, ast.Call):
        _called(node.func, calls)
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load):
            run.add(node.id)
        return
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and isinstance(node.ctx, ast.Load):
        run.add(node.value.id)
        run.add(f"{node.value.id}.{node.attr}")
        return
    for child in _children(node):
        _refs(child, run, body, calls=calls)


def _called(node: ast.AST, calls: "Set[str]") -> None:
    if isinstance(node, ast.Call):
        node = node.func  # @decorator(arguments): what it returns is called too
    if isinstance(node, ast.Name):
        calls.add(node.id)
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        calls.add(node.value.id)
        calls.add(f"{node.value.id}.{node.attr}")


def _imports(statement: ast.stmt, package: str) -> "Dict[str, List[Tuple[str, Optional[str]]]]":
    """What each name bound by an import in ``statement`` refers to (``*`` for star imports)."""
    targets: Dict[str, List[Tuple[str, Optional[str]]]] = {}
    for node in _module_level(statement):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    targets.setdefault(alias.asname, []).append((alias.name, None))
                else:
                    top = alias.name.split(".")[0]
                    targets.setdefault(top, []).append((top, None))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is None:
                continue
            for alias in node.names:
                targets.setdefault(alias.asname or alias.name, []).append((base, alias.name))
    if "*" in targets:
        targets[EFFECTS] = targets.pop("*")
    return targets


def _module_level(statement: ast.stmt) -> "Iterable[ast.stmt]":
    """``statement`` and the statements nested in it that run at module level (if, try, with, for)."""
    yield statement
    if isinstance(statement, _SCOPES):
        return
    for field in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(statement, field, None) or ():
            if isinstance(child, ast.ExceptHandler):
                for inner in child.body:
                    yield from _module_level(inner)
            elif isinstance(child, ast.stmt):
                yield from _module_level(child)


def _absolute(module: "Optional[str]", level: int, package: str) -> "Optional[str]":
    if not level:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


def digests(found: "Dict[str, Definition]") -> "Dict[str, str]":
    """name -> digest, as the data file keeps them."""
    return {name: found[name].digest for name in sorted(found)}


def encode_refs(found: "Dict[str, Definition]") -> "Dict[str, str]":
    """name -> what it refers to, as one line (``run|calls|body|imports|members``): kept in the data
    beside the digests, so that a file unchanged since is never parsed again to decide."""
    encoded = {}
    for name in sorted(found):
        d = found[name]
        imports = " ".join(f"{module}>{target if target is not None else ''}" for module, target in d.imports)
        fields = (" ".join(sorted(d.run)), " ".join(sorted(d.calls)), " ".join(sorted(d.body - d.run)), imports,
                  " ".join(d.members))
        if any(fields):
            encoded[name] = "|".join(fields)
    return encoded


def decode_refs(defs: "Dict[str, str]", refs: "Dict[str, str]") -> "Dict[str, Definition]":
    """The definitions :func:`encode_refs` wrote, with their digests (bad entries are left empty)."""
    found: Dict[str, Definition] = {}
    for name, digest in defs.items():
        definition = found[name] = Definition()
        definition.digest = digest if isinstance(digest, str) else ""
        text = refs.get(name)
        if not isinstance(text, str):
            continue
        fields = text.split("|")
        if len(fields) != 5:
            continue
        run, calls, body, imports, members = (field.split() for field in fields)
        definition.run = set(run)
        definition.calls = set(calls)
        definition.body = set(body) | definition.run
        definition.members = members
        for item in imports:
            module, _, target = item.partition(">")
            definition.imports.append((module, target or None))
    return found



def add_registrations(statements: "List[ast.stmt]", found: "Dict[str, Definition]") -> None:
    """Registries filled at import: each name the registering code may store into refers to what it registers.

    A function that ``@register`` puts in ``HANDLERS`` and that tests call only
    through ``HANDLERS`` is never read by name; without this edge an edit of it
    selects nothing.  The registering code is the decorator (or the callee of
    ``f = register(f)`` and of ``a(b(f))``, or a base's ``__init_subclass__``
    and a metaclass's ``__new__``/``__init__`` for a class).  A decorator that
    is a function of this module is read for where its code may store what
    it is given (:mod:`globalhook.registering`): a wrapper (attrs' ``@attrs``)
    stores it nowhere and ties nothing; a registering one ties it to the
    containers it stores into.  Where that reading is unsure, and for any
    other registering code, every module-level name the code loads, other
    than imports and functions, may be the container (over-approximated),
    the code followed through the module's own functions it calls; the
    non-constant arguments (a callback, a table) of such a decorator of the
    module's own count as its code.  Registering code of another module is noted in the
    pseudo-definition ``@registered`` (its ``imports``; ``()`` ends the name
    of code given more than constants), which selection follows into that
    module.  Registrations by a statement that binds nothing (``register(f)``,
    ``HANDLERS.append(f)``) need no edge: every name of the module depends on
    them (``@effects``).
    """
    imported: Set[str] = set()
    functions: Set[str] = set()
    classes: Dict[str, ast.ClassDef] = {}
    for statement in statements:
        for node in _module_level(statement):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported.update(_bound_names(node))
            elif isinstance(node, _FUNCTIONS):
                functions.add(node.name)
            elif isinstance(node, ast.ClassDef):
                classes[node.name] = node
    from .registering import FOREIGN, UNSURE, Escapes

    reader: List[Escapes] = []  # made once a decorator of the module's own code needs it
    sites: List[Tuple[str, Set[str]]] = []  # (registered name, refs of the registering code)
    stores: List[Tuple[str, Set[str]]] = []  # (registered name, where its decorator's own code may put it)

    def callee_refs(expression: ast.expr, skip: "Optional[ast.expr]" = None, given: bool = False) -> "Set[str]":
        refs: Set[str] = set()
        _refs(expression.func if isinstance(expression, ast.Call) else expression, refs, refs)
        if isinstance(expression, ast.Call) and not _constant_call(expression, skip):
            refs = {f"{ref}()" for ref in refs}  # given more than constants: not taken as a plain wrapper
            if given:  # a decorator of this module handing what it decorates to what it was given
                for value in [a for a in expression.args if a is not skip] + [k.value for k in expression.keywords]:
                    _refs(value, refs, refs)  # @hook(SEEN.append), @register(TABLE)
        return refs

    def site(registered: str, expression: ast.expr, skip: "Optional[ast.expr]" = None) -> None:
        """``expression`` (a decorator, or a call given ``registered``) registers ``registered`` if its code
        stores it: read when it is a function of this module, else left to the rule for unknown code."""
        callee = expression.func if isinstance(expression, ast.Call) else expression
        own = isinstance(callee, ast.Name) and callee.id in functions and callee.id not in imported
        if own:
            constant = not isinstance(expression, ast.Call) or _constant_call(expression, skip)
            if not reader:
                reader.append(Escapes(statements, imported))
            found_escapes = reader[0].of_decorator(callee.id, constant_args=constant)
            if UNSURE not in found_escapes:
                stores.append((registered, found_escapes))
                return
        sites.append((registered, callee_refs(expression, skip, given=own)))

    for statement in statements:
        for node in _module_level(statement):
            if isinstance(node, _FUNCTIONS + (ast.ClassDef,)):
                for decorator in node.decorator_list:
                    site(node.name, decorator)
            if isinstance(node, ast.ClassDef):
                for member in node.body:  # a method registered by a module-level decorator: its class
                    for decorator in getattr(member, "decorator_list", ()):
                        site(node.name, decorator)
                hooks = _creation_hooks(node, classes, found)
                if hooks:
                    sites.append((node.name, hooks))
                for base in node.bases:  # hooks of another module: only what runs as the class is made
                    hook = _dotted(base)
                    if hook and hook.partition(".")[0] in imported:
                        sites.append((node.name, {f"{hook}.__init_subclass__()"}))
                for keyword in node.keywords:
                    hook = _dotted(keyword.value) if keyword.arg == "metaclass" else None
                    if hook and hook.partition(".")[0] in imported:
                        sites.append((node.name, {f"{hook}.__new__()", f"{hook}.__init__()"}))
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                targets = {t.id for t in node.targets if isinstance(t, ast.Name)}
                for call in ast.walk(node.value):  # f = register(f), nested: f = a(b(f)), h = register(f)
                    for argument in getattr(call, "args", ()) if isinstance(call, ast.Call) else ():
                        if isinstance(argument, ast.Name) and (argument.id in targets or argument.id in functions
                                                               or argument.id in classes):
                            site(argument.id, call, argument)
                        elif isinstance(argument, ast.Call):  # a(b(f)): a is given what b made from f
                            for inner in ast.walk(argument):
                                if isinstance(inner, ast.Name) and (inner.id in targets or inner.id in functions
                                                                    or inner.id in classes) and inner.id not in imported:
                                    site(inner.id, call, argument)
    elsewhere = Definition()

    def registered_elsewhere(registered: str, ref: str) -> None:
        for target in imported_targets(ref, found, imported):
            if target not in elsewhere.imports:
                elsewhere.imports.append(target)
            elsewhere.run.add(registered)

    for registered, refs in sites:
        for container in _containers({r[:-2] if r.endswith("()") else r for r in refs}, found, imported, functions):
            if container != registered:
                found[container].run.add(registered)
        for ref in sorted(refs):  # registering code of another module: where it leads
            registered_elsewhere(registered, ref)
    for registered, where in stores:
        for escape in sorted(where):
            if escape.startswith(FOREIGN):
                registered_elsewhere(registered, escape[len(FOREIGN):])
            elif escape in found and escape != registered:
                found[escape].run.add(registered)
    if elsewhere.imports:
        found[REGISTERED] = elsewhere


def imported_targets(ref: str, found: "Dict[str, Definition]", imported: "Set[str]") -> "List[Tuple[str, str]]":
    """``(module, dotted)`` for code of another module named ``ref`` here (``name``, ``name.attr``); a
    ``()`` ending (given more than constants) is kept on ``dotted``."""
    plain = "()" if ref.endswith("()") else ""
    ref = ref[:-2] if plain else ref
    root, _, attr = ref.partition(".")
    if root not in imported or root not in found:
        return []
    targets = []
    for module, name in found[root].imports:
        target = name if name is not None else attr
        if target:
            target = f"{name}.{attr}" if name is not None and attr else target
            targets.append((module, target + plain))
    return targets


def _constant_call(call: ast.Call, skip: "Optional[ast.expr]" = None) -> bool:
    """Every argument of ``call`` other than ``skip`` (the registered value) is a constant."""
    values = [a for a in call.args if a is not skip] + [k.value for k in call.keywords]
    return all(isinstance(v, ast.Constant) for v in values)


def _dotted(node: ast.expr) -> "Optional[str]":
    """``a.b.c`` for a name or a chain of attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _creation_hooks(node: ast.ClassDef, classes: "Dict[str, ast.ClassDef]", found: "Dict[str, Definition]") -> "Set[str]":
    """The refs of what runs when the class is made: its module-level bases' ``__init_subclass__``,
    its metaclass's (or a base's) ``__new__`` and ``__init__``."""
    refs: Set[str] = set()
    seen: Set[str] = set()
    todo = [node]
    while todo:
        current = todo.pop()
        for keyword in current.keywords:
            if keyword.arg == "metaclass" and isinstance(keyword.value, ast.Name):
                refs.update(f"{keyword.value.id}.{hook}" for hook in ("__new__", "__init__"))
        for base in current.bases:
            if isinstance(base, ast.Name) and base.id in classes and base.id not in seen:
                seen.add(base.id)
                refs.add(f"{base.id}.__init_subclass__")
                todo.append(classes[base.id])
    return {ref for ref in refs if ref in found}


def _containers(refs: "Set[str]", found: "Dict[str, Definition]", imported: "Set[str]", functions: "Set[str]") -> "Set[str]":
    """Module-level names the code behind ``refs`` may store into, following the module's functions,
    the methods of its classes and what made an object (``REGISTRY = Registry()``)."""
    containers: Set[str] = set()
    seen: Set[str] = set()
    todo = list(refs)
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        root = ref.partition(".")[0]
        if root not in found or root in imported:
            continue
        if root in functions:
            todo.extend(found[root].body)  # what its body does
            continue
        containers.add(root)
        definition = found[root]
        todo.extend(definition.run | definition.body)
        for member in definition.members:  # a class: its methods
            todo.extend(found[member].body if member in found else ())
    return containers
