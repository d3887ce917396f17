"""Attacks on lab 01's grading, as a determined student would write them.

Each ``Attack`` is a submission: a base (the reference, slow-but-correct or wrong-but-
fast answers), solution cells replaced, and extra cells added after the first code cell
(students may add cells). ``expect`` gives the points each graded cell must get: an
attack must earn exactly what its base earns without it, and lose only the checks whose
functions it breaks. The grading test (tests/test_attacks.py) also checks what must hold
around the grade: the course's files unchanged, no byte of ``_reference.py`` in any
output, no process of the sandbox user left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab01_submissions import EXTRAS, LAB, NOTEBOOK, SLOW_BUT_CORRECT, WRONG_BUT_FAST

__all__ = ["ATTACKS", "BASES", "EXTRAS", "LAB", "MARKER", "NOTEBOOK", "REPORTER", "SPEED_CELLS"]

# A marker the test writes into the private _reference.py of its scratch course.
MARKER = "PRIVATE-REFERENCE-MARKER-7f3a9c"


@dataclass(frozen=True)
class Attack:
    name: str
    base: str  # "reference", "slow" or "wrong"
    answers: dict[str, str] = field(default_factory=dict)  # solution cells replaced
    cells: tuple[str, ...] = ()  # extra code cells, inserted after the first code cell
    lost: tuple[str, ...] = ()  # graded cells that get 0 beyond what the base loses
    says: dict[str, str] = field(default_factory=dict)  # grade_id -> a phrase its output holds
    tests: dict[str, str | None] = field(default_factory=dict)  # test cells edited (None: deleted)


# ----------------------------------------------------------------- helpers students write

# Runs as a detached daemon: it stops and resumes every process it can see, keeps two CPU
# burners going in their own sessions, and connects first to every socket it can find.
_INTERFERE = r"""
import glob, os, signal, socket, time
mine = {os.getpid(), os.getppid()}
for _ in range(2):
    if os.fork() == 0:
        os.setsid()
        while True:
            pass
held = []
end = time.time() + 900
while time.time() < end:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine:
            try:
                os.kill(int(entry), signal.SIGSTOP)
                time.sleep(0.002)
                os.kill(int(entry), signal.SIGCONT)
            except OSError:
                pass
    for path in glob.glob("/tmp/**/sock", recursive=True) + glob.glob("/var/tmp/**/sock", recursive=True):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            held.append(s)  # first in line, then never answer
        except OSError:
            pass
    time.sleep(0.01)
"""

_DAEMON = (
    "import subprocess, sys\n"
    "subprocess.Popen([sys.executable, '-c', {code!r}], start_new_session=True,\n"
    "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
)

# Looks everywhere a course keeps things, reads what it can, rewrites the trusted files it
# finds, and leaves a daemon that raises every grade in any gradebook it can open.
_SEARCH = r"""
import os
def candidates():
    seen, here = set(), os.path.abspath(os.getcwd())
    roots = [here] + [os.path.dirname(here)] * 0
    while here != "/":
        here = os.path.dirname(here)
        roots.append(here)
    roots += ["/root", "/home", "/srv", "/work", "/tmp", "/var/tmp", "/opt", "/mnt"]
    for top in roots:
        for root, dirs, files in os.walk(top):
            if root.count(os.sep) - top.count(os.sep) > 5:
                dirs[:] = []
            dirs[:] = [d for d in dirs if d not in (".venv", "site-packages", "proc", "sys", "usr")]
            for name in files:
                path = os.path.join(root, name)
                if path not in seen:
                    seen.add(path)
                    yield path
needle = bytes.fromhex("MARKER_HEX").decode()
found = {"read": [], "wrote": [], "leaked": []}
for path in candidates():
    name = os.path.basename(path)
    if name in ("_reference.py", "gradebook.db", "checks.py", "logpipe.py") or name.endswith(".ipynb"):
        try:
            text = open(path, errors="replace").read()
            found["read"].append(path)
            if needle in text:
                found["leaked"].append(text[:3000])
        except OSError:
            pass
    if name in ("checks.py", "logpipe.py", "_reference.py") and not path.startswith(os.getcwd()):
        try:
            with open(path, "a") as fh:
                fh.write("\nimport time; time.sleep(1)  # slow the baseline down\n")
            found["wrote"].append(path)
        except OSError:
            pass
print("ATTACK-REPORT", found)
"""

_GRADEBOOK = r"""
import glob, os, sqlite3, time
end = time.time() + 300
while time.time() < end:
    for pattern in ("/**/gradebook.db", "/root/**/gradebook.db", "/tmp/**/gradebook.db"):
        for db in glob.glob(pattern, recursive=True):
            try:
                con = sqlite3.connect(db, timeout=1)
                con.execute("UPDATE grade SET manual_score = 1000")
                con.commit()
            except Exception:
                pass
    time.sleep(1)
"""

# Lives in the kernel only: after this cell, the kernel takes requests and never answers.
_DEAF_KERNEL = (
    "try:\n"
    "    get_ipython().kernel.shell_handlers['execute_request'] = lambda *args: None\n"
    "except AttributeError:\n"
    "    pass  # not a Jupyter kernel (the supervisor's worker): nothing to break\n"
)

_LIMITS = (
    "import os, subprocess\n"
    "try:\n"
    "    with open('big.bin', 'wb') as fh:  # 1 GiB on disk\n"
    "        for _ in range(16):\n"
    "            fh.write(b'x' * 64 * 2**20)\n"
    "except OSError as exc:\n"
    "    print('disk:', exc)\n"
    "finally:\n"
    "    if os.path.exists('big.bin'):\n"
    "        os.remove('big.bin')\n"
    "for _ in range(20):  # children meant to outlive grading\n"
    "    subprocess.Popen(['sleep', '3000'], start_new_session=True)\n"
)

ATTACKS = [
    Attack(
        # Slow code that tries to win its speed points from outside its own process: it
        # slows the baseline with signals and burners, hijacks the baseline's channel,
        # and resets its own memory high-water mark.
        "outside-interference",
        base="slow",
        answers={
            "ex3-solution": (
                "def summarize_stream(path):\n"
                "    result = logpipe.summarize_file(path)  # everything in memory\n"
                "    try:\n"
                "        with open('/proc/self/clear_refs', 'w') as fh:\n"
                "            fh.write('5')  # and then forget the peak\n"
                "    except OSError:\n"
                "        pass\n"
                "    return result\n"
            )
        },
        cells=(_DAEMON.format(code=_INTERFERE),),
    ),
    Attack(
        # Wrong code that reads what is private, rewrites the trusted files and leaves a
        # daemon to raise its grades once nbgrader is done.
        "files-and-gradebook",
        base="wrong",
        cells=(_SEARCH.replace("MARKER_HEX", MARKER.encode().hex()), _DAEMON.format(code=_GRADEBOOK)),
        tests={"ex1a-check": "print('all good')", "ex2-correct": None},
    ),
    Attack(
        # Right answers except five functions that crash, hang, eat memory, exit or fork
        # without end; plus a cell that fills the disk and leaves children behind. Only
        # the checks of the broken functions may lose points. The kernel itself dies at
        # the first crash, so the cells after it are graded from the supervisor alone.
        "faults",
        base="reference",
        answers={
            "ex1c-solution": (
                "import ctypes\n\n"
                "def amdahl_speedup(p, s):\n"
                "    return ctypes.string_at(0)\n\n"
                "print(amdahl_speedup(0.9, 4))  # trying it out: this cell takes its process down\n"
            ),
            "ex2-solution": "def fast_report(lines):\n    while True:\n        pass\n",
            "ex3-solution": (
                "def summarize_stream(path):\n"
                "    hoard = []\n"
                "    while True:\n"
                "        hoard.append(bytearray(256 * 2**20))\n"
            ),
            "ex4b-solution": "import os\n\ndef offload_timings(x0, c, steps):\n    os._exit(3)\n",
            "ex4c-solution": (
                "import os\n\n"
                "def pays_off(bytes_in, bytes_out, flops, machine):\n"
                "    while True:\n"
                "        os.fork()\n"
            ),
        },
        cells=(_LIMITS,),
        lost=(
            "ex1c-check",
            "ex2-correct",
            "ex2-speed",
            "ex3-correct",
            "ex3-memory",
            "ex4b-check",
            "ex4c-check",
        ),
        says={
            "ex1c-check": "SIGSEGV",
            "ex2-correct": "did not finish within",
            "ex3-correct": "memory limit",
            "ex4b-check": "os._exit",
            "ex4c-check": "pays_off",
        },
    ),
    Attack(
        # A kernel that stops answering (nbgrader alone would wait 600 s per cell), and
        # right answers with the memory of exercise 3 hidden in a child process.
        "deaf-kernel",
        base="reference",
        answers={
            "ex3-solution": (
                "import multiprocessing as mp\n\n"
                "def _summarize_in_child(path, queue):\n"
                "    queue.put(logpipe.summarize_file(path))\n\n"
                "def summarize_stream(path):\n"
                "    ctx = mp.get_context('fork')\n"
                "    queue = ctx.Queue()\n"
                "    child = ctx.Process(target=_summarize_in_child, args=(path, queue))\n"
                "    child.start()\n"
                "    result = queue.get()\n"
                "    child.join()\n"
                "    return result\n"
            )
        },
        cells=(_DEAF_KERNEL,),
        lost=("ex3-memory",),
    ),
]

BASES = {"slow": SLOW_BUT_CORRECT, "wrong": WRONG_BUT_FAST}
SPEED_CELLS = ("ex2-speed", "ex3-memory")  # what slow-but-correct code loses here
REPORTER = "files-and-gradebook"  # the attack that prints what it could read and write
