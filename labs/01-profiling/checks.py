"""Graded exercises of lab 01 (profiling). Released with the lab; the grader uses its own copy.

Sizes: every exercise draws fresh inputs per call. COURSE_SMALL=1 shrinks them so the
whole lab runs in small mode within the course's time budget; the bars hold in both
modes (see the stability report, `make check-stability`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import logpipe
import numpy as np

from autograder import Exercise, verify
from autograder.hardware import gpu_present

# ---------------------------------------------------------------- 1. find the hotspot


def _same_function(expected: str, got: object) -> str | None:
    if not isinstance(got, str):
        return f"HOTSPOT should be a function's name as a string, got a {type(got).__name__}"
    name = got.strip().split(".")[-1].removesuffix("()")
    if name == expected:
        return None
    return f"{got!r} is not the function where most of the time is spent"


# ------------------------------------------------------------------ 2. fix the hotspot


def report_input(rng: np.random.Generator, small: bool) -> tuple:
    n = 8_000 if small else 20_000
    return (logpipe.make_lines(rng, n, visitors=n // 2),)


# ------------------------------------------------------------- 3. reduce peak memory

_LOG_DIR = tempfile.mkdtemp(prefix="lab01-logs-")
atexit.register(shutil.rmtree, _LOG_DIR, True)


def log_file_input(rng: np.random.Generator, small: bool) -> tuple:
    """A fresh log file on disk; the argument is its path."""
    n = 40_000 if small else 150_000
    fd, path = tempfile.mkstemp(suffix=".log", dir=_LOG_DIR)
    # Inputs are generated a few at a time: keep only the newest files on disk.
    for old in sorted(os.listdir(_LOG_DIR), key=lambda f: os.path.getmtime(os.path.join(_LOG_DIR, f)))[:-8]:
        os.unlink(os.path.join(_LOG_DIR, old))
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(logpipe.make_lines(rng, n, visitors=2_000)))
        fh.write("\n")
    return (path,)


# ----------------------------------------------------------------- 4. GPU offload


def iterate_input(rng: np.random.Generator, small: bool) -> tuple:
    """x <- 0.5*cos(x) + c, `steps` times: a contraction, so rounding errors shrink."""
    if gpu_present():
        # The NumPy baseline makes `steps` passes over memory: about 2 s a call at 1M x 200.
        n, steps = (1 << 18, 100) if small else (1 << 20, 200)
    else:
        n, steps = 64, 8  # the CUDA simulator runs each GPU thread in Python
    x0 = rng.uniform(-1.0, 1.0, n)
    c = rng.uniform(-0.5, 0.5, n)
    return (x0, c, steps)


def iterate_numpy(x0: np.ndarray, c: np.ndarray, steps: int) -> np.ndarray:
    x = x0.copy()
    for _ in range(steps):
        x = 0.5 * np.cos(x) + c
    return x


def offload_input(rng: np.random.Generator, small: bool) -> tuple:
    n_bytes = float(10 ** rng.uniform(5, 10))
    flops_per_byte = float(10 ** rng.uniform(-1, 3))
    return (
        n_bytes,
        flops_per_byte,
        float(rng.uniform(8, 64)),
        float(rng.uniform(5e3, 6e4)),
        float(rng.uniform(50, 2e3)),
    )


# (n_bytes, flops_per_byte, link GB/s, GPU GFLOP/s, CPU GFLOP/s) -> pays off?
PAYS_OFF_EXAMPLES = (
    ((1e9, 0.25, 25.0, 5e4, 500.0), False),  # a vector add: the copies dominate
    ((1e9, 200.0, 25.0, 5e4, 500.0), True),  # heavy arithmetic per byte
    ((1e6, 1000.0, 25.0, 5e4, 500.0), True),
    ((1e8, 2.0, 16.0, 2e4, 100.0), False),
)


EXERCISES = [
    Exercise(
        name="hotspot",
        title="Find the hotspot with cProfile",
        metric="answer",
        expected="count_visitors",
        verify=_same_function,
        hint="sort the profile by 'tottime': the hotspot is where the time is spent, not where it is called",
    ),
    Exercise(
        name="fast-report",
        title="Fix the hotspot",
        make_input=report_input,
        baseline=logpipe.report,
        reference="_reference:fast_report",
        min_speedup=4.0,
        hint="a membership test on a list scans the whole list; which container answers it at once?",
    ),
    Exercise(
        name="stream-file",
        title="Reduce peak memory",
        metric="peak_memory",
        make_input=log_file_input,
        baseline=logpipe.summarize_file,
        reference="_reference:summarize_stream",
        min_speedup=4.0,
        hint="iterate over the open file line by line and keep running totals instead of lists",
    ),
    Exercise(
        name="gpu-iterate",
        title="Offload an arithmetic-heavy loop to the GPU",
        make_input=iterate_input,
        baseline=iterate_numpy,
        verify=verify.close(rtol=1e-9, atol=1e-12),
        spot_check=2048,  # 2048 random elements of every GPU result are recomputed on the CPU
        min_speedup=5.0,
        needs=("gpu",),
        fallback="ran on the CUDA simulator for correctness; speedup not graded",
        hint="copy to the device once, run all the steps inside the kernel, copy back once",
    ),
    Exercise(
        name="pays-off",
        title="Decide when the GPU pays off",
        make_input=offload_input,
        reference="_reference:pays_off",
        examples=PAYS_OFF_EXAMPLES,
        hint="count both copies: to the device and back",
    ),
]
