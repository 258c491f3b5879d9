"""Probe: dump, as JSON on stdout, what the ``__main__`` module sees.

Run it as ``python probe.py ...`` and as ``globalhook run probe.py ...``
(or copied into a package and run with ``-m``); the tests compare the dumps.
"""

import builtins
import importlib.machinery
import inspect
import json
import os
import pickle
import re
import sys
import threading
import types

GREETING = "hi"
CALLS = 7


def read_global_and_builtin():
    return GREETING + str(len(GREETING))


def counted():
    # Called exactly CALLS times by the probe: one global and one builtin read per call.
    return len(GREETING)


class Klass:
    pass


def spec_info(spec):
    if spec is None:
        return None
    return {"name": spec.name, "origin": spec.origin, "parent": spec.parent}


def thread_reads():
    results = []

    def worker():
        results.append(read_global_and_builtin())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main():
    me = sys.modules["__main__"]
    for _ in range(CALLS):
        counted()
    return {
        "argv": sys.argv,
        "path0": sys.path[0],
        "path": sys.path,
        "cwd": os.getcwd(),
        "name": __name__,
        "file": globals().get("__file__", "<unset>"),
        "package": __package__,
        "cached": globals().get("__cached__", "<unset>"),
        "spec_repr_none": __spec__ is None,
        "spec_type": type(__spec__).__name__,
        "spec_repr": re.sub(r"0x[0-9a-fA-F]+", "0xADDR", repr(__spec__)),
        "spec": spec_info(__spec__),
        "loader_type": type(__loader__).__name__,
        "loader_is_source_file_loader": isinstance(__loader__, importlib.machinery.SourceFileLoader),
        "loader_name": getattr(__loader__, "name", None),
        "loader_path": getattr(__loader__, "path", None),
        "builtins_is_module": __builtins__ is builtins,
        "doc": __doc__,
        "read": read_global_and_builtin(),
        "getsource_first_line": inspect.getsource(read_global_and_builtin).splitlines()[0],
        "getfile": inspect.getfile(read_global_and_builtin),
        "pickle_function": pickle.loads(pickle.dumps(read_global_and_builtin)) is read_global_and_builtin,
        "pickle_class": pickle.loads(pickle.dumps(Klass)) is Klass,
        "pickle_instance": type(pickle.loads(pickle.dumps(Klass()))) is Klass,
        "main_is_module": isinstance(me, types.ModuleType),
        "main_is_this_module": me.__dict__ is globals(),
        "main_type": type(me).__name__,
        "function_globals": read_global_and_builtin.__globals__ is globals(),
        "function_module": read_global_and_builtin.__module__,
        "class_module": Klass.__module__,
        "globals_type": type(globals()).__name__,
        "threads": thread_reads(),
        "name_main_guard": __name__ == "__main__",
    }


if __name__ == "__main__":
    print(json.dumps(main(), sort_keys=True))
