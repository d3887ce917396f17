"""Graded exercises of lab 02 (data containers). Released with the lab; the grader uses its own copy.

Sizes: every exercise draws fresh inputs per call. COURSE_SMALL=1 shrinks them so the
whole lab runs in small mode within the course's time budget; the bars hold in both
modes. Edge cases sit where the common mistakes show: a SKU listed twice, points at
equal distance from two stations, coordinates whose squares overflow 32 bits, files
whose chunks have different means.
"""

from __future__ import annotations

import math
import os
import tempfile

import inherited
import numpy as np

from autograder import Exercise, verify
from autograder.correctness import input_folder
from autograder.hardware import gpu_present

# ----------------------------------------------------------------------- 1. invoice


def _columns(**columns: list[int]) -> dict[str, np.ndarray]:
    return {name: np.array(values, dtype=np.int64) for name, values in columns.items()}


def invoice_input(rng: np.random.Generator, small: bool) -> tuple:
    """A catalogue of m SKUs (7-digit article numbers; one in twenty listed a second time,
    later, at another price) and n order lines, one in twenty for a SKU it does not list."""
    m = n = 2_500 if small else 5_000
    codes = (1_000_000 + rng.choice(9_000_000, size=m + m // 10, replace=False)).tolist()
    listed, unlisted = codes[:m], codes[m:]
    catalogue = list(zip(listed, rng.integers(50, 100_000, size=m).tolist()))
    for i in rng.choice(m, size=m // 20, replace=False):
        where = int(rng.integers(i + 1, len(catalogue) + 1))
        catalogue.insert(where, (listed[i], int(rng.integers(50, 100_000))))
    picks = rng.integers(0, m, size=n).tolist()
    strays = rng.integers(0, len(unlisted), size=n).tolist()
    stray = (rng.random(n) < 0.05).tolist()
    skus = [unlisted[strays[i]] if stray[i] else listed[picks[i]] for i in range(n)]
    orders = _columns(sku=skus, quantity=rng.integers(1, 20, size=n).tolist())
    return (orders, _columns(sku=[c for c, _ in catalogue], cents=[p for _, p in catalogue]))


def invoice_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    a, b, c, d = (1_000_000 + rng.choice(9_000_000, size=4, replace=False)).tolist()
    return [
        (_columns(sku=[], quantity=[]), _columns(sku=[a], cents=[100])),  # nothing ordered
        (_columns(sku=[a, b], quantity=[2, 1]), _columns(sku=[], cents=[])),  # an empty catalogue
        (_columns(sku=[a, b, a], quantity=[3, 1, 1]), _columns(sku=[a, b, a], cents=[250, 40, 999])),
        (_columns(sku=[d, c, d, a], quantity=[1, 5, 2, 1]), _columns(sku=[a], cents=[7])),  # d twice
    ]


# (orders, catalogue) -> (total in cents, unknown SKUs): each catches a usual slip (the
# last price of a SKU listed twice, the quantity forgotten, an unknown SKU listed twice).
INVOICE_EXAMPLES = (
    ((_columns(sku=[11, 22], quantity=[2, 1]), _columns(sku=[11, 22], cents=[150, 99])), (399, [])),
    ((_columns(sku=[11, 33], quantity=[1, 4]), _columns(sku=[11, 11], cents=[150, 175])), (150, [33])),
    ((_columns(sku=[99, 88, 99], quantity=[1, 1, 2]), _columns(sku=[11], cents=[5])), (0, [88, 99])),
)


def verify_invoice(expected: object, got: object) -> str | None:
    """The exact pair; the unknown SKUs may come as a list or as a NumPy array of ints."""
    if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], np.ndarray):
        if got[1].dtype.kind not in "iu":
            return f"unknown should hold the SKUs as ints, got an array of dtype {got[1].dtype}"
        got = (got[0], got[1].tolist())
    return verify.exact()(expected, got)


def _pairs(table: dict) -> list[tuple[int, int]]:
    return list(zip(table["sku"].tolist(), table["cents"].tolist()))


def diagnose_invoice(args: tuple, expected: object, got: object) -> str | None:
    orders, catalogue = args
    if not isinstance(got, (tuple, list)) or len(got) != 2 or not isinstance(expected, (tuple, list)):
        return "return a pair: (total_cents, unknown), an int and a sorted list of SKUs"
    total, unknown = got
    want_total, want_unknown = expected
    if isinstance(total, float):
        return "the total is in cents, an int: prices are whole cents, so no division and no float"
    lines = list(zip(orders["sku"].tolist(), orders["quantity"].tolist()))
    if total != want_total:
        last = dict(_pairs(catalogue))
        if total == sum(last[s] * q for s, q in lines if s in last):
            return (
                "a SKU listed twice in the catalogue is priced by its FIRST entry; dict(pairs) keeps "
                "the last one, so skip SKUs that are already in your dict (or build it from the end)"
            )
        first: dict[int, int] = {}
        for sku, cents in _pairs(catalogue):
            first.setdefault(sku, cents)
        if total == sum(first[s] for s, _ in lines if s in first):
            return "each order line has a quantity: multiply the price by orders['quantity']"
    if isinstance(unknown, np.ndarray):
        unknown = unknown.tolist()
    if unknown != want_unknown and isinstance(unknown, (list, tuple)):
        if sorted(set(unknown)) == want_unknown:
            return "unknown: each unknown SKU once, sorted (sorted(set_of_unknown))"
    return None


# ---------------------------------------------------------------- 2. nearest station

SIDE = 200_000  # metres: the points and stations lie in a 200 km square, except two outposts

# Outpost 1, 1,000 km from the square: from its point, station 1 is 99,999 m away along an
# axis and station 0 is 4 m^2 farther, off the axis (float32 cannot tell them apart).
# Outpost 2, 500 km further: its point is exactly as far from stations 2 and 3.
_NEAR_TIE, _TIE = np.array([1_000_000, 1_000_000]), np.array([1_000_000, 1_500_000])
_OUTPOST_POINTS = np.array([_NEAR_TIE + (50_000, 50_000), _TIE + (60_000, 0)], dtype=np.int32)
_OUTPOST_STATIONS = np.array(
    [
        _NEAR_TIE + (110_001, 129_998),
        _NEAR_TIE + (149_999, 50_000),
        _TIE + (70_000, 0),
        _TIE + (50_000, 0),
    ],
    dtype=np.int32,
)


def stations_input(rng: np.random.Generator, small: bool) -> tuple:
    """Points and stations across the square, then the outposts', so that every input holds
    a near tie and an exact tie: a wrong dtype or tie rule fails on every call, timed or not."""
    n, k = (2_500, 250) if small else (4_000, 400)
    points = rng.integers(0, SIDE + 1, size=(n, 2)).astype(np.int32)
    stations = rng.integers(0, SIDE + 1, size=(k, 2)).astype(np.int32)
    return (np.vstack([points, _OUTPOST_POINTS]), np.vstack([stations, _OUTPOST_STATIONS]))


def stations_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """Ties (the lowest index wins), squares past 2**31 at the corners, a near-tie that
    float32 cannot tell apart, and a single station."""
    p = np.array([[50_000, 50_000]], dtype=np.int32)
    # From p, station 1 is 99,999 m away along an axis and station 0 is 4 m^2 farther, off the
    # axis: float32 sees a tie (and picks 0); |dx| + |dy| still picks 1.
    near_tie = np.array([[110_001, 129_998], [149_999, 50_000]], dtype=np.int32)
    corners = np.array([[0, 0], [SIDE, SIDE], [0, SIDE], [SIDE, 0]], dtype=np.int32)
    tie = np.array([[10_000, 0], [0, 10_000], [20_000, 20_000]], dtype=np.int32)
    far = rng.integers(0, SIDE + 1, size=(64, 2)).astype(np.int32)
    return [
        (np.vstack([corners, far]), corners[::-1].copy()),  # every difference reaches 200 km
        (np.array([[0, 0], [10_000, 10_000], [5_000, 5_000]], dtype=np.int32), tie),  # equal distances
        (far, far[:1].copy()),  # one station: every point's answer is 0
        (p, near_tie),  # only float32 goes wrong here
    ]


def _argmin_rows(d2: np.ndarray) -> np.ndarray:
    return d2.argmin(axis=1).astype(np.int64)


def diagnose_nearest(args: tuple, expected: object, got: object) -> str | None:
    points, stations = args
    if not isinstance(got, np.ndarray):
        return None
    n, k = len(points), len(stations)
    if got.shape == (k,) and n != k:
        return "one index per POINT: take the argmin over the stations' axis (axis=1 of an (n, k) array)"
    if got.shape != (n,):
        return None
    if got.dtype.kind == "f":
        return "return the index of the nearest station (an int64 array), not its distance"
    with np.errstate(over="ignore", invalid="ignore"):
        d32 = points[:, None, :] - stations[None, :, :]  # int32, as given
        wrapped = (d32 * d32).sum(axis=2)
        # Wrapped squares, compared as they are or after a square root (NaN where negative).
        if any(np.array_equal(got, _argmin_rows(d)) for d in (wrapped, np.sqrt(wrapped.astype(np.float64)))):
            return (
                "integer overflow: the inputs are int32 and a squared difference of 200 km (4e10 m^2) "
                "does not fit in 32 bits (a wrapped square can be negative: sqrt warns of NaN); "
                "convert to int64 (or float64) before squaring"
            )
    f32 = points[:, None, :].astype(np.float32) - stations[None, :, :].astype(np.float32)
    if np.array_equal(got, _argmin_rows((f32 * f32).sum(axis=2))):
        return "float32 rounding: distances near 1e10 m^2 differ by a few m^2; compute in int64 or float64"
    d = points[:, None, :].astype(np.int64) - stations[None, :, :]
    d2 = (d * d).sum(axis=2)
    last = k - 1 - d2[:, ::-1].argmin(axis=1)
    if np.array_equal(got, last):
        return "on a tie the lowest index wins, as np.argmin does (in a loop: < rather than <=)"
    if np.array_equal(got, _argmin_rows(np.abs(d).sum(axis=2))):
        return "the distance is Euclidean: (dx**2 + dy**2), not |dx| + |dy|"
    return None


# --------------------------------------------------------------------- 3. file stats

CHUNK_HINT = 1 << 16  # values per read that keep a reader's memory near 1 MiB


def _northing(rng: np.random.Generator, n: int) -> np.ndarray:
    """A GPS receiver that stands still: its northing in metres on a national grid (about
    1.2 million, as on the Swiss LV95 grid), a slow drift of a few metres, and 1.5 m of noise."""
    t = np.arange(n, dtype=np.float64) / n
    base = 1_200_000.0 + rng.uniform(-1_000, 1_000)
    drift = rng.uniform(1, 4) * np.sin(2 * np.pi * (rng.uniform(0.5, 2) * t + rng.uniform()))
    return base + drift + rng.normal(0.0, 1.5, n)


def _write_values(values: np.ndarray) -> str:
    folder = input_folder("lab02-values-")  # inside the box being graded, when grading
    fd, path = tempfile.mkstemp(suffix=".f64", dir=folder)
    os.fchmod(fd, 0o644)
    # Inputs are generated a few at a time: keep only the newest files on disk.
    for old in sorted(os.listdir(folder), key=lambda f: os.path.getmtime(os.path.join(folder, f)))[:-8]:
        os.unlink(os.path.join(folder, old))
    with os.fdopen(fd, "wb") as fh:
        values.astype(np.float64).tofile(fh)
    return path


def values_file_input(rng: np.random.Generator, small: bool) -> tuple:
    """A fresh file of about a million float64 values (8 MB) on disk; the argument is its path.
    The same size in both modes: the memory ratio does not need more, and with more values
    the population variance would come within the tolerance of the sample variance."""
    n = 1_000_000 + int(rng.integers(0, CHUNK_HINT))
    return (_write_values(_northing(rng, n)),)


def values_file_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """A step change halfway, so that chunks have very different means; two values; a whole
    number of 2**16-value chunks, and one value more."""
    step = _northing(rng, 3 * CHUNK_HINT)
    step[len(step) // 2 :] += 25.0
    return [
        (_write_values(step),),
        (_write_values(_northing(rng, 2)),),
        (_write_values(_northing(rng, 2 * CHUNK_HINT)),),
        (_write_values(_northing(rng, 2 * CHUNK_HINT + 1)),),
    ]


# Measured on these files: the mean of values near 1.2e6 comes out right to about 1e-14
# whatever the method; the variance of a one-value-at-a-time Welford loop in pure Python to
# 2.4e-8 at worst (chunked merges to about 1e-10), while E[x^2] - E[x]^2 is off by 5.8e-6 at
# best. Dividing by count instead of count - 1 is off by 1/count, at least 9.4e-7 here.
MEAN_RTOL, VAR_RTOL = 1e-11, 2e-7
# An honest population variance is as close to var * (n - 1) / n as a sample variance is to var.
POPULATION_RTOL = 5e-8
STATS_KEYS = ("count", "mean", "var")


def verify_stats(expected: object, got: object) -> str | None:
    if not isinstance(got, dict):
        return f"the result should be a dict with keys {', '.join(STATS_KEYS)}; got a {type(got).__name__}"
    if sorted(got) != sorted(STATS_KEYS):
        return f"the result has keys {sorted(got)}; it should have exactly {list(STATS_KEYS)}"
    assert isinstance(expected, dict)
    for key, check in (
        ("count", verify.exact()),
        ("mean", verify.close(rtol=MEAN_RTOL)),
        ("var", verify.close(rtol=VAR_RTOL)),
    ):
        value = got[key]
        if key == "count" and isinstance(value, float) and value.is_integer():
            value = int(value)
        problem = check(expected[key], value)
        if problem:
            return f"{key}: {problem.replace('the result ', '', 1)}"
    return None


def diagnose_stats(args: tuple, expected: object, got: object) -> str | None:
    if not isinstance(got, dict) or not isinstance(expected, dict) or sorted(got) != sorted(STATS_KEYS):
        return None
    n, mean, var = expected["count"], expected["mean"], expected["var"]
    g_n, g_mean, g_var = got["count"], got["mean"], got["var"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (g_n, g_mean, g_var)):
        return "count is an int, mean and var are floats"
    if g_n == 2 * n:
        return "count is twice the number of values: the file holds float64 (8 bytes each); read float64"
    if g_n != n:
        return f"count is every value in the file (its size in bytes over 8), not {g_n}"
    if not math.isclose(g_mean, mean, rel_tol=MEAN_RTOL):
        return (
            "the mean is a little off: weight each chunk's mean by its number of values "
            "(the last chunk is shorter), or keep a running total"
        )
    population = var * (n - 1) / n
    if math.isclose(g_var, population, rel_tol=POPULATION_RTOL):
        return "that is the population variance (over count); var is the sample variance, over count - 1"
    if math.isclose(g_var, population, rel_tol=VAR_RTOL):
        # E[x^2] - E[x]^2 can land this near by chance: name both mistakes.
        return (
            "the variance is near the population variance (over count; var is over count - 1), or "
            "sum(x**2)/n - mean**2 loses digits when the values are far larger than their spread "
            "(use Welford's update, or combine chunks by their counts, means and squared deviations)"
        )
    if math.isclose(g_var, math.sqrt(var), rel_tol=1e-6):
        return "that is the standard deviation; var is its square"
    if math.isclose(g_var, var, rel_tol=1e-3):  # rounding errors, not a missing term
        return (
            "the variance is close but not right: sum(x**2)/n - mean**2 loses digits when the values "
            "(about 1.2e6) are far larger than their spread; use Welford's update or combine chunks "
            "by their counts, means and sums of squared deviations"
        )
    return (
        "the variance is far off: a chunk's variance measures spread around that chunk's mean, so "
        "combine chunks with the difference of their means too (the lecture's merge formula)"
    )


# ---------------------------------------------------------------------------- 4. GPU


def kde_input(rng: np.random.Generator, small: bool) -> tuple:
    """Samples from a mixture of three normals and points across their range; m != n, so
    that a spot check slices the points only."""
    if gpu_present():
        n = (4_096 if small else 8_192) + 2 * int(rng.integers(0, 64)) + 1
    else:
        n = 2 * int(rng.integers(128, 256)) + 1  # NumPy on the CPU: correctness only
    m = n + 2 * int(rng.integers(0, n // 4)) + 1
    centres = rng.uniform(-3.0, 3.0, 3)
    samples = rng.normal(centres[rng.integers(0, 3, m)], rng.uniform(0.3, 1.0))
    points = rng.uniform(samples.min(), samples.max(), n)
    return (points, samples, float(rng.uniform(0.1, 0.5)))


def diagnose_kde(args: tuple, expected: object, got: object) -> str | None:
    points, samples, h = args
    if not isinstance(got, np.ndarray) or got.shape != points.shape:
        return None
    if got.dtype != np.float64:
        return f"the result is {got.dtype}: keep the computation in float64"
    idx = np.linspace(0, len(points) - 1, 16).astype(int)
    right = inherited.kde_numpy(points[idx], samples, h)
    mine = got[idx]
    if np.allclose(mine, 0.0):
        return (
            "the result is zeros: out[a:b] = values writes into the array; block = out[a:b] then "
            "block = values only rebinds the name block"
        )
    ratio = mine / right
    if np.allclose(ratio, len(samples), rtol=1e-6):
        return f"{len(samples)} times too large: average over the samples (divide by len(samples))"
    if np.allclose(ratio, h * math.sqrt(2 * math.pi), rtol=1e-6):
        return "the kernel's normalisation is missing: divide by bandwidth * sqrt(2 * pi)"
    z = (points[idx, None] - samples[None, :]) / h
    scale = 1.0 / (len(samples) * h * math.sqrt(2 * math.pi))
    if np.allclose(mine, np.exp(-z * z).sum(axis=1) * scale, rtol=1e-6):
        return "the kernel is exp(-z**2 / 2), z = (point - sample) / bandwidth: the 1/2 is missing"
    return None


EXERCISES = [
    Exercise(
        name="invoice",
        title="Price the orders with the right container",
        make_input=invoice_input,
        edge_inputs=invoice_edges,
        examples=INVOICE_EXAMPLES,
        baseline=inherited.invoice,
        reference="_reference:invoice",
        verify=verify_invoice,
        diagnose=diagnose_invoice,
        min_speedup=10.0,
        correct_hint="compare with inherited.invoice(orders, catalogue) on the same input, "
        "one with a SKU listed twice in the catalogue",
        speed_hint="price_of scans the catalogue for every order line: build a lookup once, before the "
        "loop over the orders, in a container whose `in` and [] do not scan",
    ),
    Exercise(
        name="nearest-station",
        title="Broadcast instead of looping",
        make_input=stations_input,
        edge_inputs=stations_edges,
        baseline=inherited.nearest_station,
        reference="_reference:nearest_station",
        diagnose=diagnose_nearest,
        min_speedup=3.0,
        correct_hint="compare with inherited.nearest_station on small cases you can check by hand: points "
        "200 km from a station, a point at equal distance from two stations; print each step's dtype",
        speed_hint="no Python loop over the points or the stations (np.vectorize is one too): broadcast "
        "the points against the stations into an (n, k) array of squared distances, then argmin",
    ),
    Exercise(
        name="stream-stats",
        title="Mean and variance of a file that does not fit in memory",
        metric="peak_memory",
        make_input=values_file_input,
        edge_inputs=values_file_edges,
        baseline=inherited.file_stats,
        reference="_reference:stream_stats",
        verify=verify_stats,
        diagnose=diagnose_stats,
        min_speedup=4.0,
        correct_hint="compare with inherited.file_stats(path) on the same file: count exactly, "
        f"mean within {MEAN_RTOL:g} and var within {VAR_RTOL:g} (relative)",
        speed_hint="read the file in chunks (np.fromfile(fh, dtype=np.float64, count=...) on an open "
        "file) and keep only a running count, mean and sum of squared deviations",
    ),
    Exercise(
        name="gpu-kde",
        title="One function for NumPy and CuPy",
        make_input=kde_input,
        baseline=inherited.kde_numpy,
        verify=verify.close(rtol=1e-9, atol=1e-12),
        diagnose=diagnose_kde,
        spot_check=1024,  # its ends and random elements of every GPU result are recomputed on the CPU
        min_speedup=5.0,
        needs=("gpu",),
        fallback="ran on NumPy (no GPU) for correctness; speed not graded",
        correct_hint="compare kde(points, samples, bandwidth) with inherited.kde_numpy on small NumPy arrays",
        speed_hint="move the inputs to the device once (xp.asarray), make each block of the broadcast large "
        "(a Python loop over points launches thousands of tiny kernels), bring the result back once",
    ),
]
