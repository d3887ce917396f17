"""Graded exercises of lab 01 (profiling). Released with the lab; the grader uses its own copy.

Sizes: every exercise draws fresh inputs per call. COURSE_SMALL=1 shrinks them so the
whole lab runs in small mode within the course's time budget; the bars hold in both
modes (see the stability report, `make check-stability`). Exercise 1 profiles the same
lines in every mode, so the share of time it asks for does not depend on the mode.
"""

from __future__ import annotations

import cProfile
import math
import os
import pstats
import statistics
import tempfile

import logpipe
import numpy as np

from autograder import Exercise, verify
from autograder.correctness import input_folder
from autograder.hardware import gpu_present

# ------------------------------------------------------- 1. where does the time go?

# The hotspot's share depends on the number of distinct visitors, not on the number of
# lines, so many lines make each profile long enough (about 0.2 s) to be steady.
PROFILE_SEED, PROFILE_LINES, PROFILE_VISITORS = 2026, 24_000, 1_500
# How far a student's measured share (the median of three profiles) may be from the
# checker's (the median of five): see the measured answers in autograder/STABILITY.md. A
# single profile strays further, and one taken without the warm-up call comes out lower
# (about 0.65 to 0.70 instead of 0.72 to 0.75 on 2 cores): the median of three absorbs both.
SHARE_TOLERANCE = 0.10


def lab_lines() -> list[str]:
    """The log lines exercise 1 profiles (and the lab's `lines`)."""
    return logpipe.make_lines(np.random.default_rng(PROFILE_SEED), PROFILE_LINES, visitors=PROFILE_VISITORS)


def top_own_time_share(repeats: int = 5) -> float:
    """The largest own-time share (tottime / total_tt) of one logpipe function in a profile
    of logpipe.report(lab_lines()): after one warm-up call, the median of ``repeats``
    profiles, measured now."""
    lines = lab_lines()
    logpipe.report(lines)  # the first call pays one-off costs, as the lecture's timings do
    shares = []
    for _ in range(repeats):
        profiler = cProfile.Profile()
        profiler.runcall(logpipe.report, lines)
        stats = pstats.Stats(profiler)
        own = [row[2] for (path, _, _), row in stats.stats.items() if os.path.basename(path) == "logpipe.py"]
        shares.append(max(own) / stats.total_tt)
    return statistics.median(shares)


# What the lab asks of the student: the median of three profiles. The stability report
# measures a student's value this way, in a fresh process, against the checker's.
top_own_time_share.student_repeats = 3


def amdahl_input(rng: np.random.Generator, small: bool) -> tuple:
    return (float(rng.uniform(0.0, 0.99)), float(10 ** rng.uniform(0, 3)))


def amdahl_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    p, s = amdahl_input(rng, small)
    return [(p, math.inf), (0.0, s), (1.0, s), (p, 1.0)]


# (p, s) -> overall speedup; they catch the usual slips (Gustafson's formula, p and 1-p
# swapped, a percentage, s = infinity).
AMDAHL_EXAMPLES = (
    ((0.9, 10.0), 1 / 0.19),
    ((0.75, math.inf), 4.0),
    ((0.5, 2.0), 4 / 3),
    ((0.0, 100.0), 1.0),
    ((0.6, 1.0), 1.0),
)

# ------------------------------------------------------------ 2. fix the hotspot

_MALFORMED = ("", "-", "GET / HTTP/1.1", "garbage in the log")


def _with_malformed(rng: np.random.Generator, lines: list[str]) -> list[str]:
    """Real logs hold lines the parser rejects: a few of every input are broken."""
    for i in rng.choice(len(lines), size=max(4, len(lines) // 500), replace=False):
        kind = int(i) % (len(_MALFORMED) + 1)
        lines[i] = lines[i][: len(lines[i]) // 2] if kind == len(_MALFORMED) else _MALFORMED[kind]
    return lines


def report_input(rng: np.random.Generator, small: bool) -> tuple:
    n = 8_000 if small else 20_000
    return (_with_malformed(rng, logpipe.make_lines(rng, n, visitors=n // 2)),)


_KEY_HINTS = {
    "requests": "count only the lines logpipe.parse understands (it returns None for the others)",
    "visitors": "count the distinct IP addresses (record[0]) of the parsed records",
    "server_errors": "a server error is any status of 500 or more",
    "top_paths": "the 5 most requested paths with their counts, ties broken by path (as logpipe.top_paths)",
    "bytes_per_hour": "24 totals, one per hour 0 to 23, of the bytes in each record",
}


def diagnose_summary(args: tuple, expected: object, got: object) -> str | None:
    """Name the first key of the summary that differs, with what that key must hold."""
    if not isinstance(expected, dict) or not isinstance(got, dict):
        return None
    for key, hint in _KEY_HINTS.items():
        if got.get(key) != expected.get(key):
            return f"{key}: {hint}"
    return None


# ------------------------------------------------------------- 3. reduce peak memory

def log_file_input(rng: np.random.Generator, small: bool) -> tuple:
    """A fresh log file on disk; the argument is its path."""
    n = 40_000 if small else 150_000
    folder = input_folder("lab01-logs-")  # inside the box being graded, when grading
    fd, path = tempfile.mkstemp(suffix=".log", dir=folder)
    os.fchmod(fd, 0o644)
    # Inputs are generated a few at a time: keep only the newest files on disk.
    for old in sorted(os.listdir(folder), key=lambda f: os.path.getmtime(os.path.join(folder, f)))[:-8]:
        os.unlink(os.path.join(folder, old))
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(_with_malformed(rng, logpipe.make_lines(rng, n, visitors=300))))
        fh.write("\n")
    return (path,)


# ----------------------------------------------------------------- 4. GPU offload


def iterate_input(rng: np.random.Generator, small: bool) -> tuple:
    """x <- 0.5*cos(x) + c, `steps` times: a contraction, so rounding errors shrink.

    n is odd, so it is never a multiple of a block size: a launch one block short
    leaves the last elements unprocessed, and the check sees them."""
    if gpu_present():
        # The NumPy baseline makes `steps` passes over memory: about 2 s a call at 1M x 200.
        n, steps = ((1 << 18) if small else (1 << 20)), (100 if small else 200)
        n += 2 * int(rng.integers(0, 512)) + 1
    else:
        n, steps = 2 * int(rng.integers(64, 128)) + 1, 8  # the simulator runs each thread in Python
    x0 = rng.uniform(-1.0, 1.0, n)
    c = rng.uniform(-0.5, 0.5, n)
    return (x0, c, steps)


def iterate_numpy(x0: np.ndarray, c: np.ndarray, steps: int) -> np.ndarray:
    x = x0.copy()
    for _ in range(steps):
        x = 0.5 * np.cos(x) + c
    return x


def diagnose_iterate(args: tuple, expected: object, got: object) -> str | None:
    x0, c, steps = args
    if not isinstance(got, np.ndarray) or got.shape != x0.shape:
        return None
    if got.dtype != np.float64:
        return f"the result is {got.dtype}: keep x0, c and the result in float64"
    unchanged = got == x0
    if unchanged.all():
        return (
            "the result is x0 unchanged: copy the result back from the device after the kernel "
            "(d_x.copy_to_host()), and check that the launch has at least one block"
        )
    if unchanged[-1] and not unchanged[0]:
        return (
            f"the last elements are x0 unchanged: the launch covered fewer than {x0.size} threads; "
            "use blocks = (n + threads_per_block - 1) // threads_per_block"
        )
    if steps > 1 and np.allclose(got, 0.5 * np.cos(x0) + c, rtol=1e-12, atol=0):
        return f"the result is one step of the update: each thread must run all {steps} steps"
    return None


TIMING_KEYS = ("host_to_device_ms", "kernel_ms", "device_to_host_ms")
_GROWTH = 16  # the edge cases run the same input with `steps` and 16 * `steps`


def timing_input(rng: np.random.Generator, small: bool) -> tuple:
    x0, c, _ = iterate_input(rng, small)
    return (x0, c, 50 if gpu_present() else 2)


def timing_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    x0, c, steps = timing_input(rng, small)
    return [(x0, c, steps), (x0, c, steps * _GROWTH)]


def check_timings(args_list: list[tuple], outputs: list, walls_s: list[float], full: bool) -> str | None:
    """Keys, types and signs everywhere; on a GPU also whether the numbers behave like
    real timings: kernel time grows with steps, and the phases fit inside the call."""
    for out in outputs:
        if not isinstance(out, dict):
            keys = ", ".join(TIMING_KEYS)
            return f"offload_timings should return a dict with keys {keys}; got a {type(out).__name__}"
        if sorted(out) != sorted(TIMING_KEYS):
            return (
                f"offload_timings returned keys {sorted(out)}; it should return exactly {list(TIMING_KEYS)}"
            )
        for key in TIMING_KEYS:
            value = out[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"{key} is {value!r}; each value is a number of milliseconds"
            if value < 0:
                return f"{key} is {value:g}; a duration cannot be negative"
    if not full:
        return None
    for out, wall in zip(outputs, walls_s):
        total, wall_ms = sum(out.values()), wall * 1e3
        if total > 1.2 * wall_ms + 1.0:
            return (
                f"the phases add up to {total:.3g} ms, but the whole call took {wall_ms:.3g} ms: "
                "are they in milliseconds?"
            )
        if total < 0.02 * wall_ms:
            return (
                f"the phases add up to {total:.3g} ms, but the whole call took {wall_ms:.3g} ms: "
                "elapsed_time gives milliseconds; are yours seconds?"
            )
    # The edge pair: the same arrays, with steps and _GROWTH * steps.
    for i, (x0, _, steps) in enumerate(args_list):
        for j, (other, _, more) in enumerate(args_list):
            if other is x0 and more == _GROWTH * steps:
                short, long = outputs[i]["kernel_ms"], outputs[j]["kernel_ms"]
                if long < 3 * short:
                    return (
                        f"kernel_ms went from {short:.3g} to {long:.3g} ms when steps grew {_GROWTH}x: "
                        "that is the launch, not the kernel (a launch returns at once); record an event "
                        "after the kernel and synchronize before reading it"
                    )
    return None


def pays_off_input(rng: np.random.Generator, small: bool) -> tuple:
    bytes_in = float(10 ** rng.uniform(3, 10))
    bytes_out = float(bytes_in * rng.uniform(0.1, 1.0))
    flops = float(bytes_in * 10 ** rng.uniform(-2, 4))
    machine = {
        "link_gb_s": float(rng.uniform(8, 64)),
        "latency_us": float(rng.uniform(5, 50)),
        "cpu_gflops": float(rng.uniform(50, 2000)),
        "gpu_gflops": float(rng.uniform(5e3, 6e4)),
    }
    return (bytes_in, bytes_out, flops, machine)


_MACHINE = {"link_gb_s": 25.0, "latency_us": 10.0, "cpu_gflops": 1000.0, "gpu_gflops": 20000.0}
_SLOW_GPU = {"link_gb_s": 25.0, "latency_us": 10.0, "cpu_gflops": 1000.0, "gpu_gflops": 5000.0}

# (bytes_in, bytes_out, flops, machine) -> pays off? A few clear cases, then pairs a
# little below and a little above the break-even point, where a forgotten copy back, GiB
# for GB, one latency instead of two or a forgotten kernel time give the other answer.
PAYS_OFF_EXAMPLES = (
    ((1.6e10, 8e9, 1e9, _MACHINE), False),  # c = a + b on 1e9 float64 elements: the copies dominate
    ((8e8, 8e8, 2e13, _MACHINE), True),  # heavy arithmetic per byte
    ((1e4, 1e4, 2.16e7, _MACHINE), False),
    ((1e4, 1e4, 2.22e7, _MACHINE), True),
    ((1e9, 5e8, 6.23e10, _MACHINE), False),
    ((1e9, 5e8, 6.41e10, _MACHINE), True),
    ((1e9, 1e9, 9.86e10, _SLOW_GPU), False),
    ((1e9, 1e9, 1.015e11, _SLOW_GPU), True),
)


EXERCISES = [
    Exercise(
        name="hotspot",
        title="Find the hotspot with cProfile",
        metric="answer",
        verify=verify.function_name(
            "lab01-2026",
            "038e757dd59536d1b0d040231f08ccf0ddf94d837d66fedd327bc3dca4c07a2e",
            "the logpipe function that spends the most time in its own body",
        ),
        correct_hint="sort the profile by 'tottime' (own time), not 'cumulative': "
        "the hotspot is where the time is spent, not where it is called from",
    ),
    Exercise(
        name="hotspot-share",
        title="Measure the hotspot's share of the run time",
        metric="answer",
        reference=top_own_time_share,
        verify=verify.measured_fraction(SHARE_TOLERANCE, "the hotspot's share of the profiled time"),
        correct_hint="profile logpipe.report(lines) once, then divide the hotspot's tottime "
        "by stats.total_tt (pstats.Stats(profiler).total_tt)",
    ),
    Exercise(
        name="amdahl",
        title="Amdahl's law",
        make_input=amdahl_input,
        edge_inputs=amdahl_edges,
        reference="_reference:amdahl_speedup",
        examples=AMDAHL_EXAMPLES,
        verify=verify.close(rtol=1e-9),
        correct_hint="the part that is not sped up, 1 - p, still takes its full time; "
        "the part p takes p / s; the speedup is 1 over their sum",
    ),
    Exercise(
        name="fast-report",
        title="Fix the hotspot",
        make_input=report_input,
        baseline=logpipe.report,
        reference="_reference:fast_report",
        diagnose=diagnose_summary,
        min_speedup=4.0,
        correct_hint="run logpipe.report(lines) and your function on the same lines; compare key by key",
        speed_hint="profile your fast_report: if the hotspot of exercise 1 still dominates, "
        "change how it remembers the visitors it has already seen",
    ),
    Exercise(
        name="stream-file",
        title="Reduce peak memory",
        metric="peak_memory",
        make_input=log_file_input,
        baseline=logpipe.summarize_file,
        reference="_reference:summarize_stream",
        diagnose=diagnose_summary,
        min_speedup=4.0,
        correct_hint="run logpipe.summarize_file(path) and your function on one file; compare key by key",
        speed_hint="iterate over the open file (for line in fh) and keep running totals: "
        "no list of lines, no list of records",
    ),
    Exercise(
        name="gpu-iterate",
        title="Offload an arithmetic-heavy loop to the GPU",
        make_input=iterate_input,
        baseline=iterate_numpy,
        verify=verify.close(rtol=1e-9, atol=1e-12),
        diagnose=diagnose_iterate,
        spot_check=2048,  # its ends and random elements of every GPU result are recomputed on the CPU
        min_speedup=5.0,
        needs=("gpu",),
        fallback="ran on the CUDA simulator for correctness; speedup not graded",
        correct_hint="as in the lecture's first kernel: one thread per element (i = cuda.grid(1), "
        "guarded by i < n), all the steps inside the kernel, enough blocks for n, copy_to_host at the end",
        speed_hint="copy to the device once, run all the steps inside one kernel launch, copy back once; "
        "time the phases (4b) to see which one dominates",
    ),
    Exercise(
        name="gpu-timings",
        title="Where does the offload's time go?",
        make_input=timing_input,
        edge_inputs=timing_edges,
        check_measurements=check_timings,
        needs=("gpu",),
        fallback="the simulator's CUDA events record no time, so only the keys and types were checked",
        correct_hint="record a CUDA event before and after each phase, synchronize on the last one, "
        "and return start.elapsed_time(end) (milliseconds) for each phase",
    ),
    Exercise(
        name="pays-off",
        title="Decide when the GPU pays off",
        make_input=pays_off_input,
        edge_inputs="_reference:pays_off_edges",
        reference="_reference:pays_off",
        examples=PAYS_OFF_EXAMPLES,
        correct_hint="t_GPU has two copies (in and back), each latency_us * 1e-6 + bytes / (link_gb_s * 1e9) "
        "seconds, plus flops / (gpu_gflops * 1e9); compare it with flops / (cpu_gflops * 1e9)",
    ),
]
