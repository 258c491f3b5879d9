"""Where a decorator's code may put what it is given: registering code told from wrapping code.

Selection reaches a function that a decorator stores in a registry through
that registry (:func:`globalhook.definitions.add_registrations`).  Most
decorators store nothing: attrs' ``@attrs``, ``functools.wraps``-style
wrappers and ``dataclass`` build or patch what they are given and return it.
Taking every decorator as registering ties a package like attrs into one
knot (``@attrs`` loads most of its module), so each decorator of the module's
own code is read for what it does with its argument.

The argument (and every value that may hold it) is followed through the
function's body, the functions it defines and calls there, and the module's
own functions and classes it is passed to.  It *escapes* when it is stored
(by assignment, ``setattr`` or a method call such as ``append``) into
something that may outlive the call: a module-level name (the container),
an imported name (another module's: :data:`FOREIGN`), or anything not known
to be made in the call (an argument, a closure cell, the result of unknown
code): :data:`UNSURE`, as is a call with it of code not known (a callback it
was given).  A call with it into another module's code escapes to that code,
which selection reads in its own module.  Stores into the argument itself
(``cls.__repr__ = ...``) and into values made in the call do not escape, nor
do texts and numbers computed from it.  The answer over-approximates: any
doubt is an escape.  Two assumptions are made and documented: code compiled
from text (``exec``/``eval`` given a namespace made in the call from imported
names, builtins and constants) stores nothing of this module's, and a
decorator used as ``@name(constants)`` is read with its other parameters
holding constants (a decorator given more is read without that).
"""

from __future__ import annotations

import ast
import builtins

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple, Union

    Function = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]

__all__ = ["Escapes", "UNSURE", "FOREIGN"]

#: The escape of a value stored where this module's source cannot say (a parameter, a closure, ...).
UNSURE = "?"
#: The prefix of an escape into an imported name: ``>name`` or ``>name.attr`` (resolved by selection).
FOREIGN = ">"

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_FRESH = "@fresh"
#: Builtins that neither keep their arguments nor call back code that could (for these purposes).
_PURE = frozenset((
    "isinstance", "issubclass", "getattr", "hasattr", "len", "type", "id", "repr", "str", "bool", "int", "float",
    "tuple", "list", "dict", "set", "frozenset", "sorted", "reversed", "iter", "next", "enumerate", "zip",
    "any", "all", "callable", "vars", "dir", "hash", "min", "max", "sum", "format", "super", "object",
    "property", "staticmethod", "classmethod", "compile", "bytes", "abs", "round", "divmod", "ord", "chr",
    "print", "slice", "range", "NotImplementedError", "TypeError", "ValueError", "AttributeError", "KeyError",
    "RuntimeError", "Exception", "DeprecationWarning", "UserWarning",
))
#: Methods that read their arguments and keep none (of str, bytes, dict, list, set, tuple).
_READING = frozenset((
    "get", "join", "format", "startswith", "endswith", "split", "rsplit", "replace", "index", "count", "keys",
    "values", "items", "copy", "encode", "decode", "lower", "upper", "strip", "rstrip", "lstrip", "partition",
    "rpartition", "find", "rfind", "issubset", "issuperset", "union", "intersection", "difference",
    "symmetric_difference", "isdisjoint", "__contains__", "__eq__", "__ne__", "__getitem__", "remove", "discard",
    "pop", "splitlines", "isidentifier", "fromkeys", "__get__",
))
#: Builtins that call code they are given with the other arguments (``map(f, items)``, ``key=f``).
_CALLING = frozenset(("map", "filter", "sorted", "min", "max", "iter"))
#: Builtins whose result holds none of their arguments.
_SCALAR = frozenset(("len", "id", "hash", "repr", "str", "bool", "int", "float", "isinstance", "issubclass",
                     "hasattr", "callable", "format", "ord", "chr", "abs", "round"))
#: Methods of a text that make a new text from their arguments.
_TEXT = frozenset(("join", "format", "replace", "split", "startswith", "endswith"))
#: Builtins that store an argument into another: ``name -> (index of the target, indices stored)``.
_STORING = {"setattr": (0, (2,)), "delattr": (0, ())}
#: Builtins that run code: safe only with an explicit namespace (else they run in the module's).
_RUNNING = frozenset(("eval", "exec"))
_BUILTINS = frozenset(dir(builtins))


class Escapes:
    """The escapes of a module's functions, computed on demand and memoised.

    ``statements`` are the module's top-level statements; ``imported`` the
    names its imports bind.
    """

    def __init__(self, statements: "List[ast.stmt]", imported: "Set[str]") -> None:
        self.imported = imported
        self.functions: Dict[str, ast.AST] = {}
        self.classes: Dict[str, ast.ClassDef] = {}
        self.module_names: Set[str] = set()
        #: module-level name -> the values assigned to it
        self.module_values: Dict[str, List[ast.expr]] = {}
        todo: List[ast.AST] = list(statements)
        while todo:  # module-level code, without descending into functions and classes
            node = todo.pop()
            if isinstance(node, _FUNCTIONS):
                self.functions[node.name] = node
                self.module_names.add(node.name)
                continue
            if isinstance(node, ast.ClassDef):
                self.classes[node.name] = node
                self.module_names.add(node.name)
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.module_names.add(node.id)
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.module_values.setdefault(target.id, []).append(node.value)
            todo.extend(ast.iter_child_nodes(node))
        self._memo: Dict[tuple, Set[str]] = {}
        self._active: Set[tuple] = set()
        self._cut = False
        #: function name -> the line of its first store or call that made the answer unsure (for a reader).
        self.unsure: Dict[str, int] = {}
        #: escape -> (function, line) where it was first found (for a reader)
        self.where: Dict[str, Tuple[str, int]] = {}
        self._returns: Dict[Tuple[str, FrozenSet[str]], bool] = {}

    # -- questions ------------------------------------------------------------------------

    def of_decorator(self, name: str, constant_args: bool = True) -> "Set[str]":
        """Where module function ``name`` may put what it decorates, used as ``@name`` or ``@name(...)``:
        its first parameter and the first parameter of each function it defines (the decorator it
        returns) are followed.  With ``constant_args`` its other parameters hold constants (``@name(True)``)."""
        function = self.functions.get(name)
        if function is None:
            return {UNSURE}
        first = _first_params(function)
        others = frozenset(_param_names(function)) - frozenset(first) if constant_args else frozenset()
        found = self._function(function, frozenset(first), self_owned=False, constants=others)
        for node in function.body:  # @name(...): the decorator it returns, one of its own functions
            if isinstance(node, _FUNCTIONS):
                inner = _first_params(node)
                outer = frozenset(_param_names(function)) if constant_args else frozenset()
                found |= self._function(node, frozenset(inner), self_owned=False,
                                        constants=outer - frozenset(_param_names(node)))
        return found

    def wrappers(self) -> "Dict[str, Set[str]]":
        """Module functions that store what they decorate nowhere in this module, and module classes whose
        making stores what they are given nowhere in it (given it and constants): name -> foreign escapes."""
        found = {}
        for name in sorted(self.functions):
            escapes = self.of_decorator(name)
            if UNSURE not in escapes and all(e.startswith(FOREIGN) for e in escapes):
                found[name] = escapes
        for name in sorted(self.classes):
            escapes = self.of_class(name)
            if UNSURE not in escapes and all(e.startswith(FOREIGN) for e in escapes):
                found[name] = escapes
        return found

    def of_class(self, name: str) -> "Set[str]":
        """Where making an instance of module class ``name`` may put what it is given (every argument
        taken as holding it: other code calls it with it and constants only)."""
        cls = self.classes[name]
        if not self._plain_class(cls):
            return {UNSURE}
        found: Set[str] = set()
        for method in ("__new__", "__init__", "__post_init__"):
            function = self._method(cls, method)
            if function is not None:
                params = frozenset(_param_names(function)[1:])
                found |= self._function(function, params, self_owned=True)
        return found

    def returned_functions(self, name: str) -> "Optional[List[ast.AST]]":
        """The functions (of the module, or made in it) that module function ``name`` returns, alone or
        in tuples, when it returns nothing else than those, constants and empty tuples; else None."""
        function = self.functions[name]
        nested = {node.name: node for node in ast.walk(function) if isinstance(node, _FUNCTIONS) and node is not function}
        found: List[ast.AST] = []
        for node in _own_nodes(function):
            if isinstance(node, (ast.Yield, ast.YieldFrom)):
                return None
            if not isinstance(node, ast.Return) or node.value is None:
                continue
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for value in values:
                if isinstance(value, ast.Name) and value.id in nested:
                    found.append(nested[value.id])
                elif isinstance(value, ast.Name) and value.id in self.functions:
                    found.append(self.functions[value.id])
                elif isinstance(value, (ast.Tuple, ast.Constant)):
                    continue  # a part that cannot be called (a tuple, a constant)
                else:
                    return None
        return found

    def generated(self, values: "Iterable[ast.expr]") -> bool:
        """Every one of ``values`` is a call of a module function that returns code it compiled from text
        (:meth:`returns_generated`)."""
        values = list(values)
        return bool(values) and all(
            isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in self.functions
            and self.returns_generated(v.func.id) for v in values)

    def returns_generated(self, name: str) -> bool:
        """Module function ``name`` returns only what code compiled from text defined in a namespace made
        in the call (``globs = {...}; exec(text, globs); return globs[name]``), whose values are imported
        names, builtins and constants: that code reaches nothing of this module's but its arguments."""
        function = self.functions[name]
        spaces: Set[str] = set()
        returns = [n for n in _own_nodes(function) if isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom))]
        for node in returns:
            value = getattr(node, "value", None)
            if not (isinstance(node, ast.Return) and isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name)):
                return False
            spaces.add(value.value.id)
        if not spaces:
            return False
        stores = sum(1 for n in _own_nodes(function) if isinstance(n, ast.Name) and n.id in spaces
                     and isinstance(n.ctx, (ast.Store, ast.Del)))
        made = 0
        for node in _own_nodes(function):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in spaces for t in node.targets):
                if len(node.targets) != 1 or not isinstance(node.value, ast.Dict):
                    return False
                made += 1
                for key, value in zip(node.value.keys, node.value.values):
                    if key is None or not (isinstance(value, ast.Constant) or isinstance(value, ast.Name) and (
                            value.id in self.imported or value.id in _BUILTINS and value.id not in self.module_names)):
                        return False
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(_root(t) in spaces for t in targets if not isinstance(t, ast.Name)):
                    return False
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in spaces:
                return False  # globs.update(...): filled with what this does not follow
        return made == stores and made >= len(spaces)  # bound only so, once each at least

    def returns_new(self, name: str, owned: "FrozenSet[str]" = frozenset()) -> bool:
        """Module function ``name`` returns only values it made (never a module-level one, nor an argument
        other than the ``owned`` parameters, given values the caller made)."""
        key = (name, owned)
        found = self._returns.get(key)
        if found is None:
            self._returns[key] = True  # a recursive call: what its other returns say
            function = self.functions[name]
            body = _Body(self, function, frozenset(), False, owned)
            found = True
            for node in body.nodes:
                if isinstance(node, (ast.Return, ast.Yield)) and node.value is not None and not body._made_here(node.value):
                    found = False
                    break
            self._returns[key] = found
        return found

    # -- the analysis ---------------------------------------------------------------------

    def _function(self, function: "ast.AST", tainted: "FrozenSet[str]", self_owned: bool,
                  owned: "FrozenSet[str]" = frozenset(), constants: "FrozenSet[str]" = frozenset(),
                  alias: "Optional[Tuple[str, str]]" = None) -> "Set[str]":
        owned = owned | constants
        key = (id(function), tainted, self_owned, owned, constants, alias)
        if key in self._memo:
            return self._memo[key]
        if key in self._active:
            self._cut = True  # a cycle: what the outer call finds covers it
            return set()
        self._active.add(key)
        outer_cut, self._cut = self._cut, False
        try:
            body = _Body(self, function, tainted, self_owned, owned, constants)
            if alias is not None:
                body.aliases[alias[0]] = alias[1]
            found = body.escapes()
        except RecursionError:
            found = {UNSURE}
        self._active.discard(key)
        if not self._cut:
            self._memo[key] = found
        self._cut = self._cut or outer_cut
        return found

    def call(self, name: str, call: ast.Call, tainted_args: "List[bool]", tainted_keywords: "Dict[str, bool]",
             spread: bool, owned_args: "List[bool]", owned_keywords: "Dict[str, bool]",
             constant_args: "List[bool]", constant_keywords: "Dict[str, bool]") -> "Set[str]":
        """The escapes of calling module function or class ``name`` with the arguments marked tainted."""
        if name in self.functions:
            function = self.functions[name]
            params = _params_for(function, tainted_args, tainted_keywords, spread, skip_self=False)
            owned = _params_for(function, owned_args, owned_keywords, False, skip_self=False)
            constants = _params_for(function, constant_args, constant_keywords, False, skip_self=False) | _defaulted(
                function, call)
            return self._function(function, params, self_owned=False, owned=owned, constants=constants)
        cls = self.classes[name]
        found: Set[str] = set()
        if not self._plain_class(cls):
            return {UNSURE}
        for method in ("__new__", "__init__", "__post_init__"):
            function = self._method(cls, method)
            if function is None:
                continue
            params = _params_for(function, tainted_args, tainted_keywords, spread, skip_self=True)
            owned = _params_for(function, owned_args, owned_keywords, False, skip_self=True)
            constants = _params_for(function, constant_args, constant_keywords, False, skip_self=True) | _defaulted(
                function, call, skip_self=True)
            found |= self._function(function, params, self_owned=True, owned=owned, constants=constants)
        return found

    def method_call(self, cls_name: str, method: str, tainted_args: "List[bool]", tainted_keywords: "Dict[str, bool]",
                    spread: bool, owned_args: "List[bool]", owned_keywords: "Dict[str, bool]",
                    constant_args: "List[bool]", constant_keywords: "Dict[str, bool]", call: ast.Call) -> "Set[str]":
        """The escapes of ``obj.method(...)`` on an object of module class ``cls_name`` that holds the argument."""
        cls = self.classes.get(cls_name)
        function = self._method(cls, method) if cls is not None else None
        if function is None or not self._plain_class(cls):  # type: ignore[arg-type]
            return {UNSURE}
        params = _params_for(function, tainted_args, tainted_keywords, spread, skip_self=True)
        owned = _params_for(function, owned_args, owned_keywords, False, skip_self=True)
        constants = _params_for(function, constant_args, constant_keywords, False, skip_self=True) | _defaulted(
            function, call, skip_self=True)
        first = _first_params(function)
        return self._function(function, params | frozenset(first), self_owned=True, owned=owned, constants=constants)

    def class_method(self, cls_name: str, method: str, call: ast.Call, tainted_args: "List[bool]",
                     tainted_keywords: "Dict[str, bool]", spread: bool, owned_args: "List[bool]",
                     owned_keywords: "Dict[str, bool]", constant_args: "List[bool]",
                     constant_keywords: "Dict[str, bool]") -> "Optional[Set[str]]":
        """The escapes of ``Class.method(...)`` (a class method, a static one, or a function of the class);
        None when the class or the method is not plain (the caller then takes the class as a container)."""
        cls = self.classes[cls_name]
        function = self._method(cls, method)
        if function is None or not self._plain_class(cls):
            return None
        kinds = {d.id for d in getattr(function, "decorator_list", ()) if isinstance(d, ast.Name)}
        if len(kinds) != len(function.decorator_list) or kinds - {"classmethod", "staticmethod"}:  # type: ignore[attr-defined]
            return None
        skip = "classmethod" in kinds
        params = _params_for(function, tainted_args, tainted_keywords, spread, skip_self=skip)
        owned = _params_for(function, owned_args, owned_keywords, False, skip_self=skip)
        constants = _params_for(function, constant_args, constant_keywords, False, skip_self=skip) | _defaulted(
            function, call, skip_self=skip)
        first = _first_params(function) if skip else []
        return self._function(function, params, self_owned=False, owned=owned, constants=constants,
                              alias=(first[0], cls_name) if first else None)

    def constructs(self, cls_name: str, method: str) -> bool:
        """``Class.method`` is a class method that returns only new instances (``return cls(...)``)."""
        function = self._method(self.classes[cls_name], method)
        if function is None or [getattr(d, "id", None) for d in function.decorator_list] != ["classmethod"]:  # type: ignore[attr-defined]
            return False
        first = _first_params(function)
        returns = [n for n in _own_nodes(function) if isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom))]
        return bool(returns) and all(
            isinstance(n, ast.Return) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Name)
            and n.value.func.id in first for n in returns)

    def _method(self, cls: "ast.ClassDef", name: str) -> "Optional[ast.AST]":
        seen: Set[str] = set()
        todo = [cls]
        while todo:
            current = todo.pop(0)
            for statement in current.body:
                if isinstance(statement, _FUNCTIONS) and statement.name == name:
                    return statement
            for base in current.bases:
                if isinstance(base, ast.Name) and base.id in self.classes and base.id not in seen:
                    seen.add(base.id)
                    todo.append(self.classes[base.id])
        return None

    def _plain_class(self, cls: "ast.ClassDef") -> bool:
        """No metaclass, no decorator, and bases of this module or ``object`` only (nothing else runs)."""
        if cls.keywords or cls.decorator_list:
            return False
        for base in cls.bases:
            if isinstance(base, ast.Name) and base.id == "object":
                continue
            if not (isinstance(base, ast.Name) and base.id in self.classes and
                    self._plain_class(self.classes[base.id])):
                return False
        return True


class _Body:
    """One function body (with its nested functions) followed for one set of tainted parameters."""

    def __init__(self, module: Escapes, function: "ast.AST", tainted: "FrozenSet[str]", self_owned: bool,
                 owned: "FrozenSet[str]" = frozenset(), constants: "FrozenSet[str]" = frozenset()) -> None:
        #: parameters (and free names) that hold a constant: calling one runs no code
        self.constants = set(constants)
        #: a class method's first parameter -> its class (module-level)
        self.aliases: Dict[str, str] = {}
        self.module = module
        self.function = function
        self.tainted: Set[str] = set(tainted)
        self.given = frozenset(tainted)
        self.params: Set[str] = set()
        self.nested: Dict[str, ast.AST] = {}
        self.bindings: Dict[str, List[ast.expr]] = {}
        self.declared: Set[str] = set()
        self.types: Dict[str, str] = {}
        self.owned: Set[str] = set(owned)  # parameters given values the caller made (its own containers)
        if self_owned:
            first = _first_params(function)
            self.owned.update(first)
            self.tainted.update(first)  # the object being made holds what it is given
        self.nodes: List[ast.AST] = []
        self._resolved: Dict[str, Set[str]] = {}
        self._collect(function)

    def _collect(self, function: "ast.AST") -> None:
        """The nodes of the body that run with it: a nested function's body runs when it is called
        (read then, see :meth:`_call`), or later, outside the call."""
        self.params.update(_param_names(function))
        todo: List[ast.AST] = list(ast.iter_child_nodes(function))
        while todo:
            node = todo.pop()
            self.nodes.append(node)
            if isinstance(node, _FUNCTIONS + (ast.Lambda,)):
                if isinstance(node, _FUNCTIONS):
                    self.nested[node.name] = node
                    # a closure holds what its body refers to
                    loads = [ast.Name(id=n.id, ctx=ast.Load()) for n in ast.walk(node) if isinstance(n, ast.Name)]
                    self.bindings.setdefault(node.name, []).append(ast.Tuple(elts=loads, ctx=ast.Load()))
                    todo.extend(node.decorator_list)
                    todo.extend(d for d in node.args.defaults + node.args.kw_defaults if d is not None)
                continue
            todo.extend(ast.iter_child_nodes(node))
            if isinstance(node, ast.Global):
                self.declared.update(node.names)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.NamedExpr):
                self._bind(node.target, node.value)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                self._bind(node.target, ast.Subscript(value=node.iter, slice=ast.Constant(value=0), ctx=ast.Load()))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._bind(node.optional_vars, ast.Call(func=ast.Name(id="?", ctx=ast.Load()), args=[node.context_expr],
                                                        keywords=[]))
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.bindings.setdefault(node.name, []).append(ast.Constant(value=None))

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bindings.setdefault(target.id, []).append(value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for item in target.elts:  # a, b = value: each from (a part of) value
                self._bind(item.value if isinstance(item, ast.Starred) else item, value)

    # -- taint ----------------------------------------------------------------------------

    def _is_tainted(self, node: "Optional[ast.AST]") -> bool:
        """``node``'s value may hold the argument (a text or a number made from it holds nothing)."""
        if node is None:
            return False
        todo = [node]
        while todo:
            child = todo.pop()
            if isinstance(child, ast.Name):
                if child.id in self.tainted:
                    return True
                continue
            if isinstance(child, (ast.JoinedStr, ast.Compare)):
                continue
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Name) and func.id in _SCALAR and func.id not in self.bindings and \
                        func.id not in self.module.module_names:
                    continue
                if isinstance(func, ast.Attribute) and func.attr in _TEXT and isinstance(func.value, ast.Constant):
                    continue
            if isinstance(child, ast.BinOp) and isinstance(child.op, ast.Mod) and isinstance(child.left, ast.Constant):
                continue
            todo.extend(ast.iter_child_nodes(child))
        return False

    def _spread_taint(self) -> None:
        changed = True
        while changed:
            changed = False
            for name, values in self.bindings.items():
                if name not in self.tainted and any(self._is_tainted(v) for v in values):
                    self.tainted.add(name)
                    changed = True
            for node in self.nodes:  # a local container that got the argument holds it
                holders = [_root(t) for t, value in self._stores(node) if self._is_tainted(value)]
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                        any(self._is_tainted(a) for a in node.args) or any(self._is_tainted(k.value) for k in node.keywords)):
                    holders.append(_root(node.func.value))  # local.append(arg)
                if isinstance(node, ast.Call) and (any(self._is_tainted(a) for a in node.args) or
                                                   any(self._is_tainted(k.value) for k in node.keywords)):
                    holders.extend(_root(a) for a in list(node.args) + [k.value for k in node.keywords])  # f(local, arg)
                    if isinstance(node.func, ast.Name) and node.func.id in self.nested:  # what its body may store into
                        holders.extend(n.id for n in ast.walk(self.nested[node.func.id]) if isinstance(n, ast.Name))
                for root in holders:
                    if root is not None and root not in self.tainted and self._local(root):
                        self.tainted.add(root)
                        changed = True

    @staticmethod
    def _stores(node: ast.AST) -> "Iterable[Tuple[ast.expr, Optional[ast.expr]]]":
        """(target, stored value) of each store into a part of something (``x[k] = v``, ``x.a = v``)."""
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for part in _parts(target):
                    if isinstance(part, (ast.Subscript, ast.Attribute)):
                        yield part, node.value
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            if isinstance(node.target, (ast.Subscript, ast.Attribute)):
                yield node.target, node.value

    def _local(self, name: str) -> bool:
        return name in self.bindings and name not in self.declared and name not in self.params

    # -- where a root leads -----------------------------------------------------------------

    def _resolve(self, name: Optional[str]) -> "Set[str]":
        """The escapes of storing into something rooted at ``name`` (empty: made here, or the argument)."""
        if name is None:
            return {UNSURE}
        if name == _FRESH or name in self.owned or (name in self.given and name not in self.bindings):
            return set()
        if name in self._resolved:
            return self._resolved[name]
        self._resolved[name] = set()  # in a cycle of bindings: what the other bindings say
        found = self._resolve_binding(name)
        self._resolved[name] = found
        return found

    def _resolve_binding(self, name: str) -> "Set[str]":
        if name in self.params:
            found = set() if name in self.given else {UNSURE}  # the argument, or what the caller gave
            for value in self.bindings.get(name, ()):
                for origin in self._origins(value):
                    found |= self._resolve(origin)
            return found
        if name in self.declared or (name not in self.bindings and name in self.module.module_names):
            if name in self.module.imported:
                return {FOREIGN + name}
            return {name}
        if name not in self.bindings:
            if name in self.module.imported:
                return {FOREIGN + name}
            return {UNSURE}
        found: Set[str] = set()
        for value in self.bindings[name]:
            for origin in self._origins(value):
                found |= self._resolve(origin)
        return found

    def _origins(self, node: ast.expr) -> "Set[Optional[str]]":
        """What ``node``'s value may be part of: names, :data:`_FRESH` for a new value, None for unknown."""
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            return self._origins(node.value)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id in self.module.classes and func.id not in self.bindings:
                    return {_FRESH}
                if func.id in self.constants and func.id not in self.bindings:
                    return {_FRESH}  # calling None: no value
                if func.id in self.aliases and func.id not in self.bindings:
                    return {_FRESH}  # cls(...) in a class method
                if self.module.generated(self.bindings.get(func.id) or (
                        () if func.id in self.bindings else self.module.module_values.get(func.id, ()))):
                    return {_FRESH}  # made by code compiled from text, from its arguments
                if func.id in self.module.functions and func.id not in self.bindings:
                    function = self.module.functions[func.id]
                    owned = _params_for(function, [self._made_here(a) for a in node.args],
                                        {k.arg or "**": self._made_here(k.value) for k in node.keywords}, False, False)
                    if self.module.returns_new(func.id, owned | _defaulted(function, node)):
                        return {_FRESH}
                if func.id in _PURE and func.id not in self.bindings and func.id not in self.module.module_names:
                    # a builtin's result: new, or a part of its arguments (getattr(x, n), next(iter(x)))
                    found: Set[Optional[str]] = {_FRESH}
                    for argument in node.args:
                        found |= self._origins(argument)
                    return found
                return {None}
            if isinstance(func, ast.Attribute):
                if isinstance(func.value, ast.Name) and func.value.id in self.module.classes and \
                        func.value.id not in self.bindings and self.module.constructs(func.value.id, func.attr):
                    return {_FRESH}
                return self._origins(func.value)  # a method's result may be a part of its object
            return {None}
        if isinstance(node, ast.IfExp):
            return self._origins(node.body) | self._origins(node.orelse)
        if isinstance(node, ast.BoolOp):
            found = set()
            for value in node.values:
                found |= self._origins(value)
            return found
        if isinstance(node, ast.NamedExpr):
            return self._origins(node.value)
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
            return {None}
        found = {_FRESH}
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            for element in node.elts:  # a new container of old values
                found |= self._origins(element)
        elif isinstance(node, ast.Dict):
            for element in node.values:
                found |= self._origins(element)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            found |= self._origins(node.elt)
        elif isinstance(node, ast.DictComp):
            found |= self._origins(node.value)
        return found  # a constant, an operation: a new value  # a display, a comprehension, a constant, an operation: a new value

    def _bound_setattr(self, name: str) -> "Optional[ast.expr]":
        """``obj`` when local ``name`` is only ``object.__setattr__.__get__(obj)`` (directly or through a
        module-level name holding ``object.__setattr__``)."""
        values = self.bindings.get(name, ())
        if len(values) != 1:
            return None
        value = values[0]
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "__get__"
                and len(value.args) == 1):
            return None
        setter = value.func.value
        if isinstance(setter, ast.Name) and setter.id not in self.bindings:
            held = self.module.module_values.get(setter.id, [])
            setter = held[0] if len(held) == 1 else setter
        if isinstance(setter, ast.Attribute) and setter.attr == "__setattr__" and isinstance(setter.value, ast.Name) \
                and setter.value.id == "object":
            return value.args[0]
        return None

    def _callees(self, name: str) -> "Optional[List[ast.AST]]":
        """The module functions a local may be (``f = g`` or ``a, f = pick()`` where ``pick`` returns only
        module functions), or None."""
        found: List[ast.AST] = []
        for value in self.bindings.get(name, ()):
            if isinstance(value, ast.Name) and value.id in self.module.functions:
                found.append(self.module.functions[value.id])
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in self.module.functions:
                returned = self.module.returned_functions(value.func.id)
                if returned is None:
                    return None
                found.extend(returned)
            else:
                return None
        return found

    def _plainness(self, node: ast.Call, tainted_args: "List[bool]", tainted_keywords: "Dict[str, bool]") -> str:
        """``()`` when a call into another module gives it more than the argument and constants (its code
        is then not taken as a plain wrapper there)."""
        for argument, tainted in zip(node.args, tainted_args):
            if not tainted and not self._constant(argument):
                return "()"
        for keyword in node.keywords:
            if not tainted_keywords.get(keyword.arg or "**") and not self._constant(keyword.value):
                return "()"
        return ""

    def _called_back(self, value: ast.expr) -> "Set[str]":
        """The escapes of code that a builtin calls with the argument: a lambda, a function of this
        module or of this call, a builtin; anything else is unknown code."""
        if isinstance(value, ast.Constant):
            return set()
        free: FrozenSet[str] = frozenset()
        if isinstance(value, ast.Lambda):
            inner: ast.AST = value
            free = frozenset(self.tainted)
        elif isinstance(value, ast.Name) and value.id in self.nested and len(self.bindings[value.id]) == 1:
            inner = self.nested[value.id]
            free = frozenset(self.tainted)
        elif isinstance(value, ast.Name) and value.id not in self.bindings and value.id not in self.module.module_names \
                and (value.id in _PURE or value.id in _SCALAR) and value.id not in _CALLING:
            return set()
        elif isinstance(value, ast.Name) and value.id in self.module.functions and value.id not in self.bindings:
            inner = self.module.functions[value.id]
        else:
            return {UNSURE}
        params = frozenset(_param_names(inner))
        made = frozenset(n for n in self.bindings if n not in self.declared and not self._resolve(n))
        constants = frozenset(self.constants - set(self.bindings)) - params if free else frozenset()
        return self.module._function(inner, params | (free - params), False,
                                     (frozenset(self.owned) | made if free else frozenset()), constants)

    def _constant(self, node: ast.expr) -> bool:
        """``node`` is a constant, or a name known to hold one."""
        if isinstance(node, ast.Constant):
            return True
        return isinstance(node, ast.Name) and node.id in self.constants and node.id not in self.bindings

    def _made_here(self, node: ast.expr) -> bool:
        """``node``'s value was made in this call (or is the argument): nothing outside holds it."""
        found: Set[str] = set()
        for origin in self._origins(node):
            found |= self._resolve(origin)
        return not found

    # -- the answer -------------------------------------------------------------------------

    def escapes(self) -> "Set[str]":
        self._spread_taint()
        found: Set[str] = set()
        for node in self.nodes:
            for target, value in self._stores(node):
                if self._is_tainted(value):
                    root = _root(target)
                    where = self._resolve(root)
                    if FOREIGN + str(root) in where:  # module.NAME[k] = v: that module's NAME
                        where = (where - {FOREIGN + str(root)}) | {FOREIGN + _chain(target)}
                    found |= where
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and self._is_tainted(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for part in _parts(target):
                        if isinstance(part, ast.Name) and part.id in self.declared:
                            found.add(FOREIGN + part.id if part.id in self.module.imported else part.id)
            elif isinstance(node, ast.Call):
                found |= self._call(node)
            for escape in found:
                self.module.where.setdefault(escape, (getattr(self.function, "name", "<lambda>"), getattr(node, "lineno", 0)))
            if UNSURE in found:
                self.module.unsure.setdefault(getattr(self.function, "name", "<lambda>"), getattr(node, "lineno", 0))
                return found
        return found

    def _call(self, node: ast.Call) -> "Set[str]":
        tainted_args = [self._is_tainted(a) for a in node.args]
        tainted_keywords = {k.arg or "**": self._is_tainted(k.value) for k in node.keywords}
        spread = any(isinstance(a, ast.Starred) and t for a, t in zip(node.args, tainted_args)) or tainted_keywords.get(
            "**", False)
        any_tainted = any(tainted_args) or any(tainted_keywords.values())
        owned_args = [self._made_here(a) for a in node.args]
        owned_keywords = {k.arg or "**": self._made_here(k.value) for k in node.keywords}
        constant_args = [self._constant(a) for a in node.args]
        constant_keywords = {k.arg or "**": self._constant(k.value) for k in node.keywords}
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if name in self.given:
                return set()  # the argument itself
            if name in self.constants and name not in self.bindings:
                return set()  # None (a callback not given): guarded, or a TypeError
            if name in self.aliases and name not in self.bindings:
                return self.module.call(self.aliases[name], node, tainted_args, tainted_keywords, spread, owned_args,
                                        owned_keywords, constant_args, constant_keywords)
            if name in self.nested and len(self.bindings[name]) == 1 and name not in self.declared:
                inner = self.nested[name]  # a function made here, called: its body runs now
                params = _params_for(inner, tainted_args, tainted_keywords, spread, skip_self=False)
                free = frozenset(self.tainted - set(_param_names(inner)))
                owned = _params_for(inner, owned_args, owned_keywords, False, skip_self=False)
                made = {n for n in self.bindings if n not in self.declared and not self._resolve(n)}  # its locals
                constants = _params_for(inner, constant_args, constant_keywords, False, skip_self=False) | _defaulted(
                    inner, node)
                free_constants = frozenset(self.constants - set(self.bindings) - set(_param_names(inner)))
                return self.module._function(inner, params | free, False, owned | frozenset(self.owned) | frozenset(made),
                                             constants | free_constants)
            if name in self.bindings and name not in self.declared:
                if not (any_tainted or name in self.tainted):
                    return set()
                if self.module.generated(self.bindings[name]):
                    return set()
                owner = self._bound_setattr(name)
                if owner is not None:  # setter = object.__setattr__.__get__(obj); setter(name, value)
                    return self._resolve(_root(owner)) if len(tainted_args) > 1 and tainted_args[1] else set()
                callees = self._callees(name)
                if callees is None:
                    return {UNSURE}  # a value called: unknown code
                found = set()
                for callee in callees:
                    if not _accepts(callee, node):
                        continue  # another of the functions the value may be (it takes other arguments)
                    params = _params_for(callee, tainted_args, tainted_keywords, spread, skip_self=False)
                    found |= self.module._function(callee, params, False)
                return found
            if not any_tainted:
                return set()
            if name in _STORING and name not in self.module.module_names:
                target, stored = _STORING[name]
                if any(i < len(tainted_args) and tainted_args[i] for i in stored) and target < len(node.args):
                    return self._resolve(_root(node.args[target]))
                return set()
            if name in _RUNNING and name not in self.module.module_names:
                return set() if len(node.args) >= 2 else {UNSURE}  # with its own globals: not ours
            if name in _CALLING and name not in self.module.module_names:
                # map(f, items), sorted(items, key=f), iter(f, sentinel): f is called with it
                callbacks = [k.value for k in node.keywords if k.arg == "key"]
                if name in ("map", "filter") or (name == "iter" and len(node.args) > 1):
                    callbacks += node.args[:1]
                found = set()
                for callback in callbacks:
                    found |= self._called_back(callback)
                return found
            if name in _PURE and name not in self.module.module_names:
                return set()
            if name in self.params:
                return {UNSURE}  # a callback given to the call
            if name in self.module.imported:
                return {FOREIGN + name + self._plainness(node, tainted_args, tainted_keywords)}
            if name not in self.module.functions and name not in self.module.classes and self.module.generated(
                    self.module.module_values.get(name, ())):
                return set()  # code compiled from text with a namespace of its own: only its arguments
            if name in self.module.functions or name in self.module.classes:
                return self.module.call(name, node, tainted_args, tainted_keywords, spread, owned_args, owned_keywords,
                                        constant_args, constant_keywords)
            return {UNSURE}
        if isinstance(func, ast.Attribute):
            receiver = func.value
            root = _root(receiver)
            if isinstance(receiver, ast.Name) and receiver.id in self.module.imported and receiver.id not in self.bindings:
                return {FOREIGN + f"{receiver.id}.{func.attr}" + self._plainness(node, tainted_args, tainted_keywords)
                        } if any_tainted else set()
            if isinstance(receiver, ast.Name) and receiver.id in self.module.classes and receiver.id not in self.bindings:
                found = self.module.class_method(receiver.id, func.attr, node, tainted_args, tainted_keywords, spread,
                                                 owned_args, owned_keywords, constant_args, constant_keywords)
                if found is not None:
                    return found
            kind = self._class_of(receiver)
            if kind is not None and (any_tainted or self._is_tainted(receiver)):
                return self.module.method_call(kind, func.attr, tainted_args, tainted_keywords, spread, owned_args,
                                               owned_keywords, constant_args, constant_keywords, node)
            if not any_tainted:
                return set()  # a method of the argument (or of a value made from it) run alone
            if func.attr in ("__setattr__", "__delattr__") and len(node.args) >= 1:
                stored = tainted_args[2] if len(tainted_args) > 2 else False
                return self._resolve(_root(node.args[0])) if stored else set()  # object.__setattr__(self, n, v)
            if func.attr in _READING:
                return set()
            if isinstance(receiver, ast.Name) and receiver.id == "super" or (
                    isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and receiver.func.id == "super"):
                return {UNSURE}
            found = set()
            for origin in self._origins(receiver):  # obj.append(arg), obj.update(...): stored into obj
                found |= self._resolve(origin)
            return found
        if any_tainted or self._is_tainted(func):
            return {UNSURE}
        return set()

    def _class_of(self, node: ast.expr) -> "Optional[str]":
        """The module class a local was made from (``b = Builder(cls)``), when that is all it was bound to."""
        if not isinstance(node, ast.Name) or node.id not in self.bindings or node.id in self.declared:
            return None
        kinds = set()
        for value in self.bindings[node.id]:
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in self.module.classes:
                kinds.add(value.func.id)
            else:
                return None
        return kinds.pop() if len(kinds) == 1 else None


def _first_params(function: "ast.AST") -> "List[str]":
    args = getattr(function, "args", None)
    if args is None:
        return []
    positional = list(getattr(args, "posonlyargs", [])) + list(args.args)
    if positional:
        return [positional[0].arg]
    if args.vararg is not None:
        return [args.vararg.arg]
    return []


def _param_names(function: "ast.AST") -> "List[str]":
    args = function.args  # type: ignore[attr-defined]
    names = [a.arg for a in list(getattr(args, "posonlyargs", [])) + list(args.args) + list(args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _params_for(function: "ast.AST", tainted_args: "List[bool]", tainted_keywords: "Dict[str, bool]",
                spread: bool, skip_self: bool) -> "FrozenSet[str]":
    """The parameters of ``function`` that receive a tainted argument."""
    args = function.args  # type: ignore[attr-defined]
    positional = [a.arg for a in list(getattr(args, "posonlyargs", [])) + list(args.args)]
    if skip_self:
        positional = positional[1:]
    if spread:
        return frozenset(_param_names(function))
    found = set()
    for index, tainted in enumerate(tainted_args):
        if not tainted:
            continue
        if index < len(positional):
            found.add(positional[index])
        elif args.vararg is not None:
            found.add(args.vararg.arg)
    keywords = {a.arg for a in list(args.args) + list(args.kwonlyargs)}
    for name, tainted in tainted_keywords.items():
        if tainted:
            if name in keywords:
                found.add(name)
            elif args.kwarg is not None:
                found.add(args.kwarg.arg)
    return frozenset(found)


def _accepts(function: "ast.AST", call: ast.Call) -> bool:
    """``call`` can bind ``function``'s parameters (a count of positional arguments it takes)."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return True
    args = function.args  # type: ignore[attr-defined]
    positional = list(getattr(args, "posonlyargs", [])) + list(args.args)
    if len(call.args) > len(positional) and args.vararg is None:
        return False
    required = positional[:len(positional) - len(args.defaults)]
    given = {a.arg for a in positional[:len(call.args)]} | {k.arg for k in call.keywords}
    return all(param.arg in given for param in required)


def _own_nodes(function: "ast.AST") -> "List[ast.AST]":
    """The nodes of ``function``'s body, not those of the functions it defines."""
    found: List[ast.AST] = []
    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, _FUNCTIONS + (ast.Lambda,)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def _defaulted(function: "ast.AST", call: ast.Call, skip_self: bool = False) -> "FrozenSet[str]":
    """Parameters ``call`` gives no value, whose default is a constant (``None``: made in the call)."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return frozenset()
    args = function.args  # type: ignore[attr-defined]
    positional = list(getattr(args, "posonlyargs", [])) + list(args.args)
    bound = positional[1:] if skip_self else positional
    given = {a.arg for a in bound[:len(call.args)]} | {k.arg for k in call.keywords}
    found = set()
    for param, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        if param.arg not in given and isinstance(default, ast.Constant):
            found.add(param.arg)
    for param, default in zip(args.kwonlyargs, args.kw_defaults):
        if param.arg not in given and isinstance(default, ast.Constant):
            found.add(param.arg)
    return frozenset(found)


def _chain(node: ast.expr) -> str:
    """``a.b`` for a store into ``a.b.c[k]`` (a name and its first attribute)."""
    parts: List[str] = []
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        node = node.value
    name = node.id if isinstance(node, ast.Name) else "?"
    return f"{name}.{parts[-1]}" if parts else name


def _root(node: ast.expr) -> "Optional[str]":
    """The name a chain of attributes, items and calls starts from (``a`` in ``a.b[c].d``), or None."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    return None


def _parts(target: ast.expr) -> "List[ast.expr]":
    if isinstance(target, (ast.Tuple, ast.List)):
        found = []
        for item in target.elts:
            found.extend(_parts(item.value if isinstance(item, ast.Starred) else item))
        return found
    return [target]
