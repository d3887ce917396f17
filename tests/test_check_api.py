"""The notebook API, in-process (the self-check), on the toy lab: real workloads, real clocks."""

import os
import shutil
import time

import pytest

import autograder.selfcheck as check_mod
from autograder import check
from autograder.errors import UnknownExercise
from autograder.measure import TOO_BUSY
from autograder.selfcheck import CheckFailed


@pytest.fixture(autouse=True)
def _fresh_labs(no_requirements):
    check_mod._lab.cache_clear()


def _work(toy_lab):
    import importlib
    import sys

    sys.path.insert(0, str(toy_lab))
    return importlib.import_module("work")


def test_answer_pass_and_fail(toy_lab, capsys):
    [v] = check("answer", 42, lab=toy_lab)
    assert v.status == "pass"
    capsys.readouterr()
    with pytest.raises(CheckFailed, match="answer") as info:
        check("answer", 41, lab=toy_lab)
    # Printed once: the failed line is the error, not also stdout.
    assert "Hint: six times seven" in str(info.value)
    assert capsys.readouterr().out == ""
    assert info.value._render_traceback_() == [str(info.value)]


def test_fast_code_passes_and_slow_code_fails_with_numbers(toy_lab):
    work = _work(toy_lab)
    correct, speed = check("sort", work.fast_sort, lab=toy_lab)
    assert correct.passed and speed.passed and speed.measured > 5
    with pytest.raises(CheckFailed) as info:
        check("sort", work.insertion_sort, part="speed", lab=toy_lab)
    text = str(info.value)
    assert "measured speedup" in text and "needed 5x" in text and "Hint: use the built-in" in text


def test_memoising_does_not_help_because_inputs_are_fresh(toy_lab):
    work = _work(toy_lab)
    cache = {}

    def memo_sort(values):
        key = tuple(values)
        if key not in cache:
            cache[key] = work.insertion_sort(values)
        return cache[key]

    with pytest.raises(CheckFailed, match="needed 5x"):
        check("sort", memo_sort, part="speed", lab=toy_lab)


def test_a_function_given_for_an_answer_is_never_called(toy_lab):
    def forty_two():
        raise AssertionError("an answer must never be called")

    ANSWER = forty_two  # the way a notebook names its answers
    with pytest.raises(CheckFailed) as info:
        check("answer", ANSWER, lab=toy_lab)
    assert "ANSWER is the function forty_two, but this exercise asks for a value" in str(info.value)
    assert "Hint: six times seven" in str(info.value)


def test_unknown_exercise_names_the_known_ones(toy_lab):
    with pytest.raises(UnknownExercise, match="known ones are: answer"):
        check("no-such", 1, lab=toy_lab)


def test_wrong_signature_is_explained(toy_lab):
    with pytest.raises(CheckFailed, match=r"cannot be called the way the exercise calls it"):
        check("sort", lambda values, reverse: values, lab=toy_lab)


def test_wrong_shape_or_type_is_explained(toy_lab):
    with pytest.raises(CheckFailed, match="has 3 items, expected 1500"):
        check("sort", lambda values: [1, 2, 3], part="correct", lab=toy_lab)
    with pytest.raises(CheckFailed, match="cannot be graded"):
        check("sort", lambda values: object(), part="correct", lab=toy_lab)


def test_missing_hardware_is_a_skip_unless_required(toy_lab, monkeypatch):
    work = _work(toy_lab)
    from autograder.hardware import gpu_present

    if gpu_present():
        pytest.skip("this machine has a GPU")
    correct, speed = check("gpu-sort", work.fast_sort, lab=toy_lab)
    assert speed.status == "skipped" and speed.message.startswith("no GPU: ran on the CPU")
    with pytest.raises(CheckFailed, match="no speed points"):
        check("gpu-sort", lambda v: v, part="speed", lab=toy_lab)  # wrong code earns no skip
    monkeypatch.setenv("AUTOGRADER_REQUIRE", "gpu")
    with pytest.raises(CheckFailed, match="AUTOGRADER_REQUIRE includes 'gpu'"):
        check("gpu-sort", work.fast_sort, part="speed", lab=toy_lab)


def test_private_reference_falls_back_to_examples(toy_lab, tmp_path):
    lab = tmp_path / "lab"
    shutil.copytree(toy_lab, lab, ignore=shutil.ignore_patterns("_reference.py", "__pycache__"))
    [v] = check("private", sorted, part="correct", lab=lab)
    assert v.passed and "worked example" in v.message and "grading adds" in v.message
    [v] = check("private", sorted, part="correct", lab=toy_lab)
    assert v.passed and "fresh random inputs" in v.message


def test_parallel_code_is_judged_on_cpu_evidence(toy_lab):
    from autograder.hardware import usable_cores

    if usable_cores() < 2:
        pytest.skip("needs 2 cores")
    work = _work(toy_lab)
    try:
        [honest] = check("parallel", work.parallel_cost, part="speed", lab=toy_lab)
    except CheckFailed as exc:
        if TOO_BUSY in str(exc):
            pytest.skip(f"this machine was too busy to see parallel work: {exc}")
        raise
    assert honest.passed, honest.summary()
    assert honest.evidence["busiest_share"] < 0.75
    with pytest.raises(CheckFailed, match="not shared between workers"):
        check("parallel", work.disguised_cost, part="speed", lab=toy_lab)


def test_threads_that_hold_the_gil_do_not_pass_as_parallel(toy_lab):
    """Two pure-Python threads split the CPU time between them, so the busiest thread does
    half the work, but they never run at once: the cores they keep busy give them away."""
    from autograder.hardware import usable_cores

    if usable_cores() < 2:
        pytest.skip("needs 2 cores")
    work = _work(toy_lab)
    with pytest.raises(CheckFailed) as caught:
        check("parallel", work.threaded_cost, part="speed", lab=toy_lab)
    if TOO_BUSY in str(caught.value):
        pytest.skip(f"this machine was too busy to see parallel work: {caught.value}")
    assert "took turns instead of running at the same time" in str(caught.value), str(caught.value)


def test_the_capacity_probe_counts_its_processes_cpu_time():
    """How many cores the probe gets depends on the load; what it counts must not."""
    from autograder.capacity import probe

    for workers in (1, 2):
        cap = probe(workers, 0.1)
        # The processes compute together for 0.1 s of wall time: each gets at most that much
        # CPU, and on any machine that runs them at all, some.
        assert 0.02 * workers < cap.cpu_s <= 0.105 * workers, cap.summary()
        assert 0.0 < cap.cores <= workers * 1.05, cap.summary()
        # Their speed together over process 0's alone: 1 for one process, and for two a
        # ratio of loop rates that no machine stretches past a few times either way.
        assert (cap.speed == 1.0) if workers == 1 else (0.2 < cap.speed < 2.0), cap.summary()


def test_cpu_of_threads_that_ended_between_samples_is_counted():
    """Threads that live for less than a sampling interval still spent the CPU time."""
    import threading

    from autograder.cpu_monitor import CpuMonitor

    def spin():
        end = time.thread_time() + 0.003
        while time.thread_time() < end:
            pass

    with CpuMonitor(os.getpid()) as mon:
        for _ in range(40):
            t = threading.Thread(target=spin)
            t.start()
            t.join()
    ev = mon.evidence
    assert ev.cpu_s >= 0.1, ev.summary()
    # No sample saw most of those threads: their time counts as the busiest thread's.
    assert ev.busiest_share > 0.8, ev.summary()


def test_cpu_of_processes_reaped_below_the_root_is_counted():
    """In a sandbox the measured root is the entry process, and pool workers are reaped two
    levels down: their CPU lands in their parent's counters, not the root's. Many short
    children, most of them born and reaped between two samples, must all be counted."""
    import subprocess
    import sys

    from autograder.cpu_monitor import CpuMonitor

    inner = (
        "import multiprocessing as mp, resource, sys, time\n"
        "def spin():\n"
        "    end = time.process_time() + 0.015\n"
        "    while time.process_time() < end: pass\n"
        "sys.stdin.readline()\n"
        "for _ in range(15):\n"
        "    ps = [mp.get_context('fork').Process(target=spin) for _ in range(2)]\n"
        "    [p.start() for p in ps]; [p.join() for p in ps]\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(r.ru_utime + r.ru_stime, flush=True)\n"
    )
    outer = f"import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-c', {inner!r}]))"
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    proc = subprocess.Popen([sys.executable, "-c", outer], **pipes)
    try:
        time.sleep(1.0)  # both interpreters started and idle, waiting for the line
        with CpuMonitor(proc.pid) as mon:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            truth = float(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    assert truth > 0.3  # 30 children of 15 ms each
    assert mon.evidence.cpu_s >= 0.85 * truth, f"{mon.evidence.summary()}; the children used {truth:.3f} s"


def test_the_monitor_sees_a_pool_that_runs_ahead_of_the_grader_to_its_end():
    """Timed sessions run at TIMING_NICE, ahead of the grader's session. A pool of many short
    tasks wakes its workers often, and each wake-up preempted a sampler thread left in the
    grader: it waited over 60 ms between two samples in 3 windows of 10 (up to 152 ms), the
    workers' last moments before they exited were seen by no sample, and 28% and 44% of a
    window's CPU went unseen in 2 of them (counted as the busiest thread's). The monitor
    process, at the timed sessions' nice, saw all but 9% at most in the same 10 windows."""
    import subprocess
    import sys

    from autograder import monitor_service
    from autograder.hardware import usable_cores
    from autograder.reserve import timing_priority

    if usable_cores() != 2:
        pytest.skip("the starved sampler shows on a machine whose 2 cores the pool fills")
    inner = (
        "import multiprocessing as mp, sys, time\n"
        "def spin(_):\n"
        "    end = time.process_time() + 0.008\n"
        "    while time.process_time() < end: pass\n"
        "for _ in sys.stdin:\n"
        "    with mp.get_context('fork').Pool(2) as pool: pool.map(spin, range(64), chunksize=1)\n"
        "    print('done', flush=True)\n"
    )
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    proc = subprocess.Popen([sys.executable, "-c", inner], start_new_session=True, **pipes)
    unseen, gaps = [], []
    try:
        with timing_priority(proc.pid):
            with open(f"/proc/{proc.pid}/autogroup") as f:
                if "nice 0" in f.read():
                    pytest.skip("timed sessions run at the grader's priority here (no CAP_SYS_NICE)")
            for _ in range(12):
                with monitor_service.watching(proc.pid) as watch:
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                    assert proc.stdout.readline() == "done\n"
                unseen.append(watch.evidence.unseen_s / watch.evidence.cpu_s)
                gaps.append(watch.evidence.longest_gap_s)
    finally:
        proc.kill()
        proc.wait()
    assert max(gaps) < 0.06, f"the longest waits between samples, in ms: {[round(1000 * g) for g in gaps]}"
    assert max(unseen) < 0.2, f"shares of the CPU that no sample saw: {[round(u, 2) for u in unseen]}"


def test_the_monitor_process_reports_a_gone_process_and_is_replaced_when_killed():
    import psutil

    from autograder import monitor_service
    from autograder.errors import GradingFault

    gone = psutil.Popen(["true"])
    gone.wait()
    with pytest.raises(psutil.NoSuchProcess):
        with monitor_service.watching(gone.pid):
            pass
    first = monitor_service._SERVICE._proc
    with pytest.raises(GradingFault, match="monitor process ended"):
        with monitor_service.watching(os.getpid()):
            first.kill()
            first.wait()
    with monitor_service.watching(os.getpid()) as watch:  # a fresh monitor process
        time.sleep(0.05)
    assert monitor_service._SERVICE._proc.pid != first.pid
    assert watch.evidence.wall_s >= 0.05 and watch.evidence.threads_seen >= 1


def _spin_threads(seconds: float) -> None:
    """Two pure-Python threads: they hold the GIL, so they take turns on one core."""
    import threading

    def spin():
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    threads = [threading.Thread(target=spin) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.parametrize("leave_out", [False, True], ids=["counted", "left-out"])
def test_a_cpu_burner_started_before_the_call_is_not_parallel_evidence(leave_out):
    """Serial (GIL-bound) work beside a burner that was already running: the burner is left
    out, so the call shows one core's work; counted, it would look like two cores busy."""
    import subprocess
    import sys

    from autograder.cpu_monitor import CpuMonitor
    from autograder.hardware import usable_cores

    if usable_cores() < 2:
        pytest.skip("needs 2 cores")

    def cores_seen() -> tuple[float, str]:
        # Burner and threads each on a core of their own: the load balancer cannot stack them.
        mine = os.sched_getaffinity(0)
        first, second = sorted(mine)[:2]
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            os.sched_setaffinity(burner.pid, {first})
            os.sched_setaffinity(0, {second})
            time.sleep(0.5)
            with CpuMonitor(os.getpid(), leave_out_background=leave_out) as mon:
                _spin_threads(0.4)
        finally:
            os.sched_setaffinity(0, mine)
            burner.kill()
            burner.wait()
        return mon.evidence.mean_concurrency, mon.evidence.summary()

    cores, summary = cores_seen()
    if leave_out:
        assert cores < 1.15, summary
        return
    # A host that takes a core from this machine for a moment lowers what is seen: measure again.
    for _ in range(2):
        if cores > 1.3:
            break
        cores, summary = cores_seen()
    assert cores > 1.3, f"the burner should have counted here: {summary}"


def test_dask_client_is_provided_by_the_grader(toy_lab):
    work = _work(toy_lab)
    [v] = check("dask-total", work.dask_total, part="correct", lab=toy_lab)
    assert v.passed


def test_warnings_from_student_code_become_one_printed_note(toy_lab, capsys):
    """Under `nbgrader validate`, anything on stderr in a test cell costs its points."""
    import warnings

    def noisy_sort(values):
        warnings.warn("this sort is deprecated", stacklevel=1)
        return sorted(values)

    check("sort", noisy_sort, part="correct", lab=toy_lab)
    out = capsys.readouterr()
    assert "[NOTE] sort: your code warned: UserWarning: this sort is deprecated" in out.out
    assert out.err == ""


def test_an_error_in_a_pool_worker_names_the_workers_line_not_the_pools(tmp_path, monkeypatch):
    """A pool re-raises a worker's error inside concurrent.futures; the sentence must point at the
    student's line in the worker, which the parent's own traceback never reaches."""
    import concurrent.futures as cf
    import sys

    from autograder.errors import BadSubmission
    from autograder.invoke import call

    (tmp_path / "divwork.py").write_text("def share(x):\n    return 10 // x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import divwork

    def total(xs):
        with cf.ProcessPoolExecutor(2) as pool:
            return sum(pool.map(divwork.share, xs))

    with pytest.raises(BadSubmission) as caught:
        call(total, ([1, 0],), "total")
    assert "ZeroDivisionError" in str(caught.value)
    assert "in a worker, divwork.py line 2: return 10 // x" in str(caught.value)
    sys.modules.pop("divwork", None)


_SERVICE_LAB = """
from autograder import Exercise, services


def ids(rng, small):
    found = []
    while len(found) < 6:
        i = int(rng.integers(1, 10**6))
        if services.fault_of(i) is None:
            found.append(i)
    return (found,)


def values(ids):
    return [services.record(i)["value"] for i in ids]


def serial(pool, ids):
    return [services.get_json(f"{pool.urls[0]}/item/{i}")["value"] for i in ids]


def one_at_a_time(args, report):
    worst = max(inst["max_in_flight"] for inst in report["instances"])
    return None if worst <= 1 else f"{worst} requests were in flight at once; the limit is 1"


EXERCISES = [
    Exercise(
        name="polite",
        title="One request at a time",
        make_input=ids,
        baseline=serial,
        reference=values,
        resource="services",
        after_call=one_at_a_time,
        baseline_cpu_bound=False,
        correct_hint="one request at a time",
    )
]
"""


def _all_at_once(pool, ids):
    from concurrent.futures import ThreadPoolExecutor

    from autograder import services

    with ThreadPoolExecutor(len(ids) or 1) as ex:
        return list(ex.map(lambda i: services.get_json(f"{pool.urls[0]}/item/{i}")["value"], ids))


def test_after_call_reads_the_resource_after_each_call_in_the_kernel_and_when_graded(tmp_path):
    """Exercise.after_call: what a service pool saw during each call of the student's function
    fails the check with the exercise's sentence, in the self-check and through the supervisor's
    worker (the reports cross the wire beside the outputs)."""
    from nbformat.v4 import new_code_cell, new_notebook

    from autograder.supervisor import grade_notebook

    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "checks.py").write_text(_SERVICE_LAB)
    from autograder import services

    serial = lambda pool, ids: [services.get_json(f"{pool.urls[0]}/item/{i}")["value"] for i in ids]  # noqa: E731
    [v] = check("polite", serial, part="correct", lab=lab)
    assert v.passed
    with pytest.raises(CheckFailed) as failed:
        check("polite", _all_at_once, part="correct", lab=lab)
    (line,) = failed.value.lines
    assert "requests were in flight at once; the limit is 1" in line and "Hint: one request at a time" in line

    cells = {
        "serial": "from autograder import services\n"
        "def f(pool, ids):\n"
        "    return [services.get_json(f'{pool.urls[0]}/item/{i}')['value'] for i in ids]\n",
        "threads": "from concurrent.futures import ThreadPoolExecutor\nfrom autograder import services\n"
        "def f(pool, ids):\n"
        "    with ThreadPoolExecutor(6) as ex:\n"
        "        return list(ex.map(lambda i: services.get_json(f'{pool.urls[0]}/item/{i}')['value'],"
        " ids))\n",
    }
    statuses = {}
    for name, source in cells.items():
        test = new_code_cell('check("polite", f, part="correct")')
        test.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "t", "points": 1}
        nb = new_notebook(cells=[new_code_cell(source), test])
        submission = tmp_path / name
        submission.mkdir()
        (verdict,) = [v for vs in grade_notebook(nb, lab, submission, small=True).values() for v in vs]
        statuses[name] = (verdict.status, verdict.message)
    assert statuses["serial"][0] == "pass", statuses
    assert statuses["threads"][0] == "fail" and "the limit is 1" in statuses["threads"][1], statuses


def test_after_call_needs_a_resource():
    from autograder import Exercise

    with pytest.raises(ValueError, match="after_call reads a resource"):
        Exercise(name="x", title="x", make_input=lambda rng, small: (1,), baseline=abs, after_call=print)
