"""Reserved cores: how the grade command splits a machine, and the class-wide timing lock."""

from __future__ import annotations

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
