"""Independent jobs spread over forked worker processes, where that is safe.

The HTML report writes thousands of pages that share one read-only model:
forked workers see that model without pickling anything, and each writes its
own pages.  Forking is used only on Linux, in a process with one thread (a
fork with other threads running can deadlock the child: a lock one of them
held stays locked in the child forever), and never for small work; everywhere
else the jobs simply run here, one by one, and write the same pages.  Not
``forkserver`` or ``spawn`` instead: their workers would have to be sent the
whole model, which is what forking saves.  A worker that
fails is not trusted: its jobs run again in this process, so an error is
raised here, with its real message, exactly as without workers.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Callable, List, Optional, Sequence, Tuple

__all__ = ["default_jobs", "run_jobs"]

Job = Callable[[], None]


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _threads() -> int:
    """The threads of this process as the system counts them.

    ``threading.active_count()`` knows only the threads ``threading`` started
    or has seen: one started with ``_thread.start_new_thread`` (execnet, under
    pytest-xdist, starts its reader so) or by C code is missing there, and a
    fork beside it is just as unsafe (CPython 3.12+ warns about it, from the
    same count).
    """
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        threading = sys.modules.get("threading")
        return 1 if threading is None else threading.active_count()


def _can_fork() -> bool:
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return _threads() == 1


def _split(jobs: Sequence[Tuple[int, Job]], parts: int) -> List[List[Job]]:
    """Heaviest first, each to the lightest part so far."""
    groups: List[List[Job]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for weight, job in sorted(jobs, key=lambda item: -item[0]):
        lightest = loads.index(min(loads))
        groups[lightest].append(job)
        loads[lightest] += weight
    return groups


def run_jobs(jobs: Sequence[Tuple[int, Job]], workers: Optional[int] = None, minimum: int = 20000) -> int:
    """Run every ``(weight, job)``; returns how many processes shared the work.

    ``workers``: processes to use (None: :func:`default_jobs`).  Work whose
    weights add up to less than ``minimum`` runs here, without forking.
    """
    count = default_jobs() if workers is None else max(1, workers)
    count = min(count, len(jobs))
    if count <= 1 or sum(weight for weight, _ in jobs) < minimum or not _can_fork():
        for _, job in jobs:
            job()
        return 1
    groups = _split(jobs, count)
    sys.stdout.flush()
    sys.stderr.flush()
    # Objects made so far are shared with the workers: kept out of the
    # collector's way, the workers do not copy every page of them by touching it.
    gc.freeze()
    children = []
    for group in groups[1:]:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which leaves by os._exit
            status = 0
            try:
                for job in group:
                    job()
            except BaseException:
                status = 1
            os._exit(status)
        children.append((pid, group))
    try:
        for job in groups[0]:
            job()
    finally:
        failed = []
        for pid, group in children:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                failed.append(group)
        gc.unfreeze()
    for group in failed:
        for job in group:
            job()
    return count
