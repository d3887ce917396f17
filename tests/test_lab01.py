"""Lab 01's checks on their own: nothing released gives an answer away, and the checks that
decide near a boundary catch each common mistake every time, not by luck."""

import cProfile
import math
import os
import pstats
import sys

import nbformat
import numpy as np
import pytest
from conftest import ROOT

from autograder import verify
from autograder.correctness import Inputs, cases

SOLUTION = ROOT / "solutions" / "01-profiling"
RELEASED = ROOT / "labs" / "01-profiling"


@pytest.fixture(scope="module")
def lab01():
    sys.path.insert(0, str(SOLUTION))
    from autograder.spec import load_lab, private_module

    lab = load_lab(SOLUTION)
    return lab, private_module(SOLUTION)


# ------------------------------------------------------------ nothing given away


def test_the_released_lab_does_not_name_the_hotspot(lab01):
    answer = lab01[1].HOTSPOT
    assert answer not in (RELEASED / "checks.py").read_text()
    nb = nbformat.read(RELEASED / "01-profiling-lab.ipynb", as_version=4)
    assert all(answer not in cell.source for cell in nb.cells)
    logpipe = (RELEASED / "logpipe.py").read_text().lower()
    for tell in ("hotspot", "quadratic", "scans", "a set", "linear"):
        assert tell not in logpipe, f"logpipe.py says {tell!r}"
    stubs = " ".join(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")).lower()
    assert "linear" not in stubs and "set(" not in stubs


def test_the_salted_digest_is_the_function_profiling_finds(lab01):
    lab, ref = lab01
    ex = lab.get("hotspot")
    assert ex.verify(None, ref.HOTSPOT) is None
    assert ex.verify(None, f"logpipe.{ref.HOTSPOT}()") is None
    assert "not the logpipe function" in ex.verify(None, "report")
    # And profiling agrees: the most own time in a profile of report(lines) is that function's.
    import logpipe

    lines = sys.modules[lab.get("hotspot-share").reference.__module__].lab_lines()
    profiler = cProfile.Profile()
    profiler.runcall(logpipe.report, lines)
    own = {
        k[2]: v[2] for k, v in pstats.Stats(profiler).stats.items() if os.path.basename(k[0]) == "logpipe.py"
    }
    assert max(own, key=own.get) == ref.HOTSPOT


def test_answers_are_judged_without_showing_the_measured_value(lab01):
    lab, _ = lab01
    check = lab.get("hotspot-share").verify
    assert check(0.72, 0.75) is None
    message = check(0.72, 0.95)
    assert "0.72" not in message and "as this check measured it" in message
    assert "percentage" in check(0.72, 72.0)
    assert "between 0 and 1" in check(0.72, "0.7")


# ------------------------------------------------- boundary checks: caught every time


def _pays_off_mistakes():
    def model(
        bytes_in, bytes_out, flops, m, *, copies=2, latencies=2, gb=1e9, latency_unit=1e-6, kernel=True
    ):
        link = m["link_gb_s"] * gb
        transfer = (
            latencies * m["latency_us"] * latency_unit + (bytes_in + (bytes_out if copies == 2 else 0)) / link
        )
        gpu = transfer + (flops / (m["gpu_gflops"] * 1e9) if kernel else 0)
        return gpu < flops / (m["cpu_gflops"] * 1e9)

    return {
        "no copy back": lambda *a: model(*a, copies=1, latencies=1),
        "no copy back (bytes only)": lambda *a: model(*a, copies=1),
        "GiB instead of GB": lambda *a: model(*a, gb=2**30),
        "one latency": lambda *a: model(*a, latencies=1),
        "latency in seconds": lambda *a: model(*a, latency_unit=1.0),
        "latency in milliseconds": lambda *a: model(*a, latency_unit=1e-3),
        "no latency": lambda *a: model(*a, latencies=0),
        "kernel time forgotten": lambda *a: model(*a, kernel=False),
        "GPU compute only": lambda b_in, b_out, f, m: (
            f / (m["gpu_gflops"] * 1e9) < f / (m["cpu_gflops"] * 1e9)
        ),
        "comparison reversed": lambda *a: not model(*a),
    }


def test_pays_off_examples_are_right_and_catch_every_mistake(lab01):
    lab, ref = lab01
    ex = lab.get("pays-off")
    for args, want in ex.examples:
        assert ref.pays_off(*args) is want, args
    for name, wrong in _pays_off_mistakes().items():
        assert any(wrong(*args) != want for args, want in ex.examples), f"the examples miss '{name}'"


def test_pays_off_grading_catches_every_mistake_on_every_draw(lab01):
    """Defect 6 of the review: a forgotten copy back passed 92% of random grading inputs.
    The edge cases around the break-even point now catch it, and each other slip, always."""
    lab, ref = lab01
    ex = lab.get("pays-off")
    mistakes = _pays_off_mistakes()
    for _ in range(300):
        checked, _ = cases(ex, small=True, n_random=3)
        graded = [c for c in checked if c.origin != "worked example"]
        for name, wrong in mistakes.items():
            assert any(wrong(*c.args) != c.expected.value for c in graded), f"'{name}' slipped through"


def test_amdahl_examples_and_edges_catch_the_usual_slips(lab01):
    lab, ref = lab01
    ex = lab.get("amdahl")
    slips = {
        "Gustafson": lambda p, s: (1 - p) + p * s,
        "p swapped": lambda p, s: 1 / (p + (1 - p) / s),
        "the ceiling only": lambda p, s: 1 / (1 - p) if p < 1 else math.inf,
        "percent": lambda p, s: 1 / ((1 - p / 100) + p / 100 / s),
        "just s": lambda p, s: s,
    }
    for args, want in ex.examples:
        assert math.isclose(ref.amdahl_speedup(*args), want, rel_tol=1e-12)
    close = verify.close(rtol=1e-9)
    for name, slip in slips.items():
        assert any(close(want, slip(*args)) for args, want in ex.examples), f"the examples miss '{name}'"
        edges = Inputs(ex, small=True).edges()
        assert any(close(ref.amdahl_speedup(*a), slip(*a)) for a in edges), f"the edges miss '{name}'"


# ------------------------------------------------------------ GPU exercises' checks


def test_timing_check_on_the_fallback_checks_keys_types_and_signs(lab01):
    lab, _ = lab01
    check = lab.get("gpu-timings").check_measurements
    args = [(np.zeros(3), np.zeros(3), 2), (np.zeros(3), np.zeros(3), 32)]
    zeros = {"host_to_device_ms": 0.0, "kernel_ms": 0.0, "device_to_host_ms": 0.0}
    assert check(args, [zeros, zeros], [0.01, 0.02], False) is None
    assert "exactly" in check(args, [{"h2d": 1.0}, zeros], [0.01, 0.02], False)
    assert "negative" in check(args, [{**zeros, "kernel_ms": -1.0}, zeros], [0.01, 0.02], False)
    assert "dict" in check(args, [(0.0, 0.0, 0.0), zeros], [0.01, 0.02], False)


def test_timing_check_on_a_gpu_sees_async_launches_and_wrong_units(lab01):
    """What the GPU half of the check concludes from numbers shaped like a real device's."""
    lab, _ = lab01
    check = lab.get("gpu-timings").check_measurements
    x0 = np.zeros(1 << 20)
    args = [(x0, x0, 50), (x0, x0, 800)]
    walls = [0.0040, 0.0110]
    honest = [
        {"host_to_device_ms": 1.3, "kernel_ms": 0.45, "device_to_host_ms": 0.7},
        {"host_to_device_ms": 1.3, "kernel_ms": 7.2, "device_to_host_ms": 0.7},
    ]
    assert check(args, honest, walls, True) is None
    launch_only = [{**o, "kernel_ms": 0.01} for o in honest]
    assert "that is the launch" in check(args, launch_only, walls, True)
    seconds = [{k: v / 1e3 for k, v in o.items()} for o in honest]
    assert "are yours seconds?" in check(args, seconds, walls, True)
    micro = [{k: v * 1e3 for k, v in o.items()} for o in honest]
    assert "are they in milliseconds?" in check(args, micro, walls, True)


def test_iterate_diagnosis_names_the_mistake(lab01):
    lab, _ = lab01
    ex = lab.get("gpu-iterate")
    checks = sys.modules[ex.diagnose.__module__]
    x0, c, steps = checks.iterate_input(np.random.default_rng(1), True)
    right = checks.iterate_numpy(x0, c, steps)
    assert "copy the result back" in ex.diagnose((x0, c, steps), right, x0.copy())
    tail = right.copy()
    tail[-5:] = x0[-5:]
    assert "blocks = (n + threads_per_block - 1)" in ex.diagnose((x0, c, steps), right, tail)
    assert "float64" in ex.diagnose((x0, c, steps), right, right.astype(np.float32))
    assert "one step" in ex.diagnose((x0, c, steps), right, 0.5 * np.cos(x0) + c)
    assert x0.size % 2 == 1, "n must be odd so that no block size divides it"
