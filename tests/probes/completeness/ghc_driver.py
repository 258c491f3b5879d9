"""Runs every place of the completeness probe once (the program globalhook runs)."""

import sys
import typing

import ghc_future
import ghc_probe as p
import ghc_reader
import ghc_untracked

p.read_function()
p.read_lambda()
p.read_listcomp()
p.read_genexp()
list(p.read_generator())
try:
    p.read_coroutine().send(None)
except StopIteration:
    pass
p.read_builtin()
p.read_missing()
p.annotated.__annotations__  # evaluates lazy annotations (3.14+)
typing.get_type_hints(ghc_future.annotated)
p.inc()
p.drop()
p.rebind_same()
p.write_in_exec()
p.eval_with_locals()
p.contains()
p.get()
ghc_reader.read_attribute()
ghc_reader.read_getattr()
ghc_reader.read_hasattr()
ghc_reader.write_attribute()
ghc_untracked.read_attribute()
if sys.version_info >= (3, 12):
    import ghc_params

    ghc_params.Box.__type_params__[0].__bound__
