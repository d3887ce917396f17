"""Four small programs inherited from a colleague. Each gives the right answer; each is too
slow, or holds too much memory, for the data it is now given.

- ``invoice(orders, catalogue)``: the total of a batch of orders, priced from a catalogue
  (each table given as named columns, NumPy arrays).
- ``nearest_station(points, stations)``: for every point, the closest weather station.
- ``file_stats(path)``: count, mean and sample variance of the float64 values in a file.
- ``kde_numpy(points, samples, bandwidth)``: a Gaussian kernel density estimate, on the CPU.

``array_namespace(x)`` says which array module an array belongs to (NumPy or CuPy), and
``to_numpy(a)`` gives a NumPy array with the values of either.

This module is the course's baseline for lab 02: the grader times (or weighs) students'
code against it, so it must not change behaviour between releases.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

# ----------------------------------------------------------------------- 1. invoice


def price_of(sku: int, catalogue: list[tuple[int, int]]) -> int | None:
    """The price in cents of ``sku``: its first entry in the catalogue; None if it has none."""
    for code, cents in catalogue:
        if code == sku:
            return cents
    return None


def invoice(orders: dict, catalogue: dict) -> tuple[int, list[int]]:
    """The total of the orders in cents, and the SKUs ordered that the catalogue does not list.

    orders: {"sku": int64 array, "quantity": int64 array}, one element per order line.
    catalogue: {"sku": int64 array, "cents": int64 array}, one element per entry; a SKU
    listed more than once is priced by its first entry. Returns (total_cents, unknown): an
    int, and a list of every unknown SKU once, as ints, sorted."""
    listed = list(zip(catalogue["sku"].tolist(), catalogue["cents"].tolist()))
    total = 0
    unknown: list[int] = []
    for sku, quantity in zip(orders["sku"].tolist(), orders["quantity"].tolist()):
        cents = price_of(sku, listed)
        if cents is None:
            if sku not in unknown:
                unknown.append(sku)
        else:
            total += cents * quantity
    return total, sorted(unknown)


# ---------------------------------------------------------------- 2. nearest station


def nearest_station(points: np.ndarray, stations: np.ndarray) -> np.ndarray:
    """For every point, the index of the closest station (Euclidean distance; on a tie, the
    lowest index). points: int32 array of shape (n, 2); stations: int32 array of shape (k, 2),
    coordinates in metres. Returns an int64 array of shape (n,)."""
    found = []
    station_list = stations.tolist()
    for px, py in points.tolist():
        best, best_d = -1, math.inf
        for j, (sx, sy) in enumerate(station_list):
            d = math.sqrt((px - sx) ** 2 + (py - sy) ** 2)  # exact squares, one rounding
            if d < best_d:
                best, best_d = j, d
        found.append(best)
    return np.array(found, dtype=np.int64)


# -------------------------------------------------------------------- 3. file stats


def file_stats(path: str) -> dict:
    """Statistics of a file of float64 values (raw, native byte order, as ndarray.tofile
    writes them): {"count": int, "mean": float, "var": float}, var being the sample
    variance (divided by count - 1). The file holds at least two values."""
    values = np.fromfile(path, dtype=np.float64)
    return {"count": int(values.size), "mean": float(values.mean()), "var": float(values.var(ddof=1))}


# ---------------------------------------------------------------------------- 4. KDE


def kde_numpy(points: np.ndarray, samples: np.ndarray, bandwidth: float, block: int = 256) -> np.ndarray:
    """The Gaussian kernel density estimate of ``samples`` at every point: for each point p,
    the mean over the samples s of exp(-((p - s) / bandwidth)**2 / 2) / (bandwidth * sqrt(2 pi)).
    points: float64 array (n,); samples: float64 array (m,). Returns a float64 array (n,)."""
    out = np.empty(points.size, dtype=np.float64)
    scale = 1.0 / (samples.size * bandwidth * math.sqrt(2.0 * math.pi))
    for start in range(0, points.size, block):
        z = (points[start : start + block, None] - samples[None, :]) / bandwidth
        out[start : start + block] = np.exp(-0.5 * z * z).sum(axis=1) * scale
    return out


def array_namespace(x: object) -> ModuleType:
    """The array module ``x`` belongs to: cupy for a CuPy array, numpy otherwise (and
    always numpy where CuPy is not installed)."""
    try:
        import cupy
    except ImportError:
        return np
    return cupy.get_array_module(x)


def to_numpy(a: object) -> np.ndarray:
    """A NumPy array with the values of ``a``: copied from the GPU when ``a`` is a CuPy array."""
    get = getattr(a, "get", None)  # CuPy arrays copy themselves to the host with .get()
    return get() if callable(get) and not isinstance(a, np.ndarray) else np.asarray(a)
