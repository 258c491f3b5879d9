"""The engine's read set of one call: Recorder.code_reads and globalhook.readsets.collect."""

from __future__ import annotations

import sys
import threading

import pytest

import globalhook
from globalhook import readsets
from globalhook.tracking import RECORDER

MODULE = """\
import {other}
LIMIT = 3
FLAG = True

def inner(x):
    return x + LIMIT + {other}.VALUE

def outer(x):
    if FLAG:
        return inner(x) + len([x])
    return UNSEEN

def spin(stop):
    n = 0
    while not stop.is_set():
        n += LIMIT
    return n
"""
OTHER = "VALUE = 10\n"


@pytest.fixture
def strategy() -> str:
    return "native"  # the proxy strategy records no attribute reads (README: Known differences)


@pytest.fixture
def mods(src, install, unique):
    other = unique + "_other"
    src({f"{unique}.py": MODULE.format(other=other), f"{other}.py": OTHER})
    install(include=[unique, other])
    module = __import__(unique)
    return module, other


class TestCodeReads:
    def test_counts_per_owner_and_name(self, mods):
        m, other = mods
        m.outer(1)
        m.outer(1)
        assert RECORDER.code_reads(m.inner.__code__) == {
            (m.__name__, "LIMIT"): 2, (m.__name__, other): 2, (other, "VALUE"): 2}
        assert RECORDER.code_reads(m.outer.__code__) == {
            (m.__name__, "FLAG"): 2, (m.__name__, "inner"): 2, (m.__name__, "len"): 2}

    def test_code_that_never_read_has_none(self, mods):
        m, _ = mods
        assert RECORDER.code_reads(m.spin.__code__) == {}
        assert RECORDER.code_reads((lambda: 0).__code__) == {}


class TestCollect:
    def test_transitive_reads_of_one_call(self, mods):
        m, other = mods
        m.outer(1)  # counts before the collection must not count
        with readsets.collect() as found:
            m.outer(2)
        assert found.reads == {
            (m.__name__, "FLAG"): 1, (m.__name__, "inner"): 1, (m.__name__, "len"): 1,
            (m.__name__, "LIMIT"): 1, (m.__name__, other): 1, (other, "VALUE"): 1}
        assert found.namespaces[m.__name__] is m.__dict__
        assert sys.getprofile() is None

    def test_nested_collections_each_get_their_reads(self, mods):
        m, other = mods
        with readsets.collect() as outer:
            m.inner(1)
            with readsets.collect() as inner:
                m.outer(1)
            readsets.note_reads([("elsewhere", "NAME")])
            assert readsets.collecting()
        assert not readsets.collecting()
        assert (m.__name__, "FLAG") in inner.reads and ("elsewhere", "NAME") not in inner.reads
        assert outer.reads[(m.__name__, "LIMIT")] == 2
        assert outer.reads[("elsewhere", "NAME")] == 1

    def test_each_collection_sees_code_that_ran_before(self, mods):
        """sys.monitoring reports a code location once: the next collection must see it again."""
        m, _ = mods
        for _ in range(3):
            with readsets.collect() as found:
                m.inner(1)
            assert found.reads.get((m.__name__, "LIMIT")) == 1

    def test_another_threads_reads_are_not_this_calls(self, mods):
        m, _ = mods
        stop = threading.Event()
        worker = threading.Thread(target=m.spin, args=(stop,))
        worker.start()
        try:
            with readsets.collect() as found:
                m.inner(1)
        finally:
            stop.set()
            worker.join()
        assert found.reads[(m.__name__, "LIMIT")] == 1  # spin read it thousands of times meanwhile

    def test_another_profiler_is_refused_and_kept(self, mods):
        m, _ = mods

        def profiler(frame, event, arg):
            pass

        sys.setprofile(profiler)
        try:
            if readsets.uses_monitoring():  # no profile function needed: both work
                with readsets.collect() as found:
                    m.inner(1)
                assert (m.__name__, "LIMIT") in found.reads
            else:
                with pytest.raises(readsets.CollectError, match="another profiler"):
                    with readsets.collect():
                        pass
            assert sys.getprofile() is profiler
        finally:
            sys.setprofile(None)

    def test_the_block_runs_as_without(self, mods):
        m, _ = mods
        with readsets.collect():
            assert m.outer(1) == 15
        with pytest.raises(ZeroDivisionError):
            with readsets.collect():
                1 / 0
        assert sys.getprofile() is None and not readsets.collecting()


def test_public_names():
    assert {"cache", "dependencies", "changed_reads", "fingerprint_reads", "CacheWarning"} <= set(dir(globalhook))


class TestNamespaceVersion:
    """globalwrites.namespace_version: what lets a cache hit skip its immutable reads."""

    def test_any_write_to_a_watched_namespace_changes_it(self, mods):
        from globalhook import globalwrites

        m, _ = mods
        before = globalwrites.namespace_version()
        if not globalwrites.OBSERVED:
            assert before is None  # no dict watchers here: a cache checks every read
            return
        m.LIMIT = 4  # setattr on the module
        after_setattr = globalwrites.namespace_version()
        m.__dict__["FLAG"] = False  # a plain dict write
        after_item = globalwrites.namespace_version()
        import builtins

        globalwrites.watch(builtins.__dict__)
        builtins.__dict__["_globalhook_probe"] = 1
        del builtins.__dict__["_globalhook_probe"]
        after_builtins = globalwrites.namespace_version()
        assert before < after_setattr < after_item < after_builtins
        m.inner(1)  # reads write nothing
        assert globalwrites.namespace_version() == after_builtins
