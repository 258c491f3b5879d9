"""Which tests a change can affect: the decision behind ``pytest --globalhook-select``.

The data file's ``selection`` key (written by the pytest plugin,
:mod:`globalhook.testrecords`) holds, per test, the module globals it read
at run time (in its own phases, in the wider-scope fixtures it used and
while its test file was collected), the names it found missing, its static
roots (its own function or class, its fixtures, its conftest files), the
environment variables it read (as a digest), and its outcome; per module,
the digest of every definition (:mod:`globalhook.definitions`).

A test is selected when it is new, failed or was not recorded, or when a
path from what it depends on reaches a definition whose digest is not the
same now.  Paths follow three kinds of dependency:

- a name read at run time (``R``): its own digest, its class members, and
  whatever was evaluated to make its value at import time;
- a value made at import time (``I``): all names its statements refer to,
  function bodies included (they ran then, unrecorded);
- code never tracked at run time (``S``: test modules outside the tracked
  packages): like ``I``, switching to ``R`` where an import leads into a
  tracked module, whose run-time reads are recorded.

Safety first: a name read that no static definition explains depends on
its whole module; a change of Python or of the installed distributions
selects every test.
"""

from __future__ import annotations

import os

from .testrecords import environment_variables_digest  # noqa: F401 (kept importable from here)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

    from .definitions import Definition

__all__ = ["Selector", "Decision", "KEY", "malformed"]

#: The top-level key of the data file that selection owns.
KEY = "selection"

_RUN, _IMPORT, _STATIC = "R", "I", "S"
_CREATION_HOOKS = frozenset(("__init_subclass__", "__new__", "__init__"))

_UNKNOWN = object()
_DUNDERS = frozenset(("__name__", "__file__", "__spec__", "__loader__", "__package__", "__path__", "__cached__",
                      "__builtins__", "__dict__", "__annotations__", "__doc__"))


#: The keys of the ``selection`` object whose values are objects (``tests`` and ``modules`` must be there).
_OBJECTS = ("tests", "modules", "collect", "fixtures")


def malformed(selection: object) -> "Optional[str]":
    """The first key of a ``selection`` object that is not as written (``selection.tests``), or None.

    A value that is not an object would make every decision "new test" or
    "not fingerprinted": every test runs, safe but silent; the caller says so.
    """
    if not isinstance(selection, dict):
        return KEY
    for key in _OBJECTS:
        value = selection.get(key)
        if value is None and key in ("collect", "fixtures"):
            continue
        if not isinstance(value, dict):
            return f"{KEY}.{key}"
        for name, record in value.items():
            if not isinstance(record, dict):
                from .printable import printable

                return f"{KEY}.{key}[{printable(repr(name))}]"
    return None


class Decision:
    """Whether one test must run, and why (one line per step of the path)."""

    __slots__ = ("run", "why")

    def __init__(self, run: bool, why: "List[str]") -> None:
        self.run = run
        self.why = why


class Selector:
    """Decides for the tests of ``selection`` (the data's ``selection`` object) against the sources now.

    ``root`` is the folder that module files were recorded relative to (the
    pytest root).  Module sources are read and fingerprinted once, when a
    decision first needs them.
    """

    def __init__(self, selection: "Dict[str, Any]", root: str, environment: "Optional[str]" = None) -> None:
        self.root = root
        self.old_modules: Dict[str, Any] = _object(selection.get("modules"))
        self.tests: Dict[str, Any] = _object(selection.get("tests"))
        self.collect: Dict[str, Any] = _object(selection.get("collect"))
        self.fixtures: Dict[str, Any] = _object(selection.get("fixtures"))
        self.environment_changed = environment is not None and selection.get("environment") != environment
        self._new: Dict[str, Optional[Dict[str, Definition]]] = {}
        #: mode -> module -> names as recorded (one string) of which every name was found unaffected.
        self._unaffected: Dict[str, Dict[str, Set[str]]] = {}
        self._collected: Dict[str, Dict[str, Any]] = {}
        self._memo: Dict[Tuple[str, str, str], Optional[List[str]]] = {}
        self._whole: Dict[str, Optional[str]] = {}
        self._files: Optional[Dict[str, str]] = None
        self._stats: Dict[str, bool] = {}
        self._any_changed: Optional[bool] = None
        self._members: Dict[Tuple[str, str], List[str]] = {}
        self._read_memo: Dict[Tuple[str, str, str], Optional[List[str]]] = {}
        self._registrations: Optional[Dict[Tuple[str, str], List[Tuple[str, str]]]] = None
        self._wrappers: Dict[Tuple[str, str], Optional[List[Tuple[str, str]]]] = {}
        self._escapes: Dict[str, Any] = {}

    # -- the sources now -----------------------------------------------------------------

    def new_definitions(self, module: str) -> "Optional[Dict[str, Definition]]":
        """The module's definitions now; None when its file is gone or unreadable (all removed)."""
        if module in self._new:
            return self._new[module]
        from .definitions import file_definitions

        record = self.old_modules.get(module)
        path = record.get("file") if isinstance(record, dict) else None
        found = None
        if isinstance(path, str) and path:
            full = path if os.path.isabs(path) else os.path.join(self.root, path)
            refs = record.get("refs")
            if self.unchanged_file(module) and isinstance(refs, dict):
                from .definitions import decode_refs

                found = decode_refs(self.old_definitions(module), refs)
            elif self.unchanged_file(module):
                found = file_definitions(full, _module_name(module), digests=False)
                if found is not None:
                    old = self.old_definitions(module)
                    for name, definition in found.items():
                        definition.digest = old.get(name, "")
            else:
                found = file_definitions(full, _module_name(module))
        self._new[module] = found
        return found

    def unchanged_file(self, module: str) -> bool:
        """The module's file has the size and time it had when recorded: its digests are the same."""
        found = self._stats.get(module)
        if found is None:
            record = self.old_modules.get(module)
            path = record.get("file") if isinstance(record, dict) else None
            found = False
            if isinstance(path, str) and path and isinstance(record.get("stat"), list):
                full = path if os.path.isabs(path) else os.path.join(self.root, path)
                try:
                    info = os.stat(full)
                except OSError:
                    info = None
                found = info is not None and [info.st_size, info.st_mtime_ns] == record["stat"]
            self._stats[module] = found
        return found

    def any_file_changed(self) -> bool:
        """Whether any recorded module's file differs now (if none does, no definition changed)."""
        if self._any_changed is None:
            self._any_changed = not all(self.unchanged_file(module) for module in self.old_modules)
        return self._any_changed

    def old_definitions(self, module: str) -> "Dict[str, str]":
        record = self.old_modules.get(module)
        defs = record.get("defs") if isinstance(record, dict) else None
        return defs if isinstance(defs, dict) else {}

    def tracked(self, module: str) -> bool:
        record = self.old_modules.get(module)
        return bool(isinstance(record, dict) and record.get("tracked"))

    def _changed(self, module: str, name: str) -> bool:
        if self.unchanged_file(module):
            return False
        new = self.new_definitions(module) or {}
        old = self.old_definitions(module)
        definition = new.get(name)
        return (definition.digest if definition is not None else None) != old.get(name)

    def whole_module_change(self, module: str) -> "Optional[str]":
        """A definition of ``module`` that changed (or "" for the module gone); None when none did."""
        if module in self._whole:
            return self._whole[module]
        new = self.new_definitions(module)
        old = self.old_definitions(module)
        found: Optional[str] = None
        if new is None:
            found = ""
        else:
            for name in sorted(set(new) | set(old)):
                if self._changed(module, name):
                    found = name
                    break
        self._whole[module] = found
        return found

    # -- the graph -----------------------------------------------------------------------

    def _defined(self, module: str, name: str) -> bool:
        return name in (self.new_definitions(module) or {}) or name in self.old_definitions(module)

    def _resolve(self, module: str, ref: str, depth: int = 0) -> "List[Tuple[str, str]]":
        """The definitions that ``ref`` (``name`` or ``name.attr``) in ``module`` stands for."""
        if module not in self.old_modules or depth > 20:
            return []
        name, _, attr = ref.partition(".")
        if attr:
            found = []
            for target, imported in self._import_targets(module, name):
                target_module = target if imported is None else f"{target}.{imported}"
                if target_module in self.old_modules and self._defined(target_module, attr):
                    found.append((target_module, attr))
            return found
        if self._defined(module, name):
            return [(module, name)]
        found = []
        for target, imported in self._import_targets(module, "@effects"):
            if imported == "*":
                found.extend(self._resolve(target, name, depth + 1))
        return found

    def _import_targets(self, module: str, name: str) -> "List[Tuple[str, Optional[str]]]":
        definition = (self.new_definitions(module) or {}).get(name)
        return list(definition.imports) if definition is not None else []

    def _edges(self, mode: str, module: str, name: str) -> "Iterable[Tuple[str, str, str]]":
        definition = (self.new_definitions(module) or {}).get(name)
        for owner, registered in self._registered_into(module, name):
            # Code of another module stored it here at import: reached through this name, called later.
            yield self._mode_for(_STATIC if mode == _STATIC else _RUN, owner), owner, registered
        for member in self._members_of(module, name, definition):
            yield mode, module, member
        if name != "@effects" and "." not in name:
            yield _IMPORT, module, "@effects"
        if definition is None:
            return
        # What was only loaded at import counts as read; what was called there ran unrecorded.
        for ref in sorted(definition.run):
            inner = _STATIC if mode == _STATIC else (_IMPORT if ref in definition.calls else _RUN)
            for target in self._resolve(module, ref):
                if target != (module, name):
                    yield self._mode_for(inner, target[0]), target[0], target[1]
        if mode != _RUN:
            for ref in sorted(definition.body - definition.run):
                for target in self._resolve(module, ref):
                    if target != (module, name):
                        yield self._mode_for(mode, target[0]), target[0], target[1]
        for target, imported in definition.imports:
            if imported is None or imported == "*" or target not in self.old_modules:
                continue
            if self._defined(target, imported):
                yield self._mode_for(mode, target), target, imported

    def _registered_into(self, module: str, name: str) -> "List[Tuple[str, str]]":
        """What other modules registered through code of ``module`` that may store into ``name``.

        Built once, from every module's ``@registered`` (see
        :func:`globalhook.definitions.add_registrations`): the registering code
        is followed through the names its module's definitions refer to (a
        function's body, what made an object, a class's methods); each name
        reached may hold what was registered.
        """
        if self._registrations is None:
            from .definitions import REGISTERED

            self._registrations = {}
            for owner in sorted(self.old_modules):
                found = (self.new_definitions(owner) or {}).get(REGISTERED)
                if found is None:
                    continue
                registered = [(owner, r) for r in sorted(found.run) if self._defined(owner, r)]
                for where, container in self._registering_reach(found.imports):
                    self._registrations.setdefault((where, container), []).extend(registered)
        return self._registrations.get((module, name), [])

    def _registering_reach(self, imports: "Iterable[Tuple[str, Optional[str]]]") -> "Set[Tuple[str, str]]":
        """Where registering code of other modules may store what it is given.

        Code read in its module as a wrapper (:meth:`_wrapper`: it stores what
        it decorates nowhere there) leads only to the code of other modules it
        gives it to; any other code (or a wrapper given more than constants,
        marked ``()``) to every name it reaches (:meth:`_reachable`).
        """
        found: Set[Tuple[str, str]] = set()
        seen: Set[Tuple[str, str]] = set()
        todo = [(target, dotted or "") for target, dotted in imports]
        while todo:
            module, dotted = todo.pop()
            if (module, dotted) in seen:
                continue
            seen.add((module, dotted))
            plain = not dotted.endswith("()")
            dotted = dotted if plain else dotted[:-2]
            home, name = module, dotted
            head, _, tail = dotted.partition(".")
            if tail and f"{module}.{head}" in self.old_modules:  # from pkg import registry; @registry.register
                home, name = f"{module}.{head}", tail
            leads = self._wrapper(home, name) if plain else None
            if leads is not None:
                todo.extend(leads)
                continue
            found |= self._reachable(module, dotted)
        return found

    def _wrapper(self, module: str, name: str) -> "Optional[List[Tuple[str, str]]]":
        """The code of other modules that ``module:name`` gives what it decorates (or is made from) to, when
        its source says it stores it nowhere in its module (:mod:`globalhook.registering`); else None."""
        key = (module, name)
        if key in self._wrappers:
            return self._wrappers[key]
        found: Optional[List[Tuple[str, str]]] = None
        escapes = self._escapes_of(module) if module in self.old_modules else None
        if escapes is not None and (name in escapes.functions or name in escapes.classes):
            from .definitions import imported_targets
            from .registering import FOREIGN

            where = escapes.of_decorator(name) if name in escapes.functions else escapes.of_class(name)
            if all(e.startswith(FOREIGN) for e in where):
                defs = self.new_definitions(module) or {}
                found = [t for e in sorted(where) for t in imported_targets(e[len(FOREIGN):], defs, escapes.imported)]
        self._wrappers[key] = found
        return found

    def _escapes_of(self, module: str) -> "Optional[Any]":
        """The module's source now, read for what its functions do with their arguments (once per module)."""
        if module in self._escapes:
            return self._escapes[module]
        found = None
        record = self.old_modules.get(module)
        path = record.get("file") if isinstance(record, dict) else None
        defs = self.new_definitions(module)
        if isinstance(path, str) and path and defs is not None:
            import ast

            from .registering import Escapes

            full = path if os.path.isabs(path) else os.path.join(self.root, path)
            try:
                with open(full, "rb") as stream:
                    tree = ast.parse(stream.read(), full)
            except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
            if tree is not None:
                imported = {n for n, d in defs.items() if d.imports and not n.startswith("@")}
                found = Escapes(tree.body, imported)
        self._escapes[module] = found
        return found

    def _reachable(self, module: str, dotted: str) -> "Set[Tuple[str, str]]":
        """The names of ``module`` (and of modules it imports them from) that code named ``dotted`` leads to."""
        head, _, tail = dotted.partition(".")
        if tail and f"{module}.{head}" in self.old_modules:  # from pkg import registry; @registry.register
            module, dotted = f"{module}.{head}", tail
            head, _, tail = dotted.partition(".")
        if tail.rpartition(".")[2] in _CREATION_HOOKS:  # Base.__init_subclass__, Meta.__init__: that method only
            head = self._creation_hook(module, dotted)
            if head is None:
                return set()
        seen: Set[Tuple[str, str]] = set()
        todo = [(module, head)]
        while todo:
            where, ref = todo.pop()
            defs = (self.new_definitions(where) or {}) if where in self.old_modules else {}
            key = ref if ref in defs else ref.partition(".")[0]
            definition = defs.get(key)
            if definition is None or (where, key) in seen:
                continue
            seen.add((where, key))
            todo.extend((where, r) for r in definition.body | definition.run)
            todo.extend((where, member) for member in definition.members)
            attr = ref.partition(".")[2].partition(".")[0]
            for target, imported in definition.imports:  # an import binding: where it leads
                if imported is None:
                    if attr:
                        todo.append((target, attr))
                elif imported != "*":
                    todo.append((target, imported))
                    if attr:
                        todo.append((f"{target}.{imported}", attr))
        return seen

    def _creation_hook(self, module: str, dotted: str) -> "Optional[str]":
        """``Class.hook`` as defined in ``module`` on the class or the first base (of the module) that has it."""
        defs = self.new_definitions(module) or {}
        owner, _, hook = dotted.rpartition(".")
        todo, seen = [owner], set()
        while todo:
            current = todo.pop(0)
            if current in seen or current not in defs:
                continue
            seen.add(current)
            if f"{current}.{hook}" in defs:
                return f"{current}.{hook}"
            todo.extend(sorted(defs[current].run))  # its bases (and what else its header loads)
        return None

    def _members_of(self, module: str, name: str, definition: "Optional[Definition]") -> "List[str]":
        """A class's members, then and now (a removed method is a change too)."""
        key = (module, name)
        found = self._members.get(key)
        if found is None:
            if (module, "") not in self._members:
                index: Dict[str, Set[str]] = {}
                for member in self.old_definitions(module):
                    owner, dot, _ = member.rpartition(".")
                    if dot:
                        index.setdefault(owner, set()).add(member)
                self._members[(module, "")] = []
                for owner, members in index.items():
                    self._members[(module, owner)] = sorted(members)
            found = set(self._members.get(key) or ())
            if definition is not None:
                found.update(definition.members)
            found = self._members[key] = sorted(found)
        return found

    def _mode_for(self, mode: str, module: str) -> str:
        """Static code leads into a tracked module: from there on its run-time reads are recorded."""
        return _RUN if mode == _STATIC and self.tracked(module) else mode

    def node_change(self, mode: str, module: str, name: str) -> "Optional[List[str]]":
        """The path from ``module:name`` to a changed definition, or None when nothing it depends on changed.

        A depth-first search without recursion (a registry can tie most of a
        module into one cycle, hundreds of nodes deep); each cycle is settled
        as a whole once its first node is done (Tarjan's strongly connected
        components), so no node is searched twice in one selection.
        """
        start = (mode, module, name)
        if start in self._memo:
            return self._memo[start]
        index: Dict[Tuple[str, str, str], int] = {}
        low: Dict[Tuple[str, str, str], int] = {}
        open_nodes: List[Tuple[str, str, str]] = []
        frames: List[Tuple[Tuple[str, str, str], Iterator[Tuple[str, str, str]]]] = []

        def enter(node: "Tuple[str, str, str]") -> "Optional[List[str]]":
            if self._changed(node[1], node[2]):
                found = self._memo[node] = [f"{node[1]}:{node[2]} ({_how(self, node[1], node[2])})"]
                return found
            index[node] = low[node] = len(index)
            open_nodes.append(node)
            frames.append((node, iter(self._edges(*node))))
            return None

        found = enter(start)
        while frames and found is None:
            node, edges = frames[-1]
            for edge in edges:
                if edge in self._memo:
                    found = self._memo[edge]
                    if found is not None:
                        break
                elif edge in index:  # open: on the path, or in a cycle not settled yet
                    low[node] = min(low[node], index[edge])
                else:
                    found = enter(edge)
                    break
            else:  # done, nothing changed below it
                frames.pop()
                if frames:
                    parent = frames[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:  # the first node of its cycle: the whole cycle is settled
                    while True:
                        settled = open_nodes.pop()
                        self._memo[settled] = None
                        if settled == node:
                            break
        if found is None:
            return None
        for node, _ in reversed(frames):  # each node on the path leads to the change
            found = self._memo[node] = [f"{node[1]}:{node[2]}"] + found
        return found

    # -- tests ---------------------------------------------------------------------------

    def decide(self, test: str, live_roots: "Iterable[Tuple[str, str]]" = ()) -> Decision:
        """Must ``test`` run?  ``live_roots`` are its roots as collected now (added to the recorded ones)."""
        record = self.tests.get(test)
        if not isinstance(record, dict):
            return Decision(True, ["new test (not in the data)"])
        outcome = record.get("outcome")
        if outcome != "passed" and outcome != "skipped":
            return Decision(True, [f"{outcome or 'unfinished'} last time"])
        if self.environment_changed:
            return Decision(True, ["Python or the installed distributions changed"])
        if self._module_of_file(test.split("::", 1)[0]) is None:
            return Decision(True, ["its file was not fingerprinted when it was recorded"])
        live_roots = list(live_roots)
        for module, _ in live_roots:
            if module not in self.old_modules and _is_conftest(module):
                return Decision(True, [f"{test} -> uses {module}, a conftest file not recorded then"])
        why = _environment_change(record)  # before the shortcut below: no file needs to change for this
        if why is not None:
            return Decision(True, why)
        if not self.any_file_changed():
            return Decision(False, ["nothing it read or runs changed (no module file changed)"])
        for reads, where, mode in self._read_sets(test, record):
            why = self._reads_change(reads, where, mode)
            if why is not None:
                return Decision(True, [f"{test} -> {why[0]}"] + why[1:])
        roots = {r.rpartition(":")[::2] for r in _names(record.get("roots")) if ":" in r}
        roots.update(tuple(r) for r in live_roots)
        for module, name in sorted(roots):  # type: ignore[misc]
            if module not in self.old_modules:
                continue
            if name == "*":
                changed = self.whole_module_change(module)
                if changed is not None:
                    return Decision(True, [f"{test} -> uses {module} -> {module}:{changed or '(module)'} (changed)"])
                continue
            mode = _RUN if self.tracked(module) else _STATIC
            path = self.node_change(mode, module, name)
            if path is not None:
                return Decision(True, [f"{test} -> its code {' -> '.join(path)}"])
        return Decision(False, ["nothing it read or runs changed"])

    def still_left_out(self, test: str) -> bool:
        """Would ``test``, which :meth:`decide` left out, be left out again now?

        Without deciding again: each module's source is read once per
        selector, so of what the decision took in, only the environment
        variables the test read can differ now (a test that ran since may
        have set one).
        """
        return _environment_change(_object(self.tests.get(test))) is None

    def _read_sets(self, test: str, record: "Dict[str, Any]") -> "Iterable[Tuple[Dict[str, Any], str]]":
        yield record, "reads", _RUN
        path = test.split("::", 1)[0]
        collected = self.collect.get(path)
        if isinstance(collected, dict):
            # What was read there may have been called there, unrecorded: followed as import-time values.
            kept = self._collected.get(path)
            if kept is None:
                kept = self._collected[path] = self._without_imports(path, collected)  # the same for all its tests
            yield kept, "its file's code read", _IMPORT
        for label in _names(record.get("fixtures")):
            fixture = self.fixtures.get(label)
            if isinstance(fixture, dict):
                yield fixture, f"reads in fixture {label.rpartition('|')[0]}", _RUN

    def _without_imports(self, path: str, reads: "Dict[str, Any]") -> "Dict[str, Any]":
        """Collection reads less those an import statement of the test file made (``from m import f``):
        static edges from the test's own code cover those, for the names its code uses."""
        module = self._module_of_file(path)
        if module is None:
            return reads
        imported: Set[Tuple[str, Optional[str]]] = set()
        for name, definition in (self.new_definitions(module) or {}).items():
            if name != "@registered":  # its imports are registering code, not import statements
                imported.update(definition.imports)
        kept: Dict[str, str] = {}
        for owner, names in _object(reads.get("reads")).items():
            left = [n for n in _names(names) if (owner, n) not in imported]
            if left:
                kept[owner] = " ".join(left)
        return {"reads": kept, "absent": reads.get("absent")}

    def _module_of_file(self, path: str) -> "Optional[str]":
        if self._files is None:
            self._files = {}
            for key, record in self.old_modules.items():
                if isinstance(record, dict) and isinstance(record.get("file"), str):
                    self._files[record["file"]] = key
        return self._files.get(path)

    def _reads_change(self, record: "Dict[str, Any]", where: str, mode: str = "R") -> "Optional[List[str]]":
        if not record.get("absent") and self._known_unaffected(_object(record.get("reads")), mode):
            return None  # what the loops below find, without sorting or splitting anything
        for module, names in sorted(_object(record.get("absent")).items()):
            if module not in self.old_modules:
                continue
            for name in _names(names):
                if self._defined(module, name) and self._changed(module, name):
                    return [f"{where} {module}:{name} (not defined then: now it is)"]
        memo = self._read_memo
        unaffected = self._unaffected.setdefault(mode, {})
        for module, names in sorted(_object(record.get("reads")).items()):
            if type(names) is str and names in unaffected.get(module, ()):
                continue  # every name already found unaffected (for another test)
            if module not in self.old_modules:
                if type(names) is str:
                    unaffected.setdefault(module, set()).add(names)
                continue
            for name in _names(names):
                key = (mode, module, name)
                found = memo.get(key, _UNKNOWN)
                if found is _UNKNOWN:
                    found = memo[key] = self._read_change(module, name, mode)
                if found is not None:
                    return [f"{where} {found[0]}"] + found[1:]
            if type(names) is str:
                unaffected.setdefault(module, set()).add(names)
        return None

    def _known_unaffected(self, reads: "Dict[str, Any]", mode: str) -> bool:
        """Every (module, names) of ``reads`` was found unaffected for an earlier test (memos only grow)."""
        found = self._unaffected.setdefault(mode, {}).get
        try:
            for module, names in reads.items():
                if names not in found(module, ()):
                    return False
        except TypeError:  # names not a string (a list): left to the loops
            return False
        return True

    def _read_change(self, module: str, name: str, mode: str) -> "Optional[List[str]]":
        """Why a run-time read of ``module:name`` is affected now (None: it is not)."""
        targets = [(module, name)] if self._defined(module, name) else self._resolve(module, name)
        if not targets:
            if name in _DUNDERS or f"{module}.{name}" in self.old_modules:  # a submodule: its own
                return None
            changed = self.whole_module_change(module)
            if changed is None:
                return None
            return [f"{module}:{name} (no static definition: depends on all of {module})",
                    f"{module}:{changed or '(module)'} (changed)"]
        if not self.tracked(module):
            mode = _STATIC
        for target in targets:
            path = self.node_change(self._mode_for(mode, target[0]), *target)
            if path is not None:
                return [" -> ".join(path)]
        return None


def _environment_change(record: "Dict[str, Any]") -> "Optional[List[str]]":
    """Why the environment variables a test read select it (their values differ now), or None."""
    env = record.get("env")
    if isinstance(env, dict) and env.get("digest") != environment_variables_digest(_names(env.get("names"))):
        return [f"environment variables it read changed ({', '.join(_names(env.get('names')))})"]
    return None


def _is_conftest(module: str) -> bool:
    return module.startswith("conftest@") or module == "conftest" or module.endswith(".conftest")


def _how(selector: Selector, module: str, name: str) -> str:
    new = selector.new_definitions(module)
    if new is None:
        return "module removed"
    if name not in new:
        return "removed"
    if name not in selector.old_definitions(module):
        return "added"
    return "changed"


def _module_name(key: str) -> str:
    """A conftest is kept under ``conftest@<path>`` (many share the name)."""
    return key.partition("@")[0]


def _object(value: object) -> "Dict[str, Any]":
    return value if isinstance(value, dict) else {}


def _names(value: object) -> "List[str]":
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
