"""CPU-time and concurrency evidence for parallel code, read from outside the code measured.

Wall-clock speedups at 2 workers swing from 1.2x to 2.5x on a shared 2-core machine,
and a busy neighbour caps them near 1.33x. What does not swing is how the work was
split: the busiest thread's share of all CPU time, and how many threads were busy at
once. This module samples every thread of a process tree (via psutil, i.e. /proc)
while the code runs, so a "parallel" function that runs everything on one worker is
seen for what it is, whatever the clock says.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass

import psutil

# The window before each call in which the monitored tree should be idle, and the share of
# it a thread may compute and still count as idle (a pool's idle workers use next to none).
BACKGROUND_WINDOW_S = 0.02
BACKGROUND_SHARE = 0.2

# Finding a tree's processes reads every process's stat on the machine (1 ms of the sampler's
# 1.3 ms per sample here): it is done every TREE_EVERY samples, the known threads' times
# every sample. A process found late loses nothing (its threads count from 0); one that
# comes and goes between two searches is unseen CPU, as between two samples.
TREE_EVERY = 4


@dataclass(frozen=True)
class CpuEvidence:
    wall_s: float
    cpu_s: float  # all CPU time of the tree during the window: ended threads and reaped children included
    busiest_s: float  # CPU time of the busiest single thread
    threads_seen: int
    peak_concurrency: int  # most threads seen busy within one sampling interval
    unseen_s: float = 0.0  # CPU time no sample saw on a thread, counted in busiest_s
    longest_gap_s: float = 0.0  # the longest wait between two samples

    @property
    def busiest_share(self) -> float:
        return self.busiest_s / self.cpu_s if self.cpu_s > 0 else 1.0

    @property
    def mean_concurrency(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> str:
        unseen = f" ({self.unseen_s:.3f}s of it ran between samples)" if self.unseen_s >= 0.005 else ""
        return (
            f"CPU {self.cpu_s:.3f}s over {self.wall_s:.3f}s wall, busiest thread "
            f"{self.busiest_share:.0%} of it{unseen}, {self.mean_concurrency:.2f} cores busy on average, "
            f"peak {self.peak_concurrency} at once"
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(busiest_share=self.busiest_share, mean_concurrency=self.mean_concurrency)
        return data


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def _thread_times(procs: list[psutil.Process], skip: set[int]) -> dict[tuple[int, int], float]:
    times: dict[tuple[int, int], float] = {}
    for proc in procs:
        try:
            for t in proc.threads():
                if t.id not in skip:
                    times[(proc.pid, t.id)] = t.user_time + t.system_time
        except psutil.Error:
            continue  # the process ended between listing and reading: its time is in cutime
    return times


def _process_times(procs: list[psutil.Process], reaped: bool = False) -> dict[int, float]:
    """Per process, the CPU time of all its threads, those that have ended included; with
    ``reaped``, that of the children it has reaped instead (their whole lifetimes)."""
    times: dict[int, float] = {}
    for proc in procs:
        try:
            ct = proc.cpu_times()
            times[proc.pid] = ct.children_user + ct.children_system if reaped else ct.user + ct.system
        except psutil.Error:
            continue
    return times


def _on_cpu_ns(pid: int, tid: int) -> int:
    """Nanoseconds a thread has run (schedstat: exact, where /proc's CPU times count 10 ms ticks)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def busy_between_calls(root: psutil.Process, window_s: float, skip: set[int]) -> set[tuple[int, int]]:
    """Threads of the tree that computed while no call was running (the window just before
    one): a CPU burner started beside serial code is not evidence that the call ran in
    parallel, so the monitor leaves such threads out of what it counts."""
    threads = list(_thread_times(_tree(root), skip))
    before = {t: _on_cpu_ns(*t) for t in threads}
    time.sleep(window_s)
    limit = BACKGROUND_SHARE * window_s * 1e9
    return {t for t in threads if _on_cpu_ns(*t) - before[t] > limit}


def process_cpu_seconds(procs: list[psutil.Process]) -> float:
    """CPU time of these processes together, ended threads included."""
    return sum(_process_times(procs).values())


class CpuMonitor:
    """Context manager: ``with CpuMonitor(pid) as mon: ...; mon.evidence``."""

    def __init__(self, pid: int, interval_s: float = 0.01, leave_out_background: bool = False) -> None:
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.leave_out_background = leave_out_background
        self._skip: set[int] = set()
        self._background_procs: set[int] = set()  # processes (not the root) busy before the call
        self._background_root: set[int] = set()  # threads of the root busy before the call
        self._procs: list[psutil.Process] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.evidence: CpuEvidence | None = None

    def _sample(self, refresh: bool = True) -> tuple[dict[tuple[int, int], float], dict[int, float]]:
        if refresh or not self._procs:
            self._procs = [p for p in _tree(self.root) if p.pid not in self._background_procs]
        return _thread_times(self._procs, self._skip | self._background_root), _process_times(self._procs)

    def _root_background_s(self) -> float:
        total = 0.0
        for tid in self._background_root:
            total += _on_cpu_ns(self.root.pid, tid) / 1e9
        return total

    def _loop(self) -> None:
        self._skip.add(threading.get_native_id())
        prev, prev_t = self._start, time.perf_counter()
        n = 0
        while not self._stop.wait(self.interval_s):
            n += 1
            (now, procs), now_t = self._sample(refresh=n % TREE_EVERY == 0), time.perf_counter()
            dt = now_t - prev_t
            busy = sum(1 for k, v in now.items() if v - prev.get(k, 0.0) >= 0.5 * dt)
            with self._lock:
                self._peak = max(self._peak, busy)
                self._longest_gap = max(self._longest_gap, dt)
                self._last_t = now_t
                self._last.update(now)
                self._last_procs.update(procs)
            prev, prev_t = now, now_t
        self._sampler_cpu = time.thread_time()

    def __enter__(self) -> CpuMonitor:
        if self.leave_out_background:
            busy = busy_between_calls(self.root, BACKGROUND_WINDOW_S, self._skip)
            self._background_root = {tid for pid, tid in busy if pid == self.root.pid}
            self._background_procs = {pid for pid, _ in busy if pid != self.root.pid}
        self._root_background0 = self._root_background_s()
        self._peak, self._longest_gap = 0, 0.0
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._sampler_cpu = 0.0
        self._start, self._start_procs = self._sample()
        self._last, self._last_procs = dict(self._start), dict(self._start_procs)
        self._reaped0 = _process_times(_tree(self.root), reaped=True)
        self._thread.start()
        self._t0 = self._last_t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        final, final_procs = self._sample()
        with self._lock:
            self._longest_gap = max(self._longest_gap, time.perf_counter() - self._last_t)
            self._last.update(final)
            self._last_procs.update(final_procs)
        deltas = {k: v - self._start.get(k, 0.0) for k, v in self._last.items()}
        # Totals come from each process's own counter, which keeps the time of threads
        # that ended between samples (a pool made inside the call), not from the threads.
        proc_deltas = {p: v - self._start_procs.get(p, 0.0) for p, v in self._last_procs.items()}
        cpu = sum(max(0.0, d) for d in proc_deltas.values())
        # Children reaped during the window, by any process of the tree: their whole lifetime
        # lands in the reaper's cutime, which covers the CPU they burned after our last sample
        # of them. Not only the root's: in a sandbox the root is its entry process, and the
        # pool workers are reaped two levels down (a third of a pool's CPU went missing).
        now_reaped = _process_times(_tree(self.root), reaped=True)
        reaped = sum(max(0.0, v - self._reaped0.get(p, 0.0)) for p, v in now_reaped.items())
        gone = sum(max(0.0, d) for p, d in proc_deltas.items() if p not in final_procs)
        cpu += max(0.0, reaped - gone)
        if self.root.pid == os.getpid():
            cpu = max(0.0, cpu - self._sampler_cpu)  # the sampler is not the code measured
        # The root's own counter includes its background threads: take their time out.
        cpu = max(0.0, cpu - (self._root_background_s() - self._root_background0))
        # CPU that no sample saw on a thread (threads that lived and ended between two
        # samples, the last moments of others) is counted as the busiest thread's: short
        # threads cannot pass for well-shared work.
        unseen = max(0.0, cpu - sum(max(0.0, d) for d in deltas.values()))
        self.evidence = CpuEvidence(
            wall_s=wall,
            cpu_s=cpu,
            busiest_s=max(deltas.values(), default=0.0) + unseen,
            threads_seen=len(deltas),
            peak_concurrency=self._peak,
            unseen_s=unseen,
            longest_gap_s=self._longest_gap,
        )
