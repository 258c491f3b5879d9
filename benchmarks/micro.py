"""Nanoseconds per global-name lookup: a global, a builtin and a missing name.

Each kind is a tight loop inside a function of a module loaded plain and
tracked (and, plain, under each peer).  A loop with no lookups, run the same
way, is subtracted, so what is left is the cost of the lookups alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from loading import load_twice
from peers import make_peer
from timing import interleaved

PER_ITERATION = 20  # lookups per loop iteration for globals and builtins

_SOURCE = f'''
G = 1

def empty(n):
    for _ in range(n):
        pass

def global_(n):
    for _ in range(n):
        {"; ".join(["G"] * PER_ITERATION)}

def builtin(n):
    for _ in range(n):
        {"; ".join(["len"] * PER_ITERATION)}

def missing(n):
    for _ in range(n):
        try:
            undefined_name
        except NameError:
            pass

def missing_empty(n):
    for _ in range(n):
        try:
            pass
        except NameError:
            pass
'''

KINDS = ("global", "builtin", "missing")
_FUNCTIONS = {"global": ("global_", "empty", PER_ITERATION), "builtin": ("builtin", "empty", PER_ITERATION),
              "missing": ("missing", "missing_empty", 1)}


def measure(workdir: Path, iterations: int, rounds: int, peer_kinds: List[str],
            peer_iterations: int) -> Dict[str, Dict[str, float]]:
    """kind -> {variant: ns per lookup}; variants: untracked, tracked and each peer."""
    plain, tracked = load_twice(workdir, {"gh_bench_micro": _SOURCE})["gh_bench_micro"]
    result: Dict[str, Dict[str, float]] = {}
    for kind in KINDS:
        func, base, per = _FUNCTIONS[kind]
        variants = {}
        sizes = {}
        for label, module, n in (("untracked", plain, iterations), ("tracked", tracked, iterations)):
            variants[label] = _bind(getattr(module, func), n)
            variants[label + " base"] = _bind(getattr(module, base), n)
            sizes[label] = n
        for peer_kind in peer_kinds:
            peer = make_peer(peer_kind, vars(plain))
            variants[peer_kind] = peer.wrap(_bind(getattr(plain, func), peer_iterations))
            variants[peer_kind + " base"] = peer.wrap(_bind(getattr(plain, base), peer_iterations))
            sizes[peer_kind] = peer_iterations
        medians = interleaved(variants, rounds)
        result[kind] = {
            label: max(medians[label] - medians[label + " base"], 0.0) / (n * per) * 1e9
            for label, n in sizes.items()
        }
    return result


def _bind(func, n):
    return lambda: func(n)
