"""Lab 02 submissions that the grading tests feed through real nbgrader.

Each is the released lab with solution cells (by grade_id) replaced, the way a student
would fill them in: slow but correct, wrong but fast, a cheater, and the wrong-answer
corpus (the mistakes students really make, one per entry).
"""

from __future__ import annotations

from grading import Mistake

LAB = "02-data-containers"
NOTEBOOK = "02-data-containers-lab.ipynb"
EXTRAS = ["checks.py", "inherited.py"]

_KDE_RIGHT = (
    "def kde(points, samples, bandwidth):\n"
    "    xp = inherited.array_namespace(points)\n"
    "    out = xp.empty(points.shape[0], dtype=xp.float64)\n"
    "    scale = 1.0 / (samples.shape[0] * bandwidth * math.sqrt(2.0 * math.pi))\n"
    "    for a in range(0, points.shape[0], 512):\n"
    "        z = (points[a : a + 512, None] - samples[None, :]) / bandwidth\n"
    "        out[a : a + 512] = xp.sum(xp.exp(-0.5 * z * z), axis=1) * scale\n"
    "    return out\n\n"
)
_ON_DEVICE_RIGHT = (
    "def kde_on_device(points, samples, bandwidth):\n"
    "    d = kde(xp_device.asarray(points), xp_device.asarray(samples), bandwidth)\n"
    "    return inherited.to_numpy(d)\n"
)

SLOW_BUT_CORRECT = {
    "ex1-solution": "def invoice(orders, catalogue):\n    return inherited.invoice(orders, catalogue)\n",
    "ex2-solution": (
        "def nearest_station(points, stations):\n    return inherited.nearest_station(points, stations)\n"
    ),
    "ex3-solution": "def stream_stats(path):\n    return inherited.file_stats(path)\n",
    "ex4-solution": (
        "def kde(points, samples, bandwidth):\n"
        "    p, s = inherited.to_numpy(points), inherited.to_numpy(samples)\n"
        "    return inherited.kde_numpy(p, s, bandwidth)\n\n"
        "def kde_on_device(points, samples, bandwidth):\n"
        "    return inherited.kde_numpy(points, samples, bandwidth)\n"
    ),
}

WRONG_BUT_FAST = {
    "ex1-solution": "def invoice(orders, catalogue):\n    return 0, []\n",
    "ex2-solution": "def nearest_station(points, stations):\n    return np.zeros(len(points), np.int64)\n",
    "ex3-solution": "def stream_stats(path):\n    return {'count': 0, 'mean': 0.0, 'var': 0.0}\n",
    "ex4-solution": (
        "def kde(points, samples, bandwidth):\n"
        "    return inherited.array_namespace(points).ones(points.shape[0])\n\n"
        "def kde_on_device(points, samples, bandwidth):\n"
        "    return np.ones(len(points))\n"
    ),
}

# Slow but correct code that tries to win the speed points by tampering with its own
# interpreter: a frozen clock, a memo cache, a sabotaged baseline, and an object whose
# __eq__ always says yes.
CHEATER = {
    **SLOW_BUT_CORRECT,
    "ex1-solution": (
        "import itertools, time\n"
        "_tick = itertools.count()\n"
        "time.perf_counter = lambda: next(_tick) * 1e-9  # every timing looks instant\n"
        "_invoice = inherited.invoice\n"
        "def _sabotaged(orders, catalogue):\n"
        "    time.sleep(0.5)\n"
        "    return _invoice(orders, catalogue)\n"
        "inherited.invoice = _sabotaged  # make the baseline look slow\n"
        "_memo = {}\n"
        "def invoice(orders, catalogue):\n"
        "    key = (orders['sku'].tobytes(), orders['quantity'].tobytes(), catalogue['sku'].tobytes())\n"
        "    if key not in _memo:\n"
        "        _memo[key] = _invoice(orders, catalogue)\n"
        "    return _memo[key]\n"
    ),
    "ex3-solution": (
        "class _Yes(dict):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def stream_stats(path):\n"
        "    return _Yes()\n"
    ),
}


def _invoice(prices: str, unknown: str = "sorted(unknown)", total: str = "cents * quantity") -> str:
    return (
        "def invoice(orders, catalogue):\n"
        f"{prices}"
        "    total, unknown = 0, set()\n"
        "    for sku, quantity in zip(orders['sku'].tolist(), orders['quantity'].tolist()):\n"
        "        if sku in prices:\n"
        "            cents = prices[sku]\n"
        f"            total += {total}\n"
        "        else:\n"
        "            unknown.add(sku)\n"
        f"    return total, {unknown}\n"
    )


_PAIRS = "zip(catalogue['sku'].tolist(), catalogue['cents'].tolist())"
_FIRST_WINS = f"    prices = {{}}\n    for sku, cents in {_PAIRS}:\n        prices.setdefault(sku, cents)\n"


def _nearest(body: str) -> str:
    return f"def nearest_station(points, stations):\n{body}"


_BROADCAST = (
    "    d = p[:, None, :] - s[None, :, :]\n"  # (n, k, 2)
    "    d2 = (d * d).sum(axis=2)\n"
)


def _stats(combine: str, read: str = "np.float64") -> str:
    """A chunked reader that keeps (count, mean, m2) per chunk, then combines them."""
    return (
        "def stream_stats(path):\n"
        "    parts = []\n"
        "    with open(path, 'rb') as fh:\n"
        "        while True:\n"
        f"            x = np.fromfile(fh, dtype={read}, count=1 << 16)\n"
        "            if x.size == 0:\n"
        "                break\n"
        "            parts.append((x.size, float(x.mean()), float(((x - x.mean()) ** 2).sum()),\n"
        "                          float(x.sum()), float((x * x).sum())))\n"
        "    count = sum(p[0] for p in parts)\n"
        f"{combine}"
        "    return {'count': count, 'mean': mean, 'var': var}\n"
    )


_CHAN = (
    "    n, mean, m2 = 0, 0.0, 0.0\n"
    "    for n_b, mean_b, m2_b, _, _ in parts:\n"
    "        delta, total = mean_b - mean, n + n_b\n"
    "        mean += delta * n_b / total\n"
    "        m2 += m2_b + delta * delta * n * n_b / total\n"
    "        n = total\n"
)

MISTAKES = [
    # 1: a dict that keeps the last price, euros instead of cents, a lookup that still scans,
    # and unknown SKUs listed as often as they were ordered.
    Mistake(
        "dict(catalogue): the last entry of a SKU wins",
        "ex1-solution",
        _invoice(f"    prices = dict({_PAIRS})\n"),
        ("ex1-correct", "ex1-speed"),
        "priced by its FIRST entry",
    ),
    Mistake(
        "the total in euros",
        "ex1-solution",
        _invoice(_FIRST_WINS, total="cents * quantity / 100"),
        ("ex1-correct", "ex1-speed"),
        "the total is in cents, an int",
    ),
    Mistake(
        "a set for `in`, then a scan for the price",
        "ex1-solution",
        "def invoice(orders, catalogue):\n"
        f"    pairs = list({_PAIRS})\n"
        "    listed = {sku for sku, _ in pairs}\n"
        "    total, unknown = 0, set()\n"
        "    for sku, quantity in zip(orders['sku'].tolist(), orders['quantity'].tolist()):\n"
        "        if sku in listed:\n"
        "            total += inherited.price_of(sku, pairs) * quantity\n"
        "        else:\n"
        "            unknown.add(sku)\n"
        "    return total, sorted(unknown)\n",
        ("ex1-speed",),
        "whose `in` and [] do not scan",
    ),
    Mistake(
        "unknown SKUs listed as often as ordered",
        "ex1-solution",
        _invoice(_FIRST_WINS, unknown="sorted(unknown_list)")
        .replace(
            "            unknown.add(sku)\n",
            "            unknown.add(sku)\n            unknown_list.append(sku)\n",
        )
        .replace("    total, unknown = 0, set()\n", "    total, unknown, unknown_list = 0, set(), []\n"),
        ("ex1-correct", "ex1-speed"),
        "each unknown SKU once, sorted",
    ),
    # 2: int32 squares overflow (with or without a square root), a Python loop behind
    # np.vectorize, and float32. (tests/test_lab02.py covers the wrong axis and the distances.)
    Mistake(
        "squares in int32",
        "ex2-solution",
        _nearest("    p, s = points, stations\n" + _BROADCAST + "    return d2.argmin(axis=1)\n"),
        ("ex2-correct", "ex2-speed"),
        "integer overflow",
    ),
    Mistake(
        "int32 squares, then a square root",
        "ex2-solution",
        _nearest("    p, s = points, stations\n" + _BROADCAST + "    return np.sqrt(d2).argmin(axis=1)\n"),
        ("ex2-correct", "ex2-speed"),
        "sqrt warns of NaN",
    ),
    Mistake(
        "np.vectorize over every pair",
        "ex2-solution",
        _nearest(
            "    d2 = np.vectorize(lambda px, py, sx, sy: (px - sx) ** 2 + (py - sy) ** 2,\n"
            "                      otypes=[np.int64])\n"
            "    p, s = points.astype(np.int64), stations.astype(np.int64)\n"
            "    return d2(p[:, 0, None], p[:, 1, None], s[None, :, 0], s[None, :, 1]).argmin(axis=1)\n"
        ),
        ("ex2-speed",),
        "np.vectorize is one too",
    ),
    Mistake(
        "float32 to save memory",
        "ex2-solution",
        _nearest(
            "    p, s = points.astype(np.float32), stations.astype(np.float32)\n"
            + _BROADCAST
            + "    return d2.argmin(axis=1)\n"
        ),
        ("ex2-correct", "ex2-speed"),
        "float32 rounding",
    ),
    # 3: population variance, the one-pass formula, averaged chunk variances, and streaming in
    # name only. (tests/test_lab02.py covers an unweighted mean and float32 reads.)
    Mistake(
        "population variance (ddof=0)",
        "ex3-solution",
        _stats(_CHAN + "    var = m2 / n\n"),
        ("ex3-correct", "ex3-memory"),
        "population variance",
    ),
    Mistake(
        "E[x^2] - E[x]^2 in one pass",
        "ex3-solution",
        _stats(
            "    mean = sum(p[3] for p in parts) / count\n"
            "    var = (sum(p[4] for p in parts) - count * mean * mean) / (count - 1)\n"
        ),
        ("ex3-correct", "ex3-memory"),
        "loses digits",
    ),
    Mistake(
        "the mean of the chunks' variances",
        "ex3-solution",
        _stats(
            _CHAN + "    var = sum(p[2] for p in parts) / (count - 1)  # forgets the spread between chunks\n"
        ),
        ("ex3-correct", "ex3-memory"),
        "difference of their means",
    ),
    Mistake(
        "the whole file first, then chunks",
        "ex3-solution",
        _stats(_CHAN + "    var = m2 / (n - 1)\n").replace(
            "    with open(path, 'rb') as fh:\n        while True:\n"
            "            x = np.fromfile(fh, dtype=np.float64, count=1 << 16)\n"
            "            if x.size == 0:\n                break\n",
            "    values = np.fromfile(path, dtype=np.float64)\n"
            "    for a in range(0, values.size, 1 << 16):\n"
            "            x = values[a : a + (1 << 16)]\n",
        ),
        ("ex3-memory",),
        "read the file in chunks",
    ),
    # 4: the sum instead of the mean, the normalisation forgotten, a slice rebound instead of
    # written into, float32; and what only a GPU shows.
    Mistake(
        "the sum over the samples, not the mean",
        "ex4-solution",
        _KDE_RIGHT.replace("samples.shape[0] * bandwidth", "bandwidth") + _ON_DEVICE_RIGHT,
        ("ex4-correct", "ex4-speed"),
        "times too large",
    ),
    Mistake(
        "the kernel's normalisation forgotten",
        "ex4-solution",
        _KDE_RIGHT.replace(" * bandwidth * math.sqrt(2.0 * math.pi)", "") + _ON_DEVICE_RIGHT,
        ("ex4-correct", "ex4-speed"),
        "normalisation is missing",
    ),
    Mistake(
        "a slice rebound instead of written into",
        "ex4-solution",
        _KDE_RIGHT.replace("xp.empty(", "xp.zeros(").replace(
            "        out[a : a + 512] = xp.sum",
            "        block = out[a : a + 512]\n        block = xp.sum",
        )
        + _ON_DEVICE_RIGHT,
        ("ex4-correct", "ex4-speed"),
        "only rebinds the name block",
    ),
    Mistake(
        "float32 on the device",
        "ex4-solution",
        _KDE_RIGHT.replace("dtype=xp.float64", "dtype=points.dtype")
        + _ON_DEVICE_RIGHT.replace(
            "xp_device.asarray(points), xp_device.asarray(samples)",
            "xp_device.asarray(points, dtype=xp_device.float32), "
            "xp_device.asarray(samples, dtype=xp_device.float32)",
        ),
        ("ex4-correct", "ex4-speed"),
        "keep the computation in float64",
    ),
    Mistake(
        "NumPy's empty inside kde",
        "ex4-solution",
        _KDE_RIGHT.replace("xp.empty(", "np.empty(") + _ON_DEVICE_RIGHT,
        ("ex4-correct", "ex4-speed"),
        "TypeError",
        needs=("gpu",),
    ),
    Mistake(
        "the CuPy array returned",
        "ex4-solution",
        _KDE_RIGHT + _ON_DEVICE_RIGHT.replace("    return inherited.to_numpy(d)\n", "    return d\n"),
        ("ex4-correct", "ex4-speed"),
        "it is a CuPy array on the GPU",
        needs=("gpu",),
    ),
    Mistake(
        "the inputs never moved to the device",
        "ex4-solution",
        _KDE_RIGHT
        + _ON_DEVICE_RIGHT.replace(
            "kde(xp_device.asarray(points), xp_device.asarray(samples), bandwidth)",
            "kde(points, samples, bandwidth)",
        ),
        ("ex4-speed",),
        "move the inputs to the device once",
        needs=("gpu",),
    ),
]

# Besides the measured speed points, the cheater loses this: its always-equal object is wrong.
CHEATER_ALSO_FAILS = ("ex3-correct",)
