"""Lab 04 submissions that the grading tests feed through real nbgrader.

Each is the released lab with solution cells (by grade_id) replaced, the way a student
would fill them in: slow but correct, wrong but fast, a cheater, and the wrong-answer
corpus (the mistakes students really make with pools, seeds and shared memory).
"""

from __future__ import annotations

from grading import Mistake

LAB = "04-multiprocessing"
NOTEBOOK = "04-multiprocessing-lab.ipynb"
EXTRAS = ["checks.py", "mpwork.py"]

_SIZES = (
    "    base, extra = divmod(n_samples, n_tasks)\n    sizes = [base + (i < extra) for i in range(n_tasks)]\n"
)


def _pi(body: str) -> str:
    return "def estimate_pi(seed, n_samples, n_tasks):\n" + body + "    return 4.0 * sum(hits) / n_samples\n"


_SPAWNED = "    children = np.random.SeedSequence(seed).spawn(n_tasks)\n"


def _worker(body: str) -> str:
    return (
        "%%writefile {WORK_DIR}/shm_worker.py\n"
        "from multiprocessing import shared_memory\n\n"
        "import numpy as np\n\n"
        "import mpwork\n\n\n"
        "def relax_block(src_name, dst_name, shape, lo, hi):\n" + body
    )


def _relax(bounds: str, unlink_at_once: bool = False) -> str:
    """relax_shared with the given chunk bounds (a list of (lo, hi) named `bounds`); with
    ``unlink_at_once`` the blocks are unlinked as soon as they exist, like temporary files."""
    early = "    src_shm.unlink()  # cleaned up whatever happens, or so it seems\n    dst_shm.unlink()\n"
    late = "            shm.unlink()\n"
    return (
        "import shm_worker\n\n"
        "importlib.reload(shm_worker)\n\n\n"
        "def relax_shared(a):\n"
        "    a = np.ascontiguousarray(a, dtype=np.float64)\n"
        "    src_shm = shared_memory.SharedMemory(create=True, size=a.nbytes)\n"
        "    dst_shm = shared_memory.SharedMemory(create=True, size=a.nbytes)\n"
        f"{early if unlink_at_once else ''}"
        "    try:\n"
        "        src = np.ndarray(a.shape, dtype=np.float64, buffer=src_shm.buf)\n"
        "        src[:] = a\n"
        "        del src\n"
        f"{bounds}"
        "        with ProcessPoolExecutor(WORKERS) as pool:\n"
        "            futures = [\n"
        "                pool.submit(shm_worker.relax_block, src_shm.name, dst_shm.name, a.shape, lo, hi)\n"
        "                for lo, hi in bounds\n"
        "            ]\n"
        "            for f in futures:\n"
        "                f.result()\n"
        "        dst = np.ndarray(a.shape, dtype=np.float64, buffer=dst_shm.buf)\n"
        "        out = dst.copy()\n"
        "        del dst\n"
        "    finally:\n"
        "        for shm in (src_shm, dst_shm):\n"
        "            shm.close()\n"
        f"{'' if unlink_at_once else late}"
        "    return out\n"
    )


_EVEN_BOUNDS = (
    "        edges = np.linspace(0, a.shape[0], 4 * WORKERS + 1).astype(int)\n"
    "        bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist()))\n"
)

SLOW_BUT_CORRECT = {
    "ex1-solution": "def total_steps(numbers):\n    return mpwork.total_steps_serial(numbers)\n",
    "ex2-solution": (
        "def estimate_pi(seed, n_samples, n_tasks):\n"
        "    return mpwork.estimate_pi_serial(seed, n_samples, n_tasks)\n"
    ),
    "ex3-solution": "def relax_shared(a):\n    return mpwork.relax_rows(a)\n",
    "ex4-solution": (
        "def estimate_pi_engines(client, seed, n_samples, n_tasks):\n"
        "    return mpwork.estimate_pi_serial(seed, n_samples, n_tasks)\n"
    ),
}

WRONG_BUT_FAST = {
    "ex1-solution": "def total_steps(numbers):\n    return 0\n",
    "ex2-solution": "def estimate_pi(seed, n_samples, n_tasks):\n    return 3.14159\n",
    "ex3-solution": "def relax_shared(a):\n    return a\n",
    "ex4-solution": "def estimate_pi_engines(client, seed, n_samples, n_tasks):\n    return 3.0\n",
}

# Slow but correct code that tries to win the speed points without parallel work: a frozen
# clock and a sabotaged baseline; a lying float; and a busy process spinning beside a serial
# loop, so that two cores look busy while one does all the work.
CHEATER = {
    **SLOW_BUT_CORRECT,
    "ex1-solution": (
        "import itertools\n"
        "_tick = itertools.count()\n"
        "time.perf_counter = lambda: next(_tick) * 1e-9  # every timing looks instant\n"
        "_serial = mpwork.total_steps_serial\n"
        "def _sabotaged(numbers):\n"
        "    time.sleep(0.5)\n"
        "    return _serial(numbers)\n"
        "mpwork.total_steps_serial = _sabotaged  # make the baseline look slow\n"
        "def total_steps(numbers):\n"
        "    return _serial(numbers)\n"
    ),
    "ex2-solution": (
        "class _Yes(float):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = float.__hash__\n"
        "def estimate_pi(seed, n_samples, n_tasks):\n"
        "    return _Yes(3.0)\n"
    ),
    "ex3-solution": (
        "def _spin(seconds):\n"
        "    end = time.monotonic() + seconds\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "def relax_shared(a):\n"
        "    spinner = mp.get_context('fork').Process(target=_spin, args=(0.15,))\n"
        "    spinner.start()\n"
        "    out = mpwork.relax_rows(a)\n"
        "    spinner.join()\n"
        "    return out\n"
    ),
}

# Besides the measured speed points, the cheater loses this: its always-equal float is wrong.
CHEATER_ALSO_FAILS = ("ex2-correct",)

MISTAKES = [
    # 1: one task per trip; the remainder of a hand-made chunking; a pool that is never used.
    Mistake(
        "pool.map with chunksize 1",
        "ex1-solution",
        "def total_steps(numbers):\n"
        "    with Pool(WORKERS) as pool:\n"
        "        return sum(pool.map(mpwork.collatz_steps, numbers, chunksize=1))\n",
        ("ex1-speed",),
        "a chunksize of hundreds or thousands",
    ),
    Mistake(
        "hand-made chunks drop the remainder",
        "ex1-solution",
        "def total_steps(numbers):\n"
        "    size = len(numbers) // WORKERS\n"
        "    chunks = [numbers[i * size:(i + 1) * size] for i in range(WORKERS)]\n"
        "    with Pool(WORKERS) as pool:\n"
        "        return sum(pool.map(mpwork.total_steps_serial, chunks))\n",
        ("ex1-correct", "ex1-speed"),
        "the last chunk must end at len(numbers)",
    ),
    Mistake(
        "a serial loop called parallel",
        "ex1-solution",
        "def total_steps(numbers):\n"
        "    with Pool(WORKERS) as pool:\n"
        "        return sum(mpwork.collatz_steps(n) for n in numbers)\n",
        ("ex1-speed",),
        "with a pool of one process per core",
    ),
    # 2: the same seed in every task; the remainder of the samples dropped; a pool of one.
    Mistake(
        "the same seed in every worker",
        "ex2-solution",
        _pi(
            _SIZES + "    with Pool(WORKERS) as pool:\n"
            "        hits = pool.starmap(mpwork.count_inside, [(seed, k) for k in sizes])\n"
        ),
        ("ex2-correct", "ex2-speed"),
        "Give task i its own stream: children = np.random.SeedSequence(seed).spawn(n_tasks)",
    ),
    Mistake(
        "the remainder of the samples dropped",
        "ex2-solution",
        _pi(
            _SPAWNED + "    sizes = [n_samples // n_tasks] * n_tasks\n"
            "    with Pool(WORKERS) as pool:\n"
            "        hits = pool.starmap(mpwork.count_inside, zip(children, sizes))\n"
        ),
        ("ex2-correct", "ex2-speed"),
        "the first n_samples % n_tasks tasks draw one point more",
    ),
    Mistake(
        "a pool with one worker",
        "ex2-solution",
        _pi(
            _SPAWNED + _SIZES + "    with Pool(1) as pool:\n"
            "        hits = pool.starmap(mpwork.count_inside, zip(children, sizes))\n"
        ),
        ("ex2-speed",),
        "in a pool with one process per core",
    ),
    # 3: results computed into a new array; a block unlinked before the workers attach; chunk
    # bounds that stop short of the last rows.
    Mistake(
        "results never written to shared memory",
        "ex3-worker",
        _worker(
            "    src_shm = shared_memory.SharedMemory(name=src_name)\n"
            "    try:\n"
            "        src = np.ndarray(shape, dtype=np.float64, buffer=src_shm.buf)\n"
            "        block = mpwork.relax_rows(src[lo:hi])  # a new array, in this process only\n"
            "        del src\n"
            "    finally:\n"
            "        src_shm.close()\n"
            "    return None\n"
        ),
        ("ex3-correct", "ex3-speed"),
        "the workers' results never reached the array you returned",
    ),
    Mistake(
        "unlinked before the workers attach",
        "ex3-solution",
        _relax(_EVEN_BOUNDS, unlink_at_once=True),
        ("ex3-correct", "ex3-speed"),
        "a FileNotFoundError in a worker means the block was unlinked before that worker attached",
    ),
    Mistake(
        "chunk bounds stop short of the last rows",
        "ex3-solution",
        _relax(
            "        step = a.shape[0] // WORKERS\n"
            "        bounds = [(i * step, (i + 1) * step) for i in range(WORKERS)]\n"
        ),
        ("ex3-correct", "ex3-speed"),
        "rows were never processed: the chunk bounds stop short",
    ),
    # 4: the same seed on every engine.
    Mistake(
        "the same seed on every engine",
        "ex4-solution",
        "def estimate_pi_engines(client, seed, n_samples, n_tasks):\n"
        + _SIZES
        + "    hits = client.load_balanced_view().map_sync(mpwork.count_inside, [seed] * n_tasks, sizes)\n"
        "    return 4.0 * sum(hits) / n_samples\n",
        ("ex4-check",),
        "SeedSequence(seed).spawn(n_tasks)",
    ),
]
