"""Lab 04's checks on their own: nothing released gives an answer away; the checks that decide
near a boundary catch each common mistake every time, not by luck; a worker that crashes gets a
sentence and leaves no process behind; and the cluster exercise runs on engines started apart
from the grader, through a profile, as an instructor would point it at another cluster."""

import ast
import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest
from conftest import ROOT
from nbformat.v4 import new_code_cell, new_notebook

from autograder import check
from autograder.correctness import Inputs, cases
from autograder.selfcheck import CheckFailed

SOLUTION = ROOT / "solutions" / "04-multiprocessing"
RELEASED = ROOT / "labs" / "04-multiprocessing"
NOTEBOOK = "04-multiprocessing-lab.ipynb"


@pytest.fixture(scope="module")
def lab04():
    sys.path.insert(0, str(SOLUTION))
    from autograder.spec import load_lab

    lab = load_lab(SOLUTION)
    return lab, importlib.import_module("mpwork")


def _descendants() -> set[int]:
    """This process's children, but for multiprocessing's own long-lived helpers (the resource
    tracker that shared memory starts, a forkserver): they serve every later pool too."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if not any(h in " ".join(child.cmdline()) for h in ("resource_tracker", "forkserver")):
                found.add(child.pid)
    return found


def _no_new_processes(before: set[int], timeout_s: float = 5.0) -> list[int]:
    """Processes this test process started that are still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [pid for pid in _descendants() - before if psutil.pid_exists(pid)]
        alive = [pid for pid in alive if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


# ------------------------------------------------------------ nothing given away


def test_private_files_stay_private_and_no_written_module_is_released():
    released = {p.name for p in RELEASED.iterdir()}
    assert released == {NOTEBOOK, "checks.py", "mpwork.py"}, released
    # The notebook writes its worker module into a temporary folder, never next to the lab.
    assert not (SOLUTION / "shm_worker.py").exists(), "the solution notebook wrote into solutions/"


def test_the_released_stubs_hold_no_parallel_code():
    nb = nbformat.read(RELEASED / NOTEBOOK, as_version=4)
    stubs = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(stubs) == 5
    for source in stubs:
        assert "raise NotImplementedError()" in source
        for tell in ("Pool(", "ProcessPoolExecutor(", ".spawn(", "SharedMemory(", "map_sync", "chunksize="):
            assert tell not in source, f"a released stub contains {tell!r}:\n{source}"


def test_released_helpers_contain_no_parallel_solution():
    """mpwork.py is the serial oracle (it shows the seeding scheme on purpose); checks.py holds
    inputs, bars and hints. Neither may run a pool or attach shared memory for the student."""
    for name in ("mpwork.py", "checks.py"):
        tree = ast.parse((RELEASED / name).read_text())
        called = {
            getattr(node.func, "attr", getattr(node.func, "id", None))
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        for api in ("Pool", "ProcessPoolExecutor", "SharedMemory", "starmap", "load_balanced_view"):
            assert api not in called, f"{name} calls {api}"


# ------------------------------------------------- boundary checks: caught every time


def _chunked_sum(numbers, parts):
    size = len(numbers) // parts
    return sum(sum(map(_steps, numbers[i * size : (i + 1) * size])) for i in range(parts))


def _steps(n):
    import mpwork

    return mpwork.collatz_steps(n)


def test_dropped_remainders_fail_on_every_draw_for_any_worker_count(lab04):
    """Every input's length is prime (or tiny): no worker count from 2 to 8 divides it, so a
    hand-made chunking that drops the remainder is wrong on every check, and named."""
    lab, mpwork = lab04
    ex = lab.get("chunked-map")
    for _ in range(20):
        checked, _ = cases(ex, small=True, n_random=0)
        for parts in range(2, 9):
            wrong = [c for c in checked if _chunked_sum(list(c.args[0]), parts) != c.expected.value]
            assert wrong, f"{parts} chunks slipped through"
            first = wrong[0]
            got = _chunked_sum(list(first.args[0]), parts)
            said = ex.diagnose(first.args, first.expected.value, got)
            assert "the last chunk must end at len(numbers)" in said
    for args in Inputs(ex, small=True).draw(3):
        n = len(args[0])
        assert all(n % parts for parts in range(2, 64)), n


def _pi_variants(mpwork, seed, n_samples, n_tasks):
    sizes = [n_samples // n_tasks + (i < n_samples % n_tasks) for i in range(n_tasks)]
    children = np.random.SeedSequence(seed).spawn(n_tasks)
    return {
        "same seed": 4 * sum(mpwork.count_inside(seed, k) for k in sizes) / n_samples,
        "one SeedSequence pickled to every task": 4
        * sum(mpwork.count_inside(np.random.SeedSequence(seed), k) for k in sizes)
        / n_samples,
        "seed + i": 4 * sum(mpwork.count_inside(seed + i, k) for i, k in enumerate(sizes)) / n_samples,
        "remainder dropped": 4
        * sum(mpwork.count_inside(c, n_samples // n_tasks) for c in children)
        / n_samples,
        "fraction, not times 4": sum(mpwork.count_inside(c, k) for c, k in zip(children, sizes)) / n_samples,
    }


@pytest.mark.parametrize("exercise", ["monte-carlo", "engines"])
def test_wrong_seedings_and_splits_fail_on_the_edge_cases_every_time_and_are_named(lab04, exercise):
    lab, mpwork = lab04
    ex = lab.get(exercise)
    verify = ex.verify
    names = {
        "same seed": "same random numbers",
        "one SeedSequence pickled to every task": "same random numbers",
        "seed + i": "SeedSequence(seed).spawn(n_tasks)",  # with one task, it is the seed itself
        "remainder dropped": "draw one point more",
        "fraction, not times 4": "4 times the fraction",
    }
    for _ in range(10):
        edges = Inputs(ex, small=True).edges()
        for name, says in names.items():
            first = None
            for args in edges:
                expected = mpwork.estimate_pi_serial(*args)
                got = _pi_variants(mpwork, *args)[name]
                if verify(expected, got):
                    first = (args, expected, got)
                    break
            if first is None and name == "remainder dropped" and exercise == "engines":
                continue  # its edges divide evenly or not at all; the random inputs catch it
            assert first is not None, f"'{name}' passed every edge case of {exercise}"
            assert says in (ex.diagnose(*first) or ""), f"'{name}' not named: {ex.diagnose(*first)}"


def test_the_remainder_is_dropped_on_the_engines_random_inputs(lab04):
    lab, mpwork = lab04
    ex = lab.get("engines")
    for args in Inputs(ex, small=True).draw(5):
        seed, n, tasks = args
        assert n % tasks, "every random input leaves a remainder"


def _relax_with_bounds(mpwork, a, bounds, fill="zeros"):
    out = np.zeros_like(a) if fill == "zeros" else a.copy()
    for lo, hi in bounds:
        mpwork.relax_into(a[lo:hi], out[lo:hi])
    return out


def test_chunk_bounds_that_stop_short_fail_and_are_named_for_any_worker_count(lab04):
    lab, mpwork = lab04
    ex = lab.get("shared-rows")
    for _ in range(5):
        edges = Inputs(ex, small=True).edges()
        for workers in range(2, 9):
            for fill in ("zeros", "input"):
                wrong = None
                for (a,) in edges:
                    step = a.shape[0] // workers
                    bounds = [(i * step, (i + 1) * step) for i in range(workers)]
                    got = _relax_with_bounds(mpwork, a, bounds, fill)
                    expected = mpwork.relax_rows(a)
                    if ex.verify(expected, got):
                        wrong = (a, expected, got)
                        break
                assert wrong is not None, f"{workers} short chunks slipped through"
                assert "rows were never processed" in ex.diagnose((wrong[0],), wrong[1], wrong[2])


def test_shared_memory_diagnoses_name_each_mistake(lab04):
    lab, mpwork = lab04
    ex = lab.get("shared-rows")
    (a,) = Inputs(ex, small=True).edges()[0]
    right = mpwork.relax_rows(a)
    assert "never reached the array you returned" in ex.diagnose((a,), right, np.zeros_like(a))
    assert "the input unchanged" in ex.diagnose((a,), right, a.copy())
    gaps = _relax_with_bounds(mpwork, a, [(0, 9), (10, 19), (20, 29), (30, a.shape[0])])
    assert "leave gaps" in ex.diagnose((a,), right, gaps)
    assert ex.diagnose((a,), right, right) is None


def test_every_lab_input_is_compute_bound_and_long_enough(lab04):
    """A serial call lasts about a quarter of a second or more in small mode (a pool's start-up is
    tens of milliseconds), and each task keeps its data in cache."""
    lab, mpwork = lab04
    for name in ("chunked-map", "monte-carlo", "shared-rows"):
        ex = lab.get(name)
        (args,) = Inputs(ex, small=True).draw(1)
        ex.baseline(*args)
        t0 = time.perf_counter()
        ex.baseline(*args)
        assert time.perf_counter() - t0 > 0.18, f"{name}: the serial call is too short to time a pool against"


# ------------------------------------------------ crashing workers: a sentence, no leftovers


def _crashing_relax(kind):
    """A relax_shared whose worker raises (``raise``) or whose worker process dies (``die``)."""
    from concurrent.futures import ProcessPoolExecutor

    import mpwork

    def relax_shared(a):
        with ProcessPoolExecutor(2) as pool:
            if kind == "raise":  # a chunk whose shapes do not fit: relax_into says which it got
                list(pool.map(mpwork.relax_into, [a[:2]], [np.empty((3, a.shape[1]))]))
            else:  # a worker process that dies, as a crash in C code would
                list(pool.map(os._exit, [1]))
        return mpwork.relax_rows(a)

    return relax_shared


@pytest.mark.parametrize("kind", ["raise", "die"])
def test_a_crashing_worker_gets_a_sentence_and_leaves_no_process(kind, lab04, no_requirements):
    before = _descendants()
    relax_shared = _crashing_relax(kind)
    with pytest.raises(CheckFailed) as failed:
        check("shared-rows", relax_shared, part="correct", lab=SOLUTION)
    (line,) = failed.value.lines
    assert line.startswith("[FAIL] shared-rows (correct): relax_shared raised "), line
    if kind == "raise":
        assert "ValueError: relax_into: src has shape (2, " in line, line
    else:
        assert "BrokenProcessPool" in line, line
    assert "Hint:" in line and "Traceback" not in line
    assert _no_new_processes(before) == []


# A worker process that dies; and a result that is a view of a block already closed, which
# kills the process that reads it (NumPy 2 lets close() unmap memory a view still points into).
_DYING = {
    "worker dies": (
        "def relax_shared(a):\n"
        "    with ProcessPoolExecutor(2) as pool:\n"
        "        list(pool.map(os._exit, [1, 1]))\n"
        "    return a\n",
        "BrokenProcessPool",
    ),
    "view of a closed block": (
        "def relax_shared(a):\n"
        "    shm = shared_memory.SharedMemory(create=True, size=a.nbytes)\n"
        "    out = np.ndarray(a.shape, dtype=np.float64, buffer=shm.buf)\n"
        "    out[:] = a\n"
        "    shm.close()\n"
        "    shm.unlink()\n"
        "    return out  # no copy\n",
        "killed by signal SIGSEGV",
    ),
}


@pytest.mark.parametrize("case", sorted(_DYING))
def test_a_crash_under_grading_costs_its_check_and_leaves_nothing(
    case, tmp_path, monkeypatch, no_requirements
):
    """Crashes graded by the supervisor: one sentence, and the box and its processes are gone after."""
    from autograder import supervisor

    boxes = []

    class RecordedBox(supervisor.Box):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            boxes.append(str(self.dir))

    monkeypatch.setattr(supervisor, "Box", RecordedBox)
    submission = tmp_path / "submission"
    shutil.copytree(RELEASED, submission)
    setup = (
        "import os\nfrom concurrent.futures import ProcessPoolExecutor\n"
        "from multiprocessing import shared_memory\nimport numpy as np\nfrom autograder import check"
    )
    code, says = _DYING[case]
    solution = new_code_cell(code)
    solution.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "sol"}
    test = new_code_cell('check("shared-rows", relax_shared, part="correct")')
    test.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "t0", "points": 1}
    nb = new_notebook(cells=[new_code_cell(setup), solution, test])
    result = supervisor.grade_notebook(nb, SOLUTION, submission, small=True)
    (verdict,) = [v for vs in result.values() for v in vs]
    assert verdict.status == "fail" and says in verdict.message, verdict.summary()
    assert verdict.message.startswith("relax_shared") or "relax_shared" in verdict.message
    assert boxes, "the supervisor made no box"

    def in_a_box(proc):
        with contextlib.suppress(psutil.Error):
            return any(box in arg for arg in proc.cmdline() for box in boxes)
        return False

    deadline = time.monotonic() + 5
    while (left := [p.pid for p in psutil.process_iter() if in_a_box(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == [], "processes of the graded box outlived grading"
    assert not any(os.path.exists(box) for box in boxes)


# --------------------------------------- engines started apart, reached through a profile


@contextlib.contextmanager
def _cluster(ipython_dir: Path, profile: str, engines: int, cwd: Path):
    """ipcontroller and ipengine processes started by hand, as on a real cluster; all stopped after."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "IPYTHONDIR": str(ipython_dir)}
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(bindir / args[0]), f"--profile={profile}", "--log-level=ERROR", *args[1:]],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    security = ipython_dir / f"profile_{profile}" / "security"
    try:
        controller = start("ipcontroller", "--ip=127.0.0.1")
        deadline = time.monotonic() + 60
        while not (security / "ipcontroller-engine.json").exists():
            assert controller.poll() is None, "ipcontroller exited"
            assert time.monotonic() < deadline, "no connection file after 60 s"
            time.sleep(0.1)
        for _ in range(engines):
            start("ipengine")  # in the lab's folder: the engines import mpwork from there
        yield security / "ipcontroller-client.json", procs
    finally:
        tree = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                tree += [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        gone, alive = psutil.wait_procs([psutil.Process(p) for p in tree if psutil.pid_exists(p)], timeout=15)
        for p in alive:
            p.kill()


def _grade_engines_cell(folder: Path) -> list:
    """Grade the reference's engines exercise alone, through the supervisor, as nbgrader does."""
    from grading import reference

    from autograder.supervisor import grade_notebook

    nb = reference(nbformat.read(SOLUTION / NOTEBOOK, as_version=4))
    other = ("chunked-map", "monte-carlo", "shared-rows")
    nb.cells = [c for c in nb.cells if not any(f'check("{name}"' in c.source for name in other)]
    folder.mkdir()
    nbformat.write(nb, folder / NOTEBOOK)
    shutil.copy2(RELEASED / "mpwork.py", folder / "mpwork.py")
    graded = grade_notebook(nb, SOLUTION, folder)
    return [v for verdicts in graded.values() for v in verdicts]


def test_the_graders_local_engines_outlast_a_freeze_of_many_heartbeats():
    """Its hub pings every 250 ms so that engines register sooner; a box frozen while the baseline
    is timed must not get them declared dead (10 misses would be 2.5 s, 120 are 30 s)."""
    from autograder.resources import ipyparallel_client

    with ipyparallel_client() as client:
        pids = client[:].apply_sync(os.getpid)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(4.0)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        time.sleep(1.0)  # a hub that gave up would have unregistered them by now
        assert client[:].apply_sync(os.getpid) == pids
        assert len(client.ids) == len(pids)


def test_the_engines_exercise_runs_on_engines_started_apart_through_a_profile(
    tmp_path, monkeypatch, no_requirements
):
    import ipyparallel as ipp

    profile = "lab04test"
    used: list[int] = []

    def estimate_pi_engines(client, seed, n_samples, n_tasks):
        import mpwork

        children = np.random.SeedSequence(seed).spawn(n_tasks)
        sizes = [n_samples // n_tasks + (i < n_samples % n_tasks) for i in range(n_tasks)]
        result = client.load_balanced_view().map_async(mpwork.count_inside, children, sizes)
        hits = result.get()
        pid_of = dict(zip(client.ids, client[:].apply_sync(os.getpid)))
        used.extend(pid_of[engine] for engine in result.engine_id)
        return 4.0 * sum(hits) / n_samples

    with _cluster(tmp_path / "ipython", profile, 2, SOLUTION) as (client_file, procs):
        client = ipp.Client(str(client_file))  # a connection file, as a student would use one
        try:
            client.wait_for_engines(2, timeout=120)
            engine_pids = set(client[:].apply_sync(os.getpid))
        finally:
            client.close()
        # The grader's way: a profile name, found under IPYTHONDIR.
        monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
        monkeypatch.setenv("AUTOGRADER_IPP_PROFILE", profile)
        (verdict,) = check("engines", estimate_pi_engines, lab=SOLUTION)
        assert verdict.status == "pass", verdict.summary()
        assert used and set(used) <= engine_pids, "the tasks did not run on the engines started by hand"
        # Graded: the student's code runs in a box that cannot see the grader's IPython folder.
        # The grader copies the connection file in and keeps the network for the configured cluster.
        verdicts = _grade_engines_cell(tmp_path / "submission")
        assert [v.status for v in verdicts] == ["pass"], [v.summary() for v in verdicts]
        started = {p.pid for p in procs}
    alive = [pid for pid in started | engine_pids if psutil.pid_exists(pid)]
    assert alive == [], "a cluster process outlived the test"
