"""Worker functions for the unit 04 lecture (course/04-multiprocessing.ipynb).

A worker process finds the function it must run by module and name, so every function a
pool runs in the lecture lives here, in a file next to the notebook, not in a notebook
cell: that works with every start method (fork, spawn, forkserver). None of these is the
lab's workload.
"""

from __future__ import annotations

import os
import time
from multiprocessing import shared_memory

import numpy as np


def burn(n: int) -> int:
    """CPU-bound pure Python: a loop of integer arithmetic, about 50 ns per step."""
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def burn_report(n: int) -> tuple[int, float, float, float]:
    """burn(n), and who did it: (pid, CPU seconds of this task, start and end on the shared clock)."""
    start, cpu0 = time.perf_counter(), time.process_time()
    burn(n)
    return os.getpid(), time.process_time() - cpu0, start, time.perf_counter()


def is_prime(n: int) -> bool:
    """Trial division: a few microseconds for numbers near a million. A deliberately small task."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def nbytes_of(a: np.ndarray) -> int:
    """A task that does nothing with its argument: what it costs is moving the argument."""
    return int(a.nbytes)


def nbytes_shared(name: str, shape: tuple[int, ...]) -> int:
    """The same, for an array that stays in a shared-memory block: attach, look, detach."""
    shm = shared_memory.SharedMemory(name=name)
    try:
        view = np.ndarray(shape, dtype=np.float64, buffer=shm.buf)
        n = int(view.nbytes)
        del view
    finally:
        shm.close()
    return n


def row_energy(src_name: str, dst_name: str, shape: tuple[int, int], lo: int, hi: int) -> None:
    """Worker for the shared-memory example: for rows lo..hi-1 of the source block, write
    sum(sin(row)**2) (repeated a few times, to be compute-bound) into the destination block,
    a 1-D float64 array with one value per row."""
    src_shm = shared_memory.SharedMemory(name=src_name)
    dst_shm = shared_memory.SharedMemory(name=dst_name)
    try:
        src = np.ndarray(shape, dtype=np.float64, buffer=src_shm.buf)
        dst = np.ndarray((shape[0],), dtype=np.float64, buffer=dst_shm.buf)
        for i in range(lo, hi):
            row = src[i]
            total = 0.0
            for k in range(1, 6):
                total += float(np.sum(np.sin(k * row) ** 2))
            dst[i] = total
        del src, dst  # a view must not outlive close()
    finally:
        src_shm.close()
        dst_shm.close()


def row_energy_serial(a: np.ndarray) -> np.ndarray:
    """What row_energy computes, for the whole array, in this process."""
    out = np.empty(a.shape[0])
    for i, row in enumerate(a):
        out[i] = sum(float(np.sum(np.sin(k * row) ** 2)) for k in range(1, 6))
    return out


def first_draws(seed: object, k: int = 3) -> tuple[int, list[float]]:
    """The first k numbers of a generator made from ``seed`` (None: fresh entropy), and the pid."""
    rng = np.random.default_rng(seed)
    return os.getpid(), [round(float(x), 6) for x in rng.random(k)]


def legacy_draws(_: object, k: int = 3) -> tuple[int, list[float]]:
    """The first k numbers of NumPy's legacy global generator (np.random.random), and the pid."""
    time.sleep(0.05)  # let every worker of the pool take one task
    return os.getpid(), [round(float(x), 6) for x in np.random.random(k)]


def mean_of_draws(seed: object, n: int) -> float:
    """One Monte Carlo task: the mean of n uniform draws from its own generator."""
    return float(np.random.default_rng(seed).random(n).mean())


def fails_on(x: int, bad: int) -> int:
    """A task that raises for one input, and says which."""
    if x == bad:
        raise ValueError(f"task {x}: cannot handle this input")
    burn(20_000)
    return x


def dies_on(x: int, bad: int) -> int:
    """A task whose process dies for one input, as a crash in C code or the out-of-memory killer would."""
    if x == bad:
        os._exit(1)
    burn(20_000)
    return x


def amdahl_job(n_workers: int, serial_n: int, tasks: list[int]) -> dict[str, float]:
    """A job with a serial part (preparing the inputs, in this process) and a parallel part
    (the tasks, on a pool of n_workers): returns the wall time of each part and of the whole."""
    from multiprocessing import Pool

    t0 = time.perf_counter()
    burn(serial_n)  # the serial part: the parent prepares, alone
    t1 = time.perf_counter()
    with Pool(n_workers) as pool:
        pool.map(burn, tasks, chunksize=1)
    t2 = time.perf_counter()
    return {"serial_s": t1 - t0, "parallel_s": t2 - t1, "total_s": t2 - t0}
