"""Class forms, built here and described on stdout: the same under plain python and tracked.

tests/test_classbodies.py runs this file under ``python`` and under
``python -m globalhook run`` (both cores) and compares the output section by
section.  Nothing printed may depend on addresses or on the run.
"""

import abc
import collections
import dataclasses
import enum
import pickle
import sys
import threading
import traceback
import typing

G = 10
DEFAULT_TIMEOUT = 30
X = [1, 2, 3]
T = typing.TypeVar("T")
_section = None


def section(name):
    print(f"== {name}")


def value_types(mapping):
    return [(key, type(value).__name__) for key, value in mapping.items()]


def describe(cls):
    return (cls.__name__, cls.__qualname__, cls.__module__, type(cls).__name__, value_types(vars(cls)))


def frames(error):
    return [(entry.name, entry.lineno) for entry in traceback.extract_tb(error.__traceback__)]


# -- plain classes, globals, builtins, missing names ------------------------------------
section("plain")


class Config:
    timeout = DEFAULT_TIMEOUT
    n = len(X)
    label = str(G)
    try:
        nope = UNDEFINED_IN_BODY  # noqa: F821
    except NameError as error:
        caught = str(error)


print(describe(Config), Config.caught)

try:

    class Broken:
        timeout = DEFAULT_TIMEOUT
        n = len(X)
        y = UNDEFINED_NAME  # noqa: F821

except NameError as error:
    print("NameError", error, frames(error))


class Shadowing:
    len = 5
    G = G + len  # the class's own len, then the global G
    seen = (G, len)


print(describe(Shadowing), Shadowing.seen)

# -- what a metaclass sees ---------------------------------------------------------------
section("metaclass")
seen = []


class Meta(type):
    @classmethod
    def __prepare__(mcs, name, bases, **kwds):
        namespace = super().__prepare__(name, bases, **kwds)
        seen.append(("prepare", name, type(namespace).__name__, type(namespace) is dict, sorted(kwds)))
        return namespace

    def __new__(mcs, name, bases, namespace, **kwds):
        seen.append(("new", name, type(namespace) is dict, list(namespace), sorted(kwds)))
        return super().__new__(mcs, name, bases, namespace)

    def __init__(cls, name, bases, namespace, **kwds):
        seen.append(("init", name, type(namespace) is dict, sorted(kwds)))
        super().__init__(name, bases, namespace)


class WithMeta(metaclass=Meta, flag=True):
    a = G
    b = len(X)


class Derived(WithMeta, extra=1):
    c = G


print(seen)
print(describe(WithMeta), describe(Derived))


class OwnNamespace(dict):
    """A namespace class of the program's own."""


class DefaultingNamespace(dict):
    def __missing__(self, key):
        if key.startswith("auto_"):
            return key.upper()
        raise KeyError(key)


class UserMapping(collections.abc.MutableMapping):
    def __init__(self):
        self.data = {}

    def __getitem__(self, key):
        return self.data[key]

    def __setitem__(self, key, value):
        self.data[key] = value

    def __delitem__(self, key):
        del self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)


prepared = {}


def namespace_meta(make):
    class NamespaceMeta(type):
        @classmethod
        def __prepare__(mcs, name, bases, **kwds):
            namespace = make()
            prepared[name] = namespace
            return namespace

        def __new__(mcs, name, bases, namespace, **kwds):
            seen.append((name, type(namespace).__name__, namespace is prepared[name], list(namespace)))
            return super().__new__(mcs, name, bases, dict(namespace))

    return NamespaceMeta


seen.clear()


class InOwn(metaclass=namespace_meta(OwnNamespace)):
    a = G
    kind = type(locals()).__name__


class InOrdered(metaclass=namespace_meta(collections.OrderedDict)):
    a = G
    kind = type(locals()).__name__


class InDefaulting(metaclass=namespace_meta(DefaultingNamespace)):
    a = G
    b = auto_thing  # noqa: F821
    kind = type(locals()).__name__


class InUserMapping(metaclass=namespace_meta(UserMapping)):
    a = G
    b = len(X)


print(seen)
print([(cls.a, getattr(cls, "kind", None)) for cls in (InOwn, InOrdered, InDefaulting, InUserMapping)], InDefaulting.b)
print(type(InOwn.__dict__).__name__, [describe(cls) for cls in (InOwn, InOrdered, InDefaulting)])


def function_metaclass(name, bases, namespace, **kwds):
    return ("made by a function", name, type(namespace) is dict, list(namespace), sorted(kwds))


class ByFunction(metaclass=function_metaclass, size=3):
    a = G


print(ByFunction)


def with_metaclass(meta, *bases):
    """six.with_metaclass."""

    class metaclass(type):
        def __new__(cls, name, this_bases, d):
            return meta(name, bases, d)

        @classmethod
        def __prepare__(cls, name, this_bases):
            return meta.__prepare__(name, bases)

    return type.__new__(metaclass, "temporary_class", (), {})


class ViaSix(with_metaclass(abc.ABCMeta, object)):
    a = G

    @abc.abstractmethod
    def method(self):
        pass


print(describe(ViaSix), type(ViaSix).__name__, sorted(ViaSix.__abstractmethods__))

# -- errors made while making a class --------------------------------------------------
section("errors")


class MetaA(type):
    pass


class MetaB(type):
    pass


class A(metaclass=MetaA):
    pass


class B(metaclass=MetaB):
    pass


def attempt(make):
    try:
        result = make()
    except Exception as error:
        return (type(error).__name__, str(error))
    return ("made", result)


def conflict():
    class C(A, B):
        x = G

    return C


def conflict_explicit():
    class C(A, metaclass=MetaB):
        x = G

    return C


class BadPrepare(type):
    @classmethod
    def __prepare__(mcs, name, bases):
        return 42


class RaisingPrepare(type):
    @classmethod
    def __prepare__(mcs, name, bases):
        raise ValueError("no namespace today")


class NotAMetaclass:
    @staticmethod
    def __prepare__(name, bases):
        return [1, 2]

    def __call__(self, *args):
        return args


def bad_prepare():
    class C(metaclass=BadPrepare):
        pass


def bad_prepare_not_a_class():
    class C(metaclass=NotAMetaclass()):
        pass


def deque_namespace():
    class DequeMeta(type):
        @classmethod
        def __prepare__(mcs, name, bases):
            return collections.deque()

    class C(metaclass=DequeMeta):
        pass


def raising_prepare():
    class C(metaclass=RaisingPrepare):
        pass


def metaclass_none():
    class C(metaclass=None):
        x = G

    return C


def bad_keyword():
    class C(flavour=1):
        pass


def bad_base():
    class C(1):
        pass


def class_cell_not_propagated():
    class Meta(type):
        def __new__(mcs, name, bases, namespace):
            namespace = dict(namespace)
            namespace.pop("__classcell__", None)
            return super().__new__(mcs, name, bases, namespace)

    class C(metaclass=Meta):
        def method(self):
            return __class__

    return C


for make in (
    conflict,
    conflict_explicit,
    bad_prepare,
    bad_prepare_not_a_class,
    deque_namespace,
    raising_prepare,
    metaclass_none,
    bad_keyword,
    bad_base,
    class_cell_not_propagated,
):
    print(make.__name__, attempt(make))

# -- the protocol hooks ---------------------------------------------------------------
section("hooks")
calls = []


class Named:
    def __set_name__(self, owner, name):
        calls.append(("set_name", owner.__name__, name))


class Base:
    def __init_subclass__(cls, /, **kwds):
        calls.append(("init_subclass", cls.__name__, sorted(kwds.items())))
        super().__init_subclass__()


class Child(Base, colour="red", size=G):
    field = Named()
    other = Named()


class WithSuper(Child, colour="blue"):
    def who(self):
        return (__class__.__name__, super().who() if hasattr(super(), "who") else None)

    def plain_super(self):
        return super().__class__.__name__


print(calls, WithSuper().who(), WithSuper().plain_super(), "__classcell__" in vars(WithSuper))


class Slotted:
    __slots__ = ("a", "b")
    limit = G


print(describe(Slotted), Slotted.__slots__)


class Entries:
    def __mro_entries__(self, bases):
        return (Base,)


class FromEntries(Entries(), note="x"):
    pass


print(describe(FromEntries), [b.__name__ for b in FromEntries.__bases__], type(FromEntries.__orig_bases__[0]).__name__)


class Annotated:
    x: int = G
    y: "typing.List[int]"
    z: typing.Optional[str] = None


print(describe(Annotated), sorted(typing.get_type_hints(Annotated)))


class Body:
    values = list(locals())
    is_mapping = isinstance(locals(), dict)
    same = locals() is locals()
    via_vars = sorted(vars())
    try:
        locals()["absent"]
    except KeyError as error:
        missing = (type(error).__name__, error.args)
    __qualname__ = "Renamed"
    temporary = 1
    del temporary


print(describe(Body), Body.values, Body.is_mapping, Body.same, Body.via_vars, Body.missing)

# -- dataclasses -------------------------------------------------------------------------
section("dataclasses")


@dataclasses.dataclass
class Point:
    x: int = G
    y: int = dataclasses.field(default_factory=lambda: len(X))


@dataclasses.dataclass(frozen=True, order=True)
class Frozen:
    a: int = DEFAULT_TIMEOUT


print(describe(Point), Point(), describe(Frozen), Frozen() < Frozen(a=40))
if sys.version_info >= (3, 10):
    exec(
        "@dataclasses.dataclass(slots=True)\n"
        "class WithSlots:\n"
        "    a: int = G\n"
        "    def total(self):\n"
        "        return type(self).__name__, self.a\n",
        globals(),
    )
    print(describe(WithSlots), WithSlots.__slots__, WithSlots().total())  # noqa: F821

# -- enums -------------------------------------------------------------------------------
section("enums")


class Color(enum.Enum):
    RED = G
    GREEN = enum.auto()
    BLUE = len(X)

    def describe(self):
        return self.name


class Perm(enum.IntFlag):
    R = 4
    W = 2
    X = 1
    RW = R | W


print(describe(Color), list(Color), [m.value for m in Color], Color(10), Color.GREEN.describe())
print(describe(Perm), [m.name for m in Perm], Perm.R | Perm.X, Perm.RW.value)
try:

    class Clash(enum.Enum):
        A = 1
        A = 2

except TypeError as error:
    print("enum clash", error)

# -- typing ------------------------------------------------------------------------------
section("typing")


class Pair(typing.NamedTuple):
    left: int
    right: int = G


class Movie(typing.TypedDict, total=False):
    title: str
    year: int


class Box(typing.Generic[T]):
    item: T


@typing.runtime_checkable
class Closable(typing.Protocol):
    def close(self) -> None: ...


class File:
    def close(self):
        pass


print(describe(Pair), Pair(1), Pair._fields, Pair._field_defaults)
print(Movie.__name__, sorted(Movie.__annotations__), Movie.__total__, type(Movie(title="x")).__name__)
print(describe(Box), Box.__parameters__, Box[int].__args__, [type(b).__name__ for b in Box.__orig_bases__])
print(isinstance(File(), Closable), Closable.__name__, sorted(k for k in vars(Closable) if not k.startswith("_abc")))
if sys.version_info >= (3, 12):
    exec("class Generic612[U]:\n    item: U\n    limit = G\n", globals())
    print(describe(Generic612), Generic612.__type_params__)  # noqa: F821

# -- nesting, functions, exec ------------------------------------------------------------
section("nesting")


class Outer:
    a = G

    class Inner:
        b = len(X)

        class Innermost:
            c = DEFAULT_TIMEOUT


def make(closure_value):
    hidden = closure_value * 2

    class InFunction:
        a = closure_value
        b = hidden + G
        c = [hidden for _ in range(2)]

        def method(self):
            return hidden

    return InFunction


made = make(4)
print(describe(Outer.Inner.Innermost), Outer.Inner.Innermost.__qualname__, made.a, made.b, made.c, made().method())
namespace = {"G": 5}
exec("class FromExec:\n    x = G\n", globals())
exec("class InOther:\n    x = G\n", namespace)
print(describe(FromExec), FromExec.x, namespace["InOther"].x)  # noqa: F821


class GlobalDeclared:
    global DECLARED
    DECLARED = G
    read = DECLARED


print(DECLARED, GlobalDeclared.read)  # noqa: F821


def generator():
    for i in range(2):

        class Yielded:
            index = i
            limit = G

        yield Yielded


print([(cls.index, cls.limit) for cls in generator()])

made_in_threads = []


def in_thread(i):
    for _ in range(20):

        class Threaded:
            number = i
            limit = G

        made_in_threads.append((Threaded.number, Threaded.limit))


threads = [threading.Thread(target=in_thread, args=(i,)) for i in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(set(made_in_threads)), len(made_in_threads))


class Pickled:
    limit = G


print(pickle.loads(pickle.dumps(Pickled)) is Pickled, type(pickle.loads(pickle.dumps(Pickled()))).__name__)

# -- tracebacks (the pure-Python core adds a frame before 3.11) --------------------------
section("tracebacks")


def body_raises():
    class Raising:
        a = G
        raise LookupError("from the body")


def metaclass_raises():
    class Refusing(type):
        def __new__(mcs, name, bases, namespace):
            raise RuntimeError("refused")

    class C(metaclass=Refusing):
        a = G


for make in (body_raises, metaclass_raises, conflict, raising_prepare):
    try:
        make()
    except Exception as error:
        print(make.__name__, type(error).__name__, frames(error), error.__context__, error.__cause__)

# -- the frame a class body sees above it, and the builtin itself (compiled core only) --
section("frames")


class Above:
    caller = sys._getframe(1).f_code.co_name


class FrameMeta(type):
    def __new__(mcs, name, bases, namespace):
        namespace["caller"] = sys._getframe(1).f_code.co_name
        return super().__new__(mcs, name, bases, namespace)


class MetaAbove(metaclass=FrameMeta):
    pass


print(Above.caller, MetaAbove.caller)
print(repr(__build_class__), __build_class__.__name__, __build_class__.__qualname__, __build_class__.__module__)
print(getattr(__build_class__, "__self__", None), __build_class__.__doc__ == __build_class__.__doc__, type(__build_class__).__name__)
print(pickle.loads(pickle.dumps(__build_class__)) is __build_class__)
