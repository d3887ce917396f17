"""Reserved cores: how the grade command splits a machine, and the class-wide timing lock."""

from __future__ import annotations

import contextlib
import os
import threading
import time

from autograder import reserve


def test_a_big_grader_times_on_reserved_cores_and_checks_on_the_rest(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    plan = reserve.plan()
    assert plan.timing == (0, 1, 2, 3) and plan.correctness == tuple(range(4, 16)) and plan.jobs == 12
    assert "timing one at a time on 4 reserved cores" in plan.summary()
    assert reserve.plan(jobs=3).jobs == 3


def test_a_small_grader_grades_one_submission_at_a_time(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    plan = reserve.plan(jobs=8)
    assert plan.jobs == 1 and plan.timing == (0, 1)


def test_timing_slots_never_overlap(tmp_path, monkeypatch):
    cores = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    monkeypatch.setenv(reserve.LOCK_ENV, str(tmp_path / "lock"))
    monkeypatch.setenv(reserve.TIMING_ENV, cores)
    inside, overlaps = [], []

    def timed() -> None:
        with reserve.timing_slot(os.getpid()):
            inside.append(1)
            overlaps.append(len(inside))
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=timed) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1, 1, 1, 1]


def test_without_the_grade_command_a_slot_does_nothing(monkeypatch):
    monkeypatch.delenv(reserve.LOCK_ENV, raising=False)
    before = os.sched_getaffinity(0)
    with reserve.timing_slot():
        assert os.sched_getaffinity(0) == before


def _autogroup_nice(pid: int) -> int:
    with open(f"/proc/{pid}/autogroup") as f:
        return int(f.read().split()[-1])


# Waits for a line, then prints the cores 2 computing processes got, 3 times, with the
# probe the grading uses (pinned, 0.1 s: unpinned, the boost showed in only half of them).
_PROBES = (
    "from autograder.capacity import probe\nfrom autograder.measure import Policy\ninput()\n"
    "for _ in range(3): print(probe(2, Policy().probe_s).cores, flush=True)"
)


def _probes(boost: bool) -> list[float]:
    """Started in a session of its own, as the baseline's worker starts the probe."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", _PROBES],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        with reserve.timing_priority(proc.pid) if boost else contextlib.nullcontext():
            assert _autogroup_nice(proc.pid) == (reserve.TIMING_NICE if boost else 0)
            proc.stdin.write("go\n")
            proc.stdin.flush()
            cores = [float(proc.stdout.readline()) for _ in range(3)]
        assert _autogroup_nice(proc.pid) == 0  # stepped back
        return cores
    finally:
        proc.kill()
        proc.wait()


def test_timed_sessions_go_ahead_of_a_spinning_neighbour_and_then_step_back():
    """Autogroups share a busy machine between sessions: a neighbour spinning in its own
    session leaves a 2-process probe about one core of two. Timed sessions get it back."""
    import statistics
    import subprocess
    import sys

    import pytest

    from autograder.hardware import usable_cores

    if os.geteuid() != 0 or not os.path.exists("/proc/self/autogroup"):
        pytest.skip("needs root and Linux autogroups")
    if usable_cores() < 2:
        pytest.skip("needs 2 cores")
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        time.sleep(0.3)
        plain, boosted = _probes(boost=False), _probes(boost=True)
    finally:
        neighbour.kill()
        neighbour.wait()
    assert statistics.median(boosted) > 1.25, f"boosted {boosted}, plain {plain}"
    assert statistics.median(boosted) > statistics.median(plain) + 0.2, f"boosted {boosted}, plain {plain}"
