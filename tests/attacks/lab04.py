"""Attacks on lab 04's grading (a parallel lab), as a determined student would write them.

The classes of lab 01's corpus (attacks/lab01.py) that change when the code under test is a
pool of processes: slowing the serial baseline from outside while submitting serial or
GIL-bound code as parallel; reading and rewriting files from a pool's worker rather than
from the kernel; and faults that happen inside the workers (a segfault, a fork bomb, a
memory bomb, detached children), which the parent process only sees as a broken pool.
"""

from __future__ import annotations

from lab04_submissions import EXTRAS, LAB, NOTEBOOK, SLOW_BUT_CORRECT, WRONG_BUT_FAST

from attacks.lab01 import _DAEMON, _INTERFERE, _SEARCH, MARKER, Attack

__all__ = ["ATTACKS", "BASES", "EXTRAS", "LAB", "MARKER", "NOTEBOOK", "REPORTER", "SPEED_CELLS"]

SPEED_CELLS = ("ex1-speed", "ex2-speed", "ex3-speed")  # what slow-but-correct code loses here

# Two threads over halves of the list: pure-Python work holds the GIL, so they take turns.
_GIL_THREADS = (
    "from concurrent.futures import ThreadPoolExecutor\n\n"
    "def total_steps(numbers):\n"
    "    half = len(numbers) // 2\n"
    "    with ThreadPoolExecutor(WORKERS) as pool:\n"
    "        parts = pool.map(mpwork.total_steps_serial, [numbers[:half], numbers[half:]])\n"
    "        return sum(parts)\n"
)

# The file search and rewrite of lab 01, run from a worker process of a pool, with this lab's
# trusted files as its targets.
_SEARCH_IN_WORKER = (
    "_SEARCH = {search!r}\n\n"
    "def _search(_):\n"
    "    found = {{}}\n"
    "    exec(_SEARCH, found)\n"
    "    return repr(found['found'])\n\n"
    "with mp.get_context('fork').Pool(1) as _pool:\n"
    "    print('ATTACK-REPORT from a worker', _pool.map(_search, [0])[0])\n"
).format(
    search=_SEARCH.replace("MARKER_HEX", MARKER.encode().hex()).replace('"logpipe.py"', '"mpwork.py"')
)

ATTACKS = [
    Attack(
        # Serial and GIL-bound code submitted as parallel, with a daemon that stops and
        # starves every process it can see and burns CPU beside the measurement.
        "outside-interference",
        base="slow",
        answers={"ex1-solution": _GIL_THREADS},
        cells=(_DAEMON.format(code=_INTERFERE),),
        # The daemon also stops the student's own ipyparallel client every few milliseconds,
        # so the engines call overruns its time limit: a point the attack costs itself.
        lost=("ex4-check",),
    ),
    Attack(
        # Wrong code that searches for private and trusted files from a pool's worker and
        # rewrites what it finds; its test cells edited to say all is well.
        "files-from-a-worker",
        base="wrong",
        cells=(_SEARCH_IN_WORKER,),
        tests={"ex1-correct": "print('all good')", "ex3-speed": None},
    ),
    Attack(
        # Right answers but for three pools whose workers crash, fork without end or eat
        # memory, and a pool initializer that leaves detached children behind. Only the
        # broken functions' checks may lose points; nothing may outlive grading.
        "faults-in-workers",
        base="reference",
        answers={
            "ex1-solution": (
                "import ctypes\n\n"
                "def _crash(chunk):\n"
                "    return ctypes.string_at(0)\n\n"
                "def total_steps(numbers):\n"
                "    with ProcessPoolExecutor(WORKERS) as pool:\n"
                "        return sum(pool.map(_crash, [numbers]))\n"
            ),
            "ex2-solution": (
                "def _bomb(_):\n"
                "    while True:\n"
                "        os.fork()\n\n"
                "def estimate_pi(seed, n_samples, n_tasks):\n"
                "    with ProcessPoolExecutor(WORKERS) as pool:\n"
                "        return sum(pool.map(_bomb, range(n_tasks)))\n"
            ),
            "ex3-solution": (
                "import subprocess\n\n"
                "def _leave_children():\n"
                "    for _ in range(5):\n"
                "        subprocess.Popen(['sleep', '3000'], start_new_session=True)\n\n"
                "def _hoard(_):\n"
                "    hoard = []\n"
                "    while True:\n"
                "        hoard.append(bytearray(256 * 2**20))\n\n"
                "def relax_shared(a):\n"
                "    fork = mp.get_context('fork')\n"
                "    pool = ProcessPoolExecutor(WORKERS, mp_context=fork, initializer=_leave_children)\n"
                "    with pool:\n"
                "        list(pool.map(_hoard, range(WORKERS)))\n"
                "    return a\n"
            ),
        },
        lost=("ex1-correct", "ex1-speed", "ex2-correct", "ex2-speed", "ex3-correct", "ex3-speed"),
        says={"ex1-correct": "total_steps", "ex2-correct": "estimate_pi", "ex3-correct": "relax_shared"},
    ),
]

BASES = {"slow": SLOW_BUT_CORRECT, "wrong": WRONG_BUT_FAST}
REPORTER = "files-from-a-worker"  # the attack that prints what it could read and write
