"""Reserved cores: submissions graded side by side never slow each other's timed runs.

The grade command splits the usable cores into a timing set and a correctness set (on
a small machine there is no split: one submission at a time). Each nbgrader run it
starts is pinned to the correctness set, and every speed measurement takes the timing
lock (one file lock for the whole class), then moves itself and the worker being timed
onto the timing set until it is done. Without the grade command's variables set (the
self-check, a plain `nbgrader autograde`), all of this does nothing.

Timed processes also go ahead of the machine's other sessions while they are measured
(``timing_priority``): Linux's autogroup scheduler shares a busy machine between sessions,
so one process spinning in another session takes a whole core of 2 from a 2-process
pool, and parallel work can no longer be seen. That needs root (CAP_SYS_NICE); elsewhere
it changes nothing, and the measurement reports a machine too busy instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass

import psutil

LOCK_ENV, TIMING_ENV, CORRECTNESS_ENV = (
    "AUTOGRADER_TIMING_LOCK",
    "AUTOGRADER_TIMING_CORES",
    "AUTOGRADER_CORRECTNESS_CORES",
)


@dataclass(frozen=True)
class CorePlan:
    jobs: int
    correctness: tuple[int, ...]
    timing: tuple[int, ...]

    def summary(self) -> str:
        if self.jobs == 1:
            return f"one submission at a time on {len(self.timing)} cores"
        return (
            f"{self.jobs} submissions at once on {len(self.correctness)} cores, timing one at a time "
            f"on {len(self.timing)} reserved cores"
        )


def plan(jobs: int | None = None, timing_cores: int = 4) -> CorePlan:
    """Split this process's cores. With fewer than 2 + ``timing_cores``, grade one at a time."""
    cores = tuple(sorted(os.sched_getaffinity(0)))
    if len(cores) < timing_cores + 2 or jobs == 1:
        return CorePlan(1, cores, cores)
    timing, rest = cores[:timing_cores], cores[timing_cores:]
    return CorePlan(max(1, min(jobs or len(rest), len(rest))), rest, timing)


def child_env(cores: CorePlan, lock_path: str) -> dict[str, str]:
    return {
        LOCK_ENV: lock_path,
        TIMING_ENV: ",".join(map(str, cores.timing)),
        CORRECTNESS_ENV: ",".join(map(str, cores.correctness)),
    }


def _cores(env: str) -> set[int] | None:
    raw = os.environ.get(env)
    return {int(c) for c in raw.split(",")} if raw else None


def pin_for_correctness() -> None:
    """Called as an nbgrader run starts: stay off the reserved cores (children inherit it)."""
    cores = _cores(CORRECTNESS_ENV)
    if cores:
        os.sched_setaffinity(0, cores)


def _pin_tree(pid: int, cores: set[int]) -> None:
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error, OSError):
            for thread in proc.threads():
                os.sched_setaffinity(thread.id, cores)


def _tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (none if it is gone)."""
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


@contextlib.contextmanager
def timing_slot(*pids: int) -> Iterator[None]:
    """Hold the class's timing lock, on the reserved cores, with ``pids`` (and their
    children) moved there too; everything started inside inherits the reserved cores."""
    lock_path, timing = os.environ.get(LOCK_ENV), _cores(TIMING_ENV)
    if not lock_path or not timing:
        yield
        return
    before = os.sched_getaffinity(0)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            os.sched_setaffinity(0, timing)
            for pid in pids:
                _pin_tree(pid, timing)
            yield
        finally:
            os.sched_setaffinity(0, before)
            for pid in pids:
                _pin_tree(pid, before)
            fcntl.flock(lock, fcntl.LOCK_UN)


# The autogroup nice of the measured sessions: against a neighbour session at nice 0 they
# get about nine tenths of a contended core (weights 9548 and 1024).
TIMING_NICE = -10


@contextlib.contextmanager
def timing_priority(*pids: int) -> Iterator[None]:
    """``pids``, their children and everything later started in their sessions run at
    TIMING_NICE (their Linux autogroups'), then go back to what they had."""
    before: dict[str, str] = {}
    for proc in [p for pid in pids for p in _tree(pid)]:
        path = f"/proc/{proc.pid}/autogroup"
        with contextlib.suppress(OSError):
            with open(path) as f:
                old = f.read().split()[-1]  # "/autogroup-123 nice 0"
            with open(path, "w") as f:
                f.write(str(TIMING_NICE))
            before.setdefault(path, old)
    try:
        yield
    finally:
        for path, old in before.items():
            with contextlib.suppress(OSError), open(path, "w") as f:
                f.write(old)
