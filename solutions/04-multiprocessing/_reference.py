"""Lab 04 reference solutions: used by the grader for expected outputs, never released.

nbgrader_config.py lists ``_reference.py`` in CourseDirectory.ignore, so ``make labs``
leaves it out of labs/ and students' self-checks fall back to the serial baselines in
mpwork.py. The worker functions the pools run are defined here, at module level, so a
worker process can find them by name (the pools use the platform's default start method,
fork on Linux with Python 3.11; with spawn or forkserver this module must be importable
in the workers, which it is from the lab folder).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from itertools import repeat
from multiprocessing import Pool, shared_memory

import mpwork
import numpy as np


def workers() -> int:
    """One process per usable core (affinity, not os.cpu_count())."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def task_sizes(n_samples: int, n_tasks: int) -> list[int]:
    base, extra = divmod(n_samples, n_tasks)
    return [base + (i < extra) for i in range(n_tasks)]


# ------------------------------------------------------------ 1. many small tasks


def total_steps(numbers: list[int]) -> int:
    """pool.map with a chunksize: sixteen chunks per worker, each hundreds of numbers or more, so
    that the chunks share out evenly between the workers."""
    n = workers()
    with Pool(n) as pool:
        return sum(pool.map(mpwork.collatz_steps, numbers, chunksize=max(1, len(numbers) // (16 * n))))


# ------------------------------------------------------------- 2. Monte Carlo


def estimate_pi(seed: int, n_samples: int, n_tasks: int) -> float:
    children = np.random.SeedSequence(seed).spawn(n_tasks)
    with Pool(workers()) as pool:
        hits = pool.starmap(mpwork.count_inside, zip(children, task_sizes(n_samples, n_tasks)), chunksize=1)
    return 4.0 * sum(hits) / n_samples


# ---------------------------------------------------------- 3. rows of an array


def relax_block(src_name: str, dst_name: str, shape: tuple[int, int], lo: int, hi: int) -> None:
    """A worker's part: attach both blocks by name, relax rows [lo, hi) into the output block."""
    src_shm = shared_memory.SharedMemory(name=src_name)
    dst_shm = shared_memory.SharedMemory(name=dst_name)
    try:
        src = np.ndarray(shape, dtype=np.float64, buffer=src_shm.buf)
        dst = np.ndarray(shape, dtype=np.float64, buffer=dst_shm.buf)
        mpwork.relax_into(src[lo:hi], dst[lo:hi])
        del src, dst  # no view may outlive close()
    finally:
        src_shm.close()
        dst_shm.close()


def _relax_with(a: np.ndarray, edges: list[int], n_workers: int) -> np.ndarray:
    """Relax the rows of ``a`` in shared memory, chunk k being rows edges[k]:edges[k + 1]."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    src_shm = shared_memory.SharedMemory(create=True, size=a.nbytes)
    dst_shm = shared_memory.SharedMemory(create=True, size=a.nbytes)
    try:
        src = np.ndarray(a.shape, dtype=np.float64, buffer=src_shm.buf)
        src[:] = a
        del src
        with ProcessPoolExecutor(n_workers) as pool:
            names = (repeat(src_shm.name), repeat(dst_shm.name), repeat(a.shape))
            list(pool.map(relax_block, *names, edges[:-1], edges[1:]))
        dst = np.ndarray(a.shape, dtype=np.float64, buffer=dst_shm.buf)
        out = dst.copy()  # out of the block before it goes
        del dst
    finally:
        for shm in (src_shm, dst_shm):
            shm.close()
            shm.unlink()
    return out


def relax_shared(a: np.ndarray) -> np.ndarray:
    n = workers()
    edges = np.linspace(0, a.shape[0], 16 * n + 1).astype(int).tolist()
    return _relax_with(a, edges, n)


# The corpus's wrong answers nearest a bar: `make check-stability` grades each of them
# 50 times and reports how often it slipped through (its false-pass rate).
NEAR_MISSES = {
    "chunked-map": ["total_steps_one_worker", "total_steps_gil_threads"],
    "monte-carlo": ["estimate_pi_serial_in_a_pool"],
    "shared-rows": ["relax_shared_one_worker"],
}


def total_steps_one_worker(numbers: list[int]) -> int:
    """A pool with one worker: all the work in one process, beside an idle parent."""
    with Pool(1) as pool:
        return sum(pool.map(mpwork.collatz_steps, numbers, chunksize=max(1, len(numbers) // 4)))


def total_steps_gil_threads(numbers: list[int]) -> int:
    """Looks parallel: two threads over halves of the list, but pure-Python work holds the GIL,
    so the threads take turns on one core."""
    half = len(numbers) // 2
    with ThreadPoolExecutor(2) as pool:
        return sum(pool.map(mpwork.total_steps_serial, [numbers[:half], numbers[half:]]))


def estimate_pi_serial_in_a_pool(seed: int, n_samples: int, n_tasks: int) -> float:
    """Serial in disguise: a pool of two, but the whole loop is one task."""
    with Pool(2) as pool:
        return pool.apply(mpwork.estimate_pi_serial, (seed, n_samples, n_tasks))


def relax_shared_one_worker(a: np.ndarray) -> np.ndarray:
    edges = np.linspace(0, a.shape[0], 5).astype(int).tolist()
    return _relax_with(a, edges, 1)


# Honest, right answers whose true ratio is about 1.25x the bar (1.63x for a bar of 1.3x):
# `make check-stability` grades each of them many times, and their false-fail rate is the
# grader's precision. Each gives one of two processes about 61% of the work, so its busiest
# worker holds at best 1 / 0.61 = 1.64x less CPU time than the serial run.
MARGINAL = {
    "chunked-map": "total_steps_uneven",
    "monte-carlo": "estimate_pi_uneven",
    "shared-rows": "relax_shared_uneven",
}
UNEVEN = 0.61


def total_steps_uneven(numbers: list[int]) -> int:
    cut = round(UNEVEN * len(numbers))
    with Pool(2) as pool:
        return sum(pool.map(mpwork.total_steps_serial, [numbers[:cut], numbers[cut:]], chunksize=1))


def _count_parts(parts: list[tuple[np.random.SeedSequence, int, int]]) -> int:
    """Points [start, start + n) of each task's draws, counted as count_inside counts them.
    Each point takes two draws (its x in one batch, its y in the next), so a part that starts
    on a batch boundary starts ``2 * start`` draws into the task's stream."""
    hits = 0
    for child, start, n in parts:
        rng = np.random.default_rng(child)
        rng.bit_generator.advance(2 * start)
        hits += mpwork.count_inside(rng, n)  # default_rng(a Generator) is that Generator
    return hits


def estimate_pi_uneven(seed: int, n_samples: int, n_tasks: int) -> float:
    """The first worker draws UNEVEN of all points, whatever the task count: the task the cut
    falls in is split on a batch boundary, the rest of its stream drawn by the second worker."""
    first: list[tuple[np.random.SeedSequence, int, int]] = []
    second: list[tuple[np.random.SeedSequence, int, int]] = []
    cut, done = round(UNEVEN * n_samples), 0
    for child, size in zip(np.random.SeedSequence(seed).spawn(n_tasks), task_sizes(n_samples, n_tasks)):
        left = max(0, cut - done)  # points the first worker still has to draw
        head = size if left >= size else left // mpwork.BLOCK * mpwork.BLOCK
        if head:
            first.append((child, 0, head))
        if size - head:
            second.append((child, head, size - head))
        done += size
    with Pool(2) as pool:
        hits = pool.map(_count_parts, [first, second], chunksize=1)
    return 4.0 * sum(hits) / n_samples


def relax_shared_uneven(a: np.ndarray) -> np.ndarray:
    return _relax_with(a, [0, round(UNEVEN * a.shape[0]), a.shape[0]], 2)
