"""The completeness probe's owner module: every place Python can read a global.

Each global below is read in exactly one place, so the data file says, name
by name, which places globalhook observed.  tools/completeness.py runs it.
"""

import collections
import enum

P_FUNCTION = P_LAMBDA = P_LISTCOMP = P_GENEXP = P_GENERATOR = P_COROUTINE = 1
P_CLASS_BODY = P_NESTED_CLASS = P_PREPARE_CLASS = P_ENUM_BODY = P_EXEC_CLASS = P_ORDERED_CLASS = 1
P_DEFAULT = P_DECORATOR = P_ANNOTATION = P_MODULE_LEVEL = P_EXEC = 1
P_EVAL_LOCALS = P_CONTAINS = P_GET = 1
P_ATTRIBUTE = P_ATTRIBUTE_UNTRACKED = P_GETATTR = P_HASATTR = P_FROM_IMPORT = 1
P_COUNTER = 0  # STORE_GLOBAL at module level too: inc() declares it global
P_DELETED = 1
P_SETATTR = 0
P_SAME = None  # rebound to the object it already holds
P_EXEC_WRITE = 0


def read_function():
    return P_FUNCTION


read_lambda = lambda: P_LAMBDA  # noqa: E731


def read_listcomp():
    return [P_LISTCOMP for _ in range(1)]


def read_genexp():
    return sum(P_GENEXP for _ in range(1))


def read_generator():
    yield P_GENERATOR


async def read_coroutine():
    return P_COROUTINE


def read_builtin():
    return len("x")


def read_missing():
    try:
        return P_UNDEFINED  # noqa: F821
    except NameError:
        return None


class ClassBody:
    value = P_CLASS_BODY


class Outer:
    class Inner:
        value = P_NESTED_CLASS


class _Namespace(dict):
    pass


class _Meta(type):
    @classmethod
    def __prepare__(mcs, name, bases, **kwargs):
        return _Namespace()

    def __new__(mcs, name, bases, namespace, **kwargs):
        return super().__new__(mcs, name, bases, dict(namespace))


class PreparedClass(metaclass=_Meta):
    value = P_PREPARE_CLASS


class _OrderedMeta(type):
    @classmethod
    def __prepare__(mcs, name, bases, **kwargs):
        return collections.OrderedDict()


class OrderedClass(metaclass=_OrderedMeta):
    value = P_ORDERED_CLASS


class Colour(enum.Enum):
    RED = P_ENUM_BODY


def _decorate(value):
    return lambda func: func


def with_default(a=P_DEFAULT):
    return a


@_decorate(P_DECORATOR)
def decorated():
    return None


def annotated(x: P_ANNOTATION):  # noqa: F821 - evaluated at def time (lazily from 3.14)
    return x


_at_module_level = P_MODULE_LEVEL
exec("_in_exec = P_EXEC", globals())
exec("class ExecClass:\n    value = P_EXEC_CLASS\n", globals())


def inc():
    global P_COUNTER
    P_COUNTER += 1


def drop():
    global P_DELETED
    del P_DELETED


def eval_with_locals():
    return eval("P_EVAL_LOCALS")


def contains():
    return "P_CONTAINS" in globals()


def get():
    return globals().get("P_GET")


def rebind_same():
    global P_SAME
    P_SAME = None


exec("def write_in_exec():\n    global P_EXEC_WRITE\n    P_EXEC_WRITE = 1\n", globals())
