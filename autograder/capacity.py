"""How many cores code can use at once right now: the yardstick for parallel evidence.

A parallel function's CPU rate (CPU seconds per wall second) tells real overlap from
work that only takes turns: threads that hold the GIL split their CPU time between them,
yet never use more than one core together. But what rate honest code can reach depends
on the load. Linux's autogroup scheduler shares a busy machine between sessions, not
threads, so with one busy neighbour in another session an honest 2-process pool on 2
cores gets about one core in total. So the candidate's rate is read against a probe
taken beside it: ``workers`` processes that only compute, started the same way and at
the same moment as the measurement. The probe runs in the baseline's process, never
in the student's, so student code cannot make the machine look busier or idler. Where
the grader runs as root, the timed sessions go ahead of the others while they are measured
(reserve.timing_priority), so one spinning neighbour no longer halves what they get.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass

# Each probe process computes until its own clock says ``seconds`` have passed.
_SPIN = "import sys,time\nend=time.perf_counter()+float(sys.argv[1])\nwhile time.perf_counter()<end: pass\n"


@dataclass(frozen=True)
class Capacity:
    workers: int
    cpu_s: float
    wall_s: float

    @property
    def cores(self) -> float:
        """Cores the probe's processes used together, on average over its run."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> str:
        return f"{self.workers} computing processes got {self.cores:.2f} cores together"

    def to_dict(self) -> dict[str, float]:
        return {"workers": self.workers, "cpu_s": self.cpu_s, "wall_s": self.wall_s}


def probe(workers: int, seconds: float = 0.1) -> Capacity:
    """Start ``workers`` processes that compute for ``seconds`` each; measure the cores they got.

    Each process is pinned to its own core (round robin over this process's cores). Fork
    tends to put new processes on the idle core, and beside a busy neighbour the load
    balancer left both there for the whole 0.1 s in about half the probes (measured: 0.99
    cores instead of 1.66-1.76), so an unpinned probe said where fork put it, not what the
    cores could give."""
    cmd = [sys.executable, "-I", "-S", "-c", _SPIN, repr(seconds)]
    cores = sorted(os.sched_getaffinity(0))
    t0 = time.perf_counter()
    procs = []
    for i in range(workers):
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL))
        # Pinned from here, not in the child: a preexec_fn can deadlock a threaded parent.
        with contextlib.suppress(OSError):  # one that already failed is reaped below
            os.sched_setaffinity(procs[-1].pid, {cores[i % len(cores)]})
    cpu = 0.0
    for proc in procs:
        # wait4 gives the child's own CPU time, whatever else this process has reaped.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
    return Capacity(workers, cpu, time.perf_counter() - t0)
