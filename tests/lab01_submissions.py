"""Lab 01 submissions that the grading tests feed through real nbgrader.

Each is the released lab with solution cells (by grade_id) replaced, the way a student
would fill them in: slow but correct, wrong but fast, a cheater, and the wrong-answer
corpus (the mistakes students really make, one per entry).
"""

from __future__ import annotations

from grading import Mistake

LAB = "01-profiling"
NOTEBOOK = "01-profiling-lab.ipynb"
EXTRAS = ["checks.py", "logpipe.py"]

_PROFILE = (
    "import cProfile\nimport pstats\n\n"
    "logpipe.report(lines)\n"
    "profiler = cProfile.Profile()\n"
    "profiler.runcall(logpipe.report, lines)\n"
    "stats = pstats.Stats(profiler)\n"
)
_SHARE = (
    "import statistics\n"
    "shares = []\n"
    "for _ in range(3):\n"
    "    profiler = cProfile.Profile()\n"
    "    profiler.runcall(logpipe.report, lines)\n"
    "    stats = pstats.Stats(profiler)\n"
    "    own_time = {func: row[2] for (path, line, func), row in stats.stats.items()}\n"
    "    shares.append(own_time[HOTSPOT] / stats.total_tt)\n"
    "HOTSPOT_SHARE = statistics.median(shares)\n"
)
_KERNEL = (
    "from numba import cuda\n\n"
    "@cuda.jit\n"
    "def _iterate_kernel(x, c, steps):\n"
    "    i = cuda.grid(1)\n"
    "    if i < x.size:\n"
    "        v = x[i]\n"
    "        for _ in range(steps):\n"
    "            v = 0.5 * math.cos(v) + c[i]\n"
    "        x[i] = v\n\n"
)


def _gpu_iterate(body: str) -> str:
    return _KERNEL + "def gpu_iterate(x0, c, steps):\n" + body


_GPU_RIGHT = (
    "    d_x = cuda.to_device(np.ascontiguousarray(x0, dtype=np.float64))\n"
    "    d_c = cuda.to_device(np.ascontiguousarray(c, dtype=np.float64))\n"
    "    blocks = (x0.size + 127) // 128\n"
    "    _iterate_kernel[blocks, 128](d_x, d_c, steps)\n"
)


def _pays_off(gpu_s: str) -> str:
    return (
        "def pays_off(bytes_in, bytes_out, flops, machine):\n"
        "    latency = machine['latency_us'] * 1e-6\n"
        "    link = machine['link_gb_s'] * 1e9\n"
        f"    gpu_s = {gpu_s}\n"
        "    return gpu_s < flops / (machine['cpu_gflops'] * 1e9)\n"
    )


_PAYS_OFF_RIGHT = "2 * latency + (bytes_in + bytes_out) / link + flops / (machine['gpu_gflops'] * 1e9)"

SLOW_BUT_CORRECT = {
    "ex1a-solution": _PROFILE + 'HOTSPOT = "count_visitors"',
    "ex1b-solution": _SHARE,
    "ex1c-solution": "def amdahl_speedup(p, s):\n    return 1 / ((1 - p) + p / s)\n",
    "ex2-solution": "def fast_report(lines):\n    return logpipe.report(lines)",
    "ex3-solution": "def summarize_stream(path):\n    return logpipe.summarize_file(path)",
    "ex4a-solution": (
        "from numba import cuda\n\n"
        "def gpu_iterate(x0, c, steps):\n"
        "    x = np.array(x0, dtype=float)\n"
        "    for _ in range(steps):\n"
        "        x = 0.5 * np.cos(x) + c\n"
        "    return x\n"
    ),
    "ex4b-solution": (
        "def offload_timings(x0, c, steps):\n"
        "    start, copied, done = cuda.event(), cuda.event(), cuda.event()\n"
        "    start.record()\n"
        "    x = gpu_iterate(x0, c, steps)\n"
        "    done.record()\n"
        "    done.synchronize()\n"
        "    kernel_ms = start.elapsed_time(done)\n"
        "    return {'host_to_device_ms': 0.0, 'kernel_ms': kernel_ms, 'device_to_host_ms': 0.0}\n"
    ),
    "ex4c-solution": _pays_off(_PAYS_OFF_RIGHT),
}

WRONG_BUT_FAST = {
    "ex1a-solution": 'HOTSPOT = "parse"',
    "ex1b-solution": "HOTSPOT_SHARE = 0.5",
    "ex1c-solution": "def amdahl_speedup(p, s):\n    return s",
    "ex2-solution": (
        "def fast_report(lines):\n"
        "    return {'requests': len(lines), 'visitors': len(lines), 'server_errors': 0,\n"
        "            'top_paths': [], 'bytes_per_hour': [0] * 24}"
    ),
    "ex3-solution": (
        "def summarize_stream(path):\n"
        "    return {'requests': 0, 'visitors': 0, 'server_errors': 0,\n"
        "            'top_paths': [], 'bytes_per_hour': [0] * 24}"
    ),
    "ex4a-solution": "from numba import cuda\n\ndef gpu_iterate(x0, c, steps):\n    return x0\n",
    "ex4b-solution": "def offload_timings(x0, c, steps):\n    return {}\n",
    "ex4c-solution": "def pays_off(bytes_in, bytes_out, flops, machine):\n    return True\n",
}

# Slow but correct code that tries to win the speed points by tampering with its own
# interpreter: a frozen clock, a memo cache, a sabotaged baseline, and an object whose
# __eq__ always says yes.
CHEATER = {
    **SLOW_BUT_CORRECT,
    "ex2-solution": (
        "import itertools, time\n"
        "_tick = itertools.count()\n"
        "time.perf_counter = lambda: next(_tick) * 1e-9  # every timing looks instant\n"
        "_report = logpipe.report\n"
        "def _sabotaged(lines):\n"
        "    time.sleep(0.5)\n"
        "    return _report(lines)\n"
        "logpipe.report = _sabotaged  # make the baseline look slow\n"
        "_memo = {}\n"
        "def fast_report(lines):\n"
        "    key = hash(tuple(lines))\n"
        "    if key not in _memo:\n"
        "        _memo[key] = _report(lines)\n"
        "    return _memo[key]\n"
    ),
    "ex3-solution": (
        "class _Yes(dict):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def summarize_stream(path):\n"
        "    return _Yes()\n"
    ),
}

_STREAM_LOOP = (
    "        r = logpipe.parse(line)\n"
    "        if r is None:\n"
    "            continue\n"
    "        requests += 1\n"
    "        visitors.add(r[0])\n"
    "        errors += r[4] >= 500\n"
    "        paths[r[3]] = paths.get(r[3], 0) + 1\n"
    "        hours[r[1]] += r[5]\n"
)
_STREAM_RETURN = (
    "    top = sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))[:5]\n"
    "    return {'requests': requests, 'visitors': len(visitors), 'server_errors': errors,\n"
    "            'top_paths': top, 'bytes_per_hour': hours}\n"
)


def _stream(opening: str, hours: str = "[0] * 24") -> str:
    return (
        "def summarize_stream(path):\n"
        f"    visitors, paths, hours = set(), {{}}, {hours}\n"
        "    requests = errors = 0\n"
        f"{opening}"
        f"{_STREAM_LOOP}"
        f"{_STREAM_RETURN}"
    )


def _report(records: str, errors: str = ">= 500") -> str:
    return (
        "def fast_report(lines):\n"
        f"    records = {records}\n"
        "    return {'requests': len(records), 'visitors': len({r[0] for r in records}),\n"
        f"            'server_errors': sum(1 for r in records if r[4] {errors}),\n"
        "            'top_paths': logpipe.top_paths(records),\n"
        "            'bytes_per_hour': logpipe.bytes_per_hour(records)}\n"
    )


_PARSED = "[r for r in map(logpipe.parse, lines) if r is not None]"

MISTAKES = [
    # 1a: the function itself, and the cumulative column instead of tottime.
    Mistake(
        "the function instead of its name",
        "ex1a-solution",
        _PROFILE + "HOTSPOT = logpipe.count_visitors\n",
        ("ex1a-check", "ex1b-check"),
        "asks for a value, not a function",
    ),
    Mistake(
        "sorted by cumulative time",
        "ex1a-solution",
        _PROFILE + 'HOTSPOT = "report"\n',
        ("ex1a-check", "ex1b-check"),
        "sort the profile by 'tottime'",
    ),
    # 1b: a percentage, and a guess instead of a measurement.
    Mistake(
        "a percentage",
        "ex1b-solution",
        _SHARE + "HOTSPOT_SHARE = 100 * HOTSPOT_SHARE  # in per cent\n",
        ("ex1b-check",),
        "looks like a percentage",
    ),
    Mistake(
        "a guess: nearly all of it",
        "ex1b-solution",
        "HOTSPOT_SHARE = 0.95\n",
        ("ex1b-check",),
        "as this check measured it",
    ),
    # 1c: Gustafson's law, and p swapped with 1 - p.
    Mistake(
        "Gustafson's formula",
        "ex1c-solution",
        "def amdahl_speedup(p, s):\n    return (1 - p) + p * s\n",
        ("ex1c-check",),
        "1 - p, still takes its full time",
    ),
    Mistake(
        "p and 1 - p swapped",
        "ex1c-solution",
        "def amdahl_speedup(p, s):\n    return 1 / (p + (1 - p) / s)\n",
        ("ex1c-check",),
        "worked example",
    ),
    # 2: an off-by-one, malformed lines not skipped, and the hotspot left in place.
    Mistake(
        "off by one: status > 500",
        "ex2-solution",
        _report(_PARSED, errors="> 500"),
        ("ex2-correct", "ex2-speed"),
        "server_errors: a server error is any status of 500 or more",
    ),
    Mistake(
        "malformed lines not skipped",
        "ex2-solution",
        _report("list(map(logpipe.parse, lines))"),
        ("ex2-correct", "ex2-speed"),
        "raised TypeError",
    ),
    Mistake(
        "the same slow function, called differently",
        "ex2-solution",
        f"def fast_report(lines):\n    return logpipe.summarize({_PARSED})\n",
        ("ex2-speed",),
        "change how it remembers the visitors",
    ),
    # 3: streaming in name only (all lines read first, or every record kept), and an off-by-one.
    Mistake(
        "reads every line first",
        "ex3-solution",
        _stream(
            "    with open(path) as fh:\n        all_lines = fh.readlines()\n    for line in all_lines:\n"
        ),
        ("ex3-memory",),
        "no list of lines",
    ),
    Mistake(
        "keeps every record",
        "ex3-solution",
        "def summarize_stream(path):\n"
        "    records = []\n"
        "    with open(path) as fh:\n"
        "        for line in fh:\n"
        "            r = logpipe.parse(line)\n"
        "            if r is not None:\n"
        "                records.append(r)\n"
        "    result = logpipe.summarize(records)\n"
        "    return result\n",
        ("ex3-memory",),
        "no list of records",
    ),
    Mistake(
        "off by one: 23 hours",
        "ex3-solution",
        _stream("    for line in open(path):\n", hours="[0] * 23"),
        ("ex3-correct", "ex3-memory"),
        "IndexError",
    ),
    # 4a: the copy back forgotten, a launch one block short, a device array returned, float32.
    Mistake(
        "no copy back",
        "ex4a-solution",
        _gpu_iterate(_GPU_RIGHT + "    return x0\n"),
        ("ex4a-correct", "ex4a-speed"),
        "copy the result back from the device",
    ),
    Mistake(
        "floor division for the launch size",
        "ex4a-solution",
        _gpu_iterate(
            _GPU_RIGHT.replace("(x0.size + 127) // 128", "x0.size // 128") + "    return d_x.copy_to_host()\n"
        ),
        ("ex4a-correct", "ex4a-speed"),
        "use blocks = (n + threads_per_block - 1) // threads_per_block",
    ),
    Mistake(
        "returns the device array",
        "ex4a-solution",
        _gpu_iterate(_GPU_RIGHT + "    return d_x\n"),
        ("ex4a-correct", "ex4a-speed"),
        "copy_to_host()",
    ),
    Mistake(
        "float32 on the device",
        "ex4a-solution",
        _gpu_iterate(
            _GPU_RIGHT.replace("dtype=np.float64))\n    d_c", "dtype=np.float32))\n    d_c", 1)
            + "    return d_x.copy_to_host()\n"
        ),
        ("ex4a-correct", "ex4a-speed"),
        "keep x0, c and the result in float64",
    ),
    # 4b: the wrong keys; and two mistakes only a real GPU can show.
    Mistake(
        "its own names for the keys",
        "ex4b-solution",
        "def offload_timings(x0, c, steps):\n"
        "    e = [cuda.event() for _ in range(4)]\n"
        "    e[0].record(); d_x, d_c = cuda.to_device(x0), cuda.to_device(c); e[1].record()\n"
        "    _iterate_kernel[(x0.size + 127) // 128, 128](d_x, d_c, steps); e[2].record()\n"
        "    d_x.copy_to_host(); e[3].record(); e[3].synchronize()\n"
        "    return {'h2d': e[0].elapsed_time(e[1]), 'kernel': e[1].elapsed_time(e[2]),\n"
        "            'd2h': e[2].elapsed_time(e[3])}\n",
        ("ex4b-check",),
        "it should return exactly ['host_to_device_ms', 'kernel_ms', 'device_to_host_ms']",
    ),
    Mistake(
        "perf_counter around an asynchronous launch",
        "ex4b-solution",
        "import time\n"
        "def offload_timings(x0, c, steps):\n"
        "    t0 = time.perf_counter(); d_x, d_c = cuda.to_device(x0), cuda.to_device(c)\n"
        "    t1 = time.perf_counter(); _iterate_kernel[(x0.size + 127) // 128, 128](d_x, d_c, steps)\n"
        "    t2 = time.perf_counter(); d_x.copy_to_host(); t3 = time.perf_counter()\n"
        "    return {'host_to_device_ms': (t1 - t0) * 1e3, 'kernel_ms': (t2 - t1) * 1e3,\n"
        "            'device_to_host_ms': (t3 - t2) * 1e3}\n",
        ("ex4b-check",),
        "that is the launch, not the kernel",
        needs=("gpu",),
    ),
    Mistake(
        "seconds instead of milliseconds",
        "ex4b-solution",
        "def offload_timings(x0, c, steps):\n"
        "    e = [cuda.event() for _ in range(4)]\n"
        "    e[0].record(); d_x, d_c = cuda.to_device(x0), cuda.to_device(c); e[1].record()\n"
        "    _iterate_kernel[(x0.size + 127) // 128, 128](d_x, d_c, steps); e[2].record()\n"
        "    d_x.copy_to_host(); e[3].record(); e[3].synchronize()\n"
        "    names = ('host_to_device_ms', 'kernel_ms', 'device_to_host_ms')\n"
        "    return {n: a.elapsed_time(b) / 1e3 for n, a, b in zip(names, e, e[1:])}\n",
        ("ex4b-check",),
        "are yours seconds?",
        needs=("gpu",),
    ),
    # 4c: each slip of the cost model's units and terms.
    Mistake(
        "no copy back",
        "ex4c-solution",
        _pays_off("latency + bytes_in / link + flops / (machine['gpu_gflops'] * 1e9)"),
        ("ex4c-check",),
        "two copies (in and back)",
    ),
    Mistake(
        "GiB instead of GB",
        "ex4c-solution",
        _pays_off(_PAYS_OFF_RIGHT.replace("/ link", "/ (machine['link_gb_s'] * 2**30)")),
        ("ex4c-check",),
        "link_gb_s * 1e9",
    ),
    Mistake(
        "one latency for both copies",
        "ex4c-solution",
        _pays_off(_PAYS_OFF_RIGHT.replace("2 * latency", "latency")),
        ("ex4c-check",),
        "worked example",
    ),
    Mistake(
        "latency read as seconds",
        "ex4c-solution",
        _pays_off(_PAYS_OFF_RIGHT.replace("2 * latency", "2 * machine['latency_us']")),
        ("ex4c-check",),
        "latency_us * 1e-6",
    ),
    Mistake(
        "the GPU's compute time only",
        "ex4c-solution",
        _pays_off("flops / (machine['gpu_gflops'] * 1e9)"),
        ("ex4c-check",),
        "worked example",
    ),
]

# Besides the measured speed points, the cheater loses this: its always-equal object is wrong.
CHEATER_ALSO_FAILS = ("ex3-correct",)
