"""Graded exercises of lab 04 (multiprocessing). Released with the lab; the grader uses its own copy.

Sizes: every exercise draws fresh inputs per call. COURSE_SMALL=1 shrinks them so the
whole lab runs in small mode within the course's time budget; a serial call still takes
about 0.25 s there, so starting a pool (tens of milliseconds with fork) does not decide
the verdict. The workloads are compute-bound per task (pure Python, or NumPy on data that
stays in cache): memory-bound work would not scale on two cores.

Parallel speed parts are declared with ``parallel_workers=2``: the bar is written for two
cores and scales with the cores a student's machine really has, and the verdict needs
CPU-time evidence from every process of the call (autograder/cpu_monitor.py), so a pool
that leaves one worker with all the work, or a serial loop inside a ``with Pool()``, fails
whatever the clock says.
"""

from __future__ import annotations

import mpwork
import numpy as np

from autograder import Exercise, verify

# One bar for the three parallel exercises, for two cores, on the CPU evidence (the serial run's
# CPU time over the busiest process's). Honest two-process code measured 1.4x to 2.0x on a quiet
# two-core machine (median about 1.7x): its busiest worker holds 51-58% of the work, and the CPU
# time of both grows when both cores are busy. Serial code, one-worker pools and chunksize 1
# measured 0.7x to 1.05x.
PARALLEL_BAR = 1.3


def _prime_near(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A prime in [lo, hi): no worker or task count from 2 to lo - 1 divides it, so a
    chunking that drops the remainder always leaves something out."""
    while True:
        n = int(rng.integers(lo, hi)) | 1
        if all(n % d for d in range(3, int(n**0.5) + 1, 2)):
            return n


# ------------------------------------------------------------ 1. many small tasks


def numbers_input(rng: np.random.Generator, small: bool) -> tuple:
    n = _prime_near(rng, 36_000, 37_000) if small else _prime_near(rng, 120_000, 121_000)
    return (rng.integers(1, 1_000_000, size=n).tolist(),)


def numbers_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """An empty list, one number, fewer numbers than workers, and a prime count."""
    return [
        ([],),
        ([int(rng.integers(2, 1000))],),
        (rng.integers(1, 1000, size=3).tolist(),),
        (rng.integers(1, 100_000, size=_prime_near(rng, 101, 200)).tolist(),),
    ]


# 27 takes 111 steps; 1 takes none; 2, 3 and 6 take 1, 7 and 8.
STEPS_EXAMPLES = (
    (([27],), 111),
    (([1, 2, 3, 6],), 16),
    (([],), 0),
)


def diagnose_steps(args: tuple, expected: object, got: object) -> str | None:
    """Name a chunking that left the last numbers out."""
    (numbers,) = args
    if not isinstance(got, int) or not isinstance(expected, int) or got >= expected or not numbers:
        return None
    steps = list(map(mpwork.collatz_steps, numbers))
    n = len(steps)
    for parts in range(2, 65):
        kept = parts * (n // parts)
        if kept < n and sum(steps[:kept]) == got:
            return (
                f"the sum leaves out the last {n - kept} of {n} numbers, as chunks of "
                f"len(numbers) // {parts} do: the last chunk must end at len(numbers) (or let pool.map "
                "split the list, with a chunksize)"
            )
    return None


# ------------------------------------------------------------- 2. Monte Carlo


def pi_input(rng: np.random.Generator, small: bool) -> tuple:
    # A few million points per task: each task is tens of milliseconds of NumPy work.
    base = 60_000_000 if small else 240_000_000
    # An odd count: no even task count divides it, so every draw has a remainder to place.
    n_samples = base + 2 * int(rng.integers(0, 5_000)) + 1
    return (int(rng.integers(0, 2**62)), n_samples, int(rng.choice([8, 12, 16])))


def pi_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """One task; a task count that leaves a remainder; fewer points than tasks (some draw none).
    The large cases come first: a wrong seeding or split gives a count that no other mistake
    gives, so the diagnosis names the right one."""
    seed = int(rng.integers(0, 2**62))
    return [(seed, 100_003, 1), (seed + 1, 1_000_003, 7), (seed + 2, 5, 8)]


def _sizes(n_samples: int, n_tasks: int) -> list[int]:
    base, extra = divmod(n_samples, n_tasks)
    return [base + (i < extra) for i in range(n_tasks)]


def diagnose_pi(args: tuple, expected: object, got: object) -> str | None:
    """Recompute the usual wrong seedings and splits, and say which one the answer is."""
    seed, n_samples, n_tasks = args[-3:]
    if not isinstance(got, float) or not isinstance(expected, float) or n_samples < 1:
        return None
    if abs(4.0 * got - expected) <= 1e-9 * abs(expected) or abs(got - expected / 4) <= 1e-12:
        return "the estimate is 4 times the fraction of points inside the quarter circle"
    hits = got * n_samples / 4.0
    sizes = _sizes(n_samples, n_tasks)
    found = []  # every usual mistake this answer matches: two can give the same count by chance
    if abs(hits - sum(mpwork.count_inside(seed, k) for k in sizes)) < 0.5:
        if n_tasks == 1:
            found.append(
                "the task drew from the seed itself, not from its own spawned stream; with more tasks, every "
                "task would draw the same random numbers. Give task i its own stream: children = "
                "np.random.SeedSequence(seed).spawn(n_tasks), and task i uses children[i]"
            )
        else:
            found.append(
                "every task drew the same random numbers: they all started from the same seed, so "
                f"{n_tasks} tasks gave {n_tasks} copies of one sample. Give task i its own stream: "
                "children = np.random.SeedSequence(seed).spawn(n_tasks), and task i uses children[i]"
            )
    if n_tasks > 1 and abs(hits - sum(mpwork.count_inside(seed + i, k) for i, k in enumerate(sizes))) < 0.5:
        found.append(
            "task i was seeded with seed + i: those streams are not the exercise's (nor guaranteed "
            "independent); use children = np.random.SeedSequence(seed).spawn(n_tasks)"
        )
    if n_samples % n_tasks:
        children = np.random.SeedSequence(seed).spawn(n_tasks)
        base = n_samples // n_tasks
        short = sum(mpwork.count_inside(c, base) for c in children)
        if abs(hits - short) < 0.5 or (base and abs(got - 4.0 * short / (base * n_tasks)) <= 1e-12):
            found.append(
                f"the tasks drew {base * n_tasks} points, not {n_samples}: the first "
                "n_samples % n_tasks tasks draw one point more"
            )
    if len(found) > 1:
        return "your answer matches more than one usual mistake: " + "; or ".join(found)
    return found[0] if found else None


# ---------------------------------------------------------- 3. rows of an array


def rows_input(rng: np.random.Generator, small: bool) -> tuple:
    rows = _prime_near(rng, 900, 1000) if small else _prime_near(rng, 3600, 3700)
    return (rng.uniform(-1.0, 1.0, size=(rows, 1500)),)


def rows_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """A single column of a prime number of rows; fewer rows than tasks; one row."""
    return [
        (rng.uniform(-1.0, 1.0, size=(37, 1)),),
        (rng.uniform(-1.0, 1.0, size=(3, 40)),),
        (rng.uniform(-1.0, 1.0, size=(1, 40)),),
    ]


def diagnose_rows(args: tuple, expected: object, got: object) -> str | None:
    """Name the rows that were never processed, or a result that never left shared memory."""
    (a,) = args
    if not isinstance(got, np.ndarray) or not isinstance(expected, np.ndarray) or got.shape != a.shape:
        return None
    bad = ~np.isclose(got, expected, rtol=1e-9, atol=1e-12).all(axis=1)
    if not bad.any():
        return None
    untouched = bad & ((got == 0).all(axis=1) | (got == a).all(axis=1))
    if untouched.all():
        what = "all zeros" if not got.any() else "the input unchanged"
        return (
            f"the result is {what}: the workers' results never reached the array you returned. Each "
            "worker must write into the shared block (dst[lo:hi] = ..., or mpwork.relax_into(src[lo:hi], "
            "dst[lo:hi])), and the parent must copy the block out after every worker has finished "
            "(np.ndarray(shape, dtype, buffer=shm.buf).copy()), before close() and unlink()"
        )
    n = a.shape[0]
    first = int(np.argmax(bad))
    if untouched[first:].all() and bad[first:].all():
        return (
            f"the last {n - first} of {n} rows were never processed: the chunk bounds stop short; the last "
            "chunk must end at the number of rows (for example np.linspace(0, n, n_tasks + 1).astype(int))"
        )
    if (untouched == bad).all():
        return (
            f"{int(bad.sum())} rows inside the array were never processed (row {first} first): the chunks "
            "leave gaps; each chunk [lo, hi) must start where the previous one ended (a slice [lo:hi] "
            "already leaves hi out)"
        )
    return None


# ---------------------------------------------------- 4. engines of a cluster


def engines_input(rng: np.random.Generator, small: bool) -> tuple:
    n_samples = 2_000_001 + 2 * int(rng.integers(0, 500))  # odd: a remainder for every task count
    return (int(rng.integers(0, 2**62)), n_samples, int(rng.choice([4, 6, 8])))


def engines_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """As for estimate_pi: one task; a remainder (the large case first); fewer points than tasks."""
    seed = int(rng.integers(0, 2**62))
    return [(seed, 10_007, 1), (seed + 1, 100_003, 7), (seed + 2, 3, 5)]


EXERCISES = [
    Exercise(
        name="chunked-map",
        title="Many small tasks: a pool and its chunksize",
        make_input=numbers_input,
        edge_inputs=numbers_edges,
        examples=STEPS_EXAMPLES,
        baseline=mpwork.total_steps_serial,
        reference="_reference:total_steps",
        diagnose=diagnose_steps,
        min_speedup=PARALLEL_BAR,
        parallel_workers=2,
        timeout_s=60.0,
        self_check_s=40.0,
        correct_hint="the answer is sum(map(mpwork.collatz_steps, numbers)), computed in worker processes; "
        "compare your function with mpwork.total_steps_serial on a short list",
        speed_hint="map mpwork.collatz_steps over the numbers with a pool of one process per core and a "
        "chunksize of hundreds or thousands: each task sent to a worker is pickled and sent through a pipe, "
        "which costs more than one collatz_steps call; a dozen or more chunks per process share out evenly",
    ),
    Exercise(
        name="monte-carlo",
        title="Monte Carlo with independent random streams",
        make_input=pi_input,
        edge_inputs=pi_edges,
        baseline=mpwork.estimate_pi_serial,
        reference="_reference:estimate_pi",
        verify=verify.close(rtol=1e-12),
        diagnose=diagnose_pi,
        min_speedup=PARALLEL_BAR,
        parallel_workers=2,
        timeout_s=60.0,
        self_check_s=40.0,
        correct_hint="task i draws with mpwork.count_inside(children[i], size_i), where children = "
        "np.random.SeedSequence(seed).spawn(n_tasks) and the sizes add up to n_samples, exactly as "
        "mpwork.estimate_pi_serial does; then the answer does not depend on how many processes ran the tasks",
        speed_hint="run the n_tasks calls of mpwork.count_inside in a pool with one process per core "
        "(pool.starmap, or executor.map with two iterables): each task is tens of milliseconds of work",
    ),
    Exercise(
        name="shared-rows",
        title="Rows of an array in shared memory",
        make_input=rows_input,
        edge_inputs=rows_edges,
        baseline=mpwork.relax_rows,
        reference="_reference:relax_shared",
        verify=verify.close(rtol=1e-12, atol=1e-14),
        diagnose=diagnose_rows,
        min_speedup=PARALLEL_BAR,
        parallel_workers=2,
        timeout_s=60.0,
        self_check_s=40.0,
        correct_hint="create the shared blocks, copy the input in, let every worker attach by name and "
        "process rows [lo, hi) of a chunking that covers all rows, wait for all of them, copy the result "
        "out (.copy(): a view of a closed block crashes the process that touches it), and only then "
        "close() and unlink(); a FileNotFoundError in a worker means the block was unlinked before that "
        "worker attached",
        speed_hint="give the worker processes chunks of rows (one process per core, a dozen or more "
        "chunks each, so that they share out evenly) and let each work on its rows in the shared block",
    ),
    Exercise(
        name="engines",
        title="The same tasks on ipyparallel engines",
        make_input=engines_input,
        edge_inputs=engines_edges,
        reference=mpwork.estimate_pi_serial,
        verify=verify.close(rtol=1e-12),
        diagnose=diagnose_pi,
        resource="ipyparallel",
        needs=("ipyparallel",),
        timeout_s=60.0,
        self_check_s=60.0,
        correct_hint="the same tasks as estimate_pi, mapped over the engines with "
        "client.load_balanced_view().map_sync(mpwork.count_inside, children, sizes): same seeds, same "
        "sizes, so the same answer however many engines there are",
    ),
]
