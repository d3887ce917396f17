"""Lab 04's workloads: the course's serial code, and the task functions worker processes run.

Every function here is importable, so a worker process started by any start method
(fork, spawn or forkserver), or an ipyparallel engine that can import this file, can
run it. Each one is a plain serial function: running it in parallel is your part.

This module is also the course's baseline for lab 04: the grader times students' code
against it, so it must not change behaviour between releases.
"""

from __future__ import annotations

import numpy as np

# ------------------------------------------------------------ 1. many small tasks


def collatz_steps(n: int) -> int:
    """How many steps n -> n/2 (n even) or 3n+1 (n odd) take to reach 1."""
    if n < 1:
        raise ValueError(f"collatz_steps({n!r}): n must be a positive integer")
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def total_steps_serial(numbers: list[int]) -> int:
    """The sum of collatz_steps(n) over the list, one number after the other."""
    return sum(map(collatz_steps, numbers))


# ------------------------------------------------------------- 2. Monte Carlo

BLOCK = 1 << 16  # samples drawn per batch: two arrays of this many float64 stay in cache


def count_inside(seed: int | np.random.SeedSequence, n: int) -> int:
    """One task: draw n points (x, y) uniform in the unit square from the generator
    np.random.default_rng(seed), and count those inside the quarter circle x*x + y*y < 1.
    The points are drawn in batches of BLOCK: x for the whole batch, then y."""
    if n < 0:
        raise ValueError(f"count_inside(seed={seed!r}, n={n!r}): a task cannot draw a negative number")
    rng = np.random.default_rng(seed)
    # Two buffers for the whole task, filled in place: a fresh 512 KiB array per batch is a
    # fresh mmap, and its page faults were half of a new process's time (and none of an
    # older one's), so the cost of the same task depended on the process that ran it.
    x, y = np.empty(min(n, BLOCK)), np.empty(min(n, BLOCK))
    hits = 0
    while n > 0:
        k = min(n, BLOCK)
        bx, by = rng.random(out=x[:k]), rng.random(out=y[:k])
        np.multiply(bx, bx, out=bx)
        np.multiply(by, by, out=by)
        hits += int(np.count_nonzero(np.add(bx, by, out=bx) < 1.0))
        n -= k
    return hits


def estimate_pi_serial(seed: int, n_samples: int, n_tasks: int) -> float:
    """4 x the fraction of n_samples points inside the quarter circle, as n_tasks tasks with
    independent random streams, one task after the other. Task i draws its points from the
    i-th child of np.random.SeedSequence(seed).spawn(n_tasks); it draws n_samples // n_tasks
    points, plus one more for the first n_samples % n_tasks tasks."""
    children = np.random.SeedSequence(seed).spawn(n_tasks)
    base, extra = divmod(n_samples, n_tasks)
    hits = sum(count_inside(child, base + (i < extra)) for i, child in enumerate(children))
    return 4.0 * hits / n_samples


# ---------------------------------------------------------- 3. rows of an array

STEPS = 20  # iterations per row: enough arithmetic per byte that the work is compute-bound


def relax_into(src: np.ndarray, dst: np.ndarray) -> None:
    """For every row i, write into dst[i] the row y after STEPS updates
    y <- 0.5 * cos(y) + src[i], starting from y = src[i]. src and dst are 2-D float64
    arrays (or views) of the same shape; they may be the same array."""
    if src.shape != dst.shape or src.ndim != 2:
        raise ValueError(
            f"relax_into: src has shape {src.shape} and dst {dst.shape}; both must be the same 2-D shape"
        )
    for i in range(src.shape[0]):
        row = np.array(src[i], dtype=np.float64)  # a copy: dst may be src
        y = row.copy()
        for _ in range(STEPS):
            y = 0.5 * np.cos(y) + row
        dst[i] = y


def relax_rows(a: np.ndarray) -> np.ndarray:
    """The relaxed rows of a 2-D float64 array, as a new array, one row after the other."""
    out = np.empty(a.shape, dtype=np.float64)
    relax_into(a, out)
    return out
