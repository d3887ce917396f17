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

A core that is given is not always a core's worth of work. On a shared virtual machine
two busy cores can each run slower than one alone (a host that places them on the two
hardware threads of one physical core, or a noisy neighbour of the host): measured here,
two computing processes ran at 0.63-0.80 of one's speed in 5% of probes, in spells that
last seconds. An honest pool's CPU ratio falls by the same factor, so the probe also
says how fast its processes ran together, against one of them alone a moment before.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass

# Probe process 0 computes alone until the monotonic clock reads argv[2], then with the
# others until argv[3]; the others wait for argv[2]. Each prints its loop count and thread
# CPU time for both parts ("alone" is 0 0 for the others). CLOCK_MONOTONIC is system-wide.
_SPIN = """import sys,time
alone,end=float(sys.argv[2]),float(sys.argv[3])
def spin(until):
    n=0;c=time.thread_time()
    while time.monotonic()<until: n+=1
    return n,time.thread_time()-c
a=spin(alone) if sys.argv[1]=="0" else (0,0.0)
time.sleep(max(0.0,alone-time.monotonic()))
print(*a,*spin(end))
"""
ALONE_S = 0.04  # process 0 computes alone until then, from the probe's start (a start takes 10 ms)


@dataclass(frozen=True)
class Capacity:
    workers: int
    cpu_s: float
    wall_s: float
    speed: float = 1.0  # how fast the processes ran together, over one alone (stored probes: 1)

    @property
    def cores(self) -> float:
        """Cores the probe's processes used together, on average over their joint run."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> str:
        text = f"{self.workers} computing processes got {self.cores:.2f} cores together"
        return text + (f", each at {self.speed:.2f} of one alone's speed" if self.workers > 1 else "")

    def to_dict(self) -> dict[str, float]:
        return {"workers": self.workers, "cpu_s": self.cpu_s, "wall_s": self.wall_s, "speed": self.speed}


def _rate(count: float, cpu_s: float) -> float:
    return count / cpu_s if cpu_s > 0 else 0.0


def probe(workers: int, seconds: float = 0.1) -> Capacity:
    """Start ``workers`` processes that compute together for ``seconds``; measure the cores
    they got, and their speed against process 0 computing alone just before.

    Each process is pinned to its own core (round robin over this process's cores). Fork
    tends to put new processes on the idle core, and beside a busy neighbour the load
    balancer left both there for the whole 0.1 s in about half the probes (measured: 0.99
    cores instead of 1.66-1.76), so an unpinned probe said where fork put it, not what the
    cores could give."""
    start = time.monotonic()
    alone = start + (ALONE_S if workers > 1 else 0.0)  # one process has no "together" to compare
    end = alone + seconds
    cores = sorted(os.sched_getaffinity(0))
    procs = []
    for i in range(workers):
        cmd = [sys.executable, "-I", "-S", "-c", _SPIN, str(i), repr(alone), repr(end)]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE))
        # Pinned from here, not in the child: a preexec_fn can deadlock a threaded parent.
        with contextlib.suppress(OSError):  # one that already failed is reaped below
            os.sched_setaffinity(procs[-1].pid, {cores[i % len(cores)]})
    counts = []
    for proc in procs:
        out = proc.communicate()[0].split()
        counts.append([float(x) for x in out] if len(out) == 4 and proc.returncode == 0 else [0.0] * 4)
    solo = _rate(counts[0][0], counts[0][1]) if counts else 0.0
    # A process that failed, or never got to compute, says nothing about speed.
    together = [r for r in (_rate(n, cpu) for _, _, n, cpu in counts) if r > 0]
    speed = sum(together) / len(together) / solo if solo > 0 and together else 1.0
    cpu = sum(cpu for *_, cpu in counts)
    # Over the joint part: a process that started late, or was kept waiting, got less of it.
    return Capacity(workers, cpu, seconds, speed)
