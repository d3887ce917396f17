"""The supervisor: grades a submitted notebook from outside the student's process.

It reads the notebook's trusted test cells for their ``check(...)`` calls, rebuilds the
student's functions by running the submission's code cells (the provided cells and
the solution cells, not the test cells) in a worker process, times that worker from
here against a second worker that runs the course's own baseline, and verifies every
output against the course's reference computed here. Nothing the student's code does
to its own interpreter (a replaced clock, a redefined baseline, a patched helper, a
cache) reaches the numbers.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AutograderError
from .judge import judge_parts
from .runners import WorkerRunner
from .spec import Exercise, Lab, load_lab
from .verdict import Verdict


@dataclass(frozen=True)
class CheckCall:
    cell_index: int
    exercise: str
    target: str  # the name the student's function or answer is bound to
    part: str


def _is_test_cell(cell: Any) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def find_check_calls(nb: Any) -> list[CheckCall]:
    """Every ``check("name", target, part=...)`` call in the notebook's test cells."""
    calls = []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code" or not _is_test_cell(cell):
            continue
        try:
            tree = ast.parse(cell["source"])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            fname = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if fname != "check" or len(node.args) < 2:
                continue
            name, target = node.args[0], node.args[1]
            if not (isinstance(name, ast.Constant) and isinstance(target, ast.Name)):
                continue
            part = "all"
            for kw in node.keywords:
                if kw.arg == "part" and isinstance(kw.value, ast.Constant):
                    part = str(kw.value.value)
            calls.append(CheckCall(index, str(name.value), target.id, part))
    return calls


def student_cells(nb: Any) -> list[str]:
    """The code the student's functions are built from: every code cell but the tests."""
    return [
        cell["source"] for cell in nb["cells"] if cell.get("cell_type") == "code" and not _is_test_cell(cell)
    ]


def worker_env() -> dict[str, str]:
    """Environment for both workers: same BLAS pinning, simulator when there is no GPU."""
    from .hardware import gpu_present

    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if not gpu_present():
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return env


def baseline_worker(lab_dir: str | Path, ex: Exercise, label: str = "the baseline") -> WorkerRunner:
    """The course's baseline of ``ex``, loaded from the trusted lab folder, in its own process."""
    setup = {
        "kind": "lab",
        "lab_dir": str(lab_dir),
        "exercise": ex.name,
        "role": "baseline",
        "cwd": str(lab_dir),
        "resource": ex.resource,
    }
    return WorkerRunner(
        setup,
        "__target__",
        label,
        env=worker_env(),
        mpi_ranks=1 if ex.launcher == "mpiexec" else None,
        timeout_s=ex.timeout_s,
    )


class Supervisor:
    """Grades the check calls of one notebook. Use as a context manager."""

    def __init__(self, nb: Any, lab_dir: str | Path, submission_dir: str | Path, small: bool) -> None:
        self.nb, self.small = nb, small
        self.lab: Lab = load_lab(lab_dir)
        # The student's code runs in a scratch copy: its %%writefile and friends
        # cannot touch the submission being graded.
        self.scratch = tempfile.mkdtemp(prefix="autograder-sub-")
        shutil.copytree(submission_dir, self.scratch, dirs_exist_ok=True)
        self.cells = student_cells(nb)
        self.env = worker_env()
        self._workers: dict[tuple, WorkerRunner] = {}

    def _candidate(self, ex: Exercise, target: str) -> WorkerRunner:
        key = (ex.resource, ex.launcher, ex.mpi_ranks if ex.launcher == "mpiexec" else 0)
        worker = self._workers.get(key)
        if worker is None or worker.proc.poll() is not None:
            worker = WorkerRunner(
                {"kind": "cells", "cells": self.cells, "cwd": self.scratch, "resource": ex.resource},
                target,
                target,
                env=self.env,
                mpi_ranks=ex.mpi_ranks if ex.launcher == "mpiexec" else None,
                timeout_s=ex.timeout_s,
            )
            self._workers[key] = worker
        worker.target = worker.label = target
        return worker

    def _baseline(self, ex: Exercise) -> WorkerRunner:
        return baseline_worker(self.lab.directory, ex)

    def grade(self, call: CheckCall) -> list[Verdict]:
        try:
            ex = self.lab.get(call.exercise)
        except AutograderError as exc:
            return [Verdict(call.exercise, call.part, "fail", str(exc))]
        try:
            candidate = self._candidate(ex, call.target)
        except AutograderError as exc:
            return [Verdict(ex.name, call.part, "fail", str(exc), hint=ex.correct_hint)]
        return judge_parts(ex, call.part, candidate, lambda: self._baseline(ex), self.small)

    def grade_all(self) -> dict[int, list[Verdict]]:
        results: dict[int, list[Verdict]] = {}
        for call in find_check_calls(self.nb):
            results.setdefault(call.cell_index, []).extend(self.grade(call))
        return results

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def grade_notebook(
    nb: Any, lab_dir: str | Path, submission_dir: str | Path, small: bool | None = None
) -> dict[int, list[Verdict]]:
    """Verdicts by test-cell index for every check call in ``nb``."""
    if small is None:
        small = os.environ.get("COURSE_SMALL") == "1"
    with Supervisor(nb, lab_dir, submission_dir, small) as sup:
        return sup.grade_all()
