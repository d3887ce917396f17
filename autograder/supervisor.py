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
import dataclasses
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import resources, services
from .correctness import point_inputs_at
from .errors import AutograderError, CellCrashed, GradingFault
from .judge import judge_parts, no_speed_points
from .runners import WorkerRunner
from .sandbox import Box
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


# Provided cells that only show something (a table, a plot, a comparison) carry this tag;
# the workers leave them out. They must define nothing a graded function uses. A student
# who tags a cell of their own only makes their own functions go missing.
NOT_GRADED_TAG = "not-graded"


def student_cells(nb: Any) -> list[str]:
    """The code the student's functions are built from: every code cell but the tests and
    the provided cells tagged "not-graded"."""
    return [
        cell["source"]
        for cell in nb["cells"]
        if cell.get("cell_type") == "code"
        and not _is_test_cell(cell)
        and NOT_GRADED_TAG not in cell.get("metadata", {}).get("tags", [])
    ]


KERNEL_STARTUP_S = 60.0  # kernel start, imports, the provided cells
MAX_SKIPPED_CELLS = 3  # a notebook with more cells that crash its worker is not retried


def budget_scale() -> float:
    """AUTOGRADER_BUDGET_SCALE multiplies every time limit (kernel budget, per-call
    timeouts): below 1 on a fast grader or in tests of stuck code, above 1 on a slow one."""
    try:
        return max(0.01, float(os.environ.get("AUTOGRADER_BUDGET_SCALE", "1")))
    except ValueError:
        return 1.0


def kernel_budget_s(nb: Any, lab: Lab) -> float:
    """How long executing this notebook for grading may take, derived from its checks:
    past it, the kernel and everything it started are killed and grading goes on."""
    total = KERNEL_STARTUP_S
    for call in find_check_calls(nb):
        try:
            total += lab.get(call.exercise).self_check_s
        except AutograderError:
            total += Exercise.self_check_s
    return total * budget_scale()


def worker_env() -> dict[str, str]:
    """Environment for both workers: same BLAS pinning, simulator when there is no GPU."""
    from .hardware import gpu_present

    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if not gpu_present():
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return env


def baseline_worker(
    lab_dir: str | Path,
    ex: Exercise,
    label: str = "the baseline",
    quiet: Callable[[], AbstractContextManager] | None = None,
) -> WorkerRunner:
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
        quiet=quiet,
    )


def _remote_env(box: Box, kind: str | None) -> dict[str, str]:
    """What a student's box needs to reach a backend configured on other hosts: the box
    cannot see the grader's IPython folder, so the engines' connection file is copied in."""
    if kind != "ipyparallel" or not resources.remote(kind):
        return {}
    source = resources.ipyparallel_connection_file()
    if source is None or not source.is_file():
        raise GradingFault(
            f"AUTOGRADER_IPP_PROFILE names no connection file ({source} is missing): start the "
            "cluster's ipcontroller first, or unset the variable to use local engines"
        )
    box.add_files([source])
    return {resources.REMOTE_ENV[kind]: str(box.work / source.name)}


def _owns_services(box: Box, kind: str | None) -> bool:
    """The grader runs a lab's services itself, as root, in the student's box's network
    namespace. Without root they start inside the box, and their counters are read
    from the student's own process (a limit `autograder doctor` states)."""
    return kind == "services" and not resources.remote(kind) and box.mode == "root"


def _services_env(box: Box, kind: str | None) -> dict[str, str]:
    if not _owns_services(box, kind):
        return {}
    ports = range(services.FIRST_OWNED_PORT, services.FIRST_OWNED_PORT + resources.SERVICE_INSTANCES)
    return {services.URLS_ENV: ",".join(f"http://127.0.0.1:{port}" for port in ports)}


def _services(box: Box, kind: str | None) -> Callable[[int], Any] | None:
    if not _owns_services(box, kind):
        return None
    return lambda pid: services.start_in_namespace(
        pid, resources.SERVICE_INSTANCES, resources.SERVICE_LATENCY_S
    )


def confined_worker(
    box: Box, ex: Exercise, setup: dict[str, Any], target: str, env: dict[str, str]
) -> WorkerRunner:
    """A worker that runs code for ``ex`` in ``box``, confined as a student's is, beside the
    backend ``ex.resource`` names. The supervisor's candidates and the stability report's
    share it, so the report times its candidates as grading does."""
    return WorkerRunner(
        setup,
        target,
        target,
        env={**env, **_remote_env(box, ex.resource), **_services_env(box, ex.resource)},
        mpi_ranks=ex.mpi_ranks if ex.launcher == "mpiexec" else None,
        timeout_s=ex.timeout_s,
        box=box,
        network=resources.remote(ex.resource),
        companion=_services(box, ex.resource),
    )


class Supervisor:
    """Grades the check calls of one notebook. Use as a context manager."""

    def __init__(
        self, nb: Any, lab_dir: str | Path, submission_dir: str | Path, small: bool, unsafe: bool = False
    ) -> None:
        self.nb, self.small = nb, small
        self.lab: Lab = load_lab(lab_dir)
        # The student's code runs confined, in a box holding a copy of the submission's
        # folder: its %%writefile and friends cannot touch the submission being graded,
        # and it can reach nothing of the grader's.
        self.box = Box(sorted(Path(submission_dir).iterdir()), unsafe=unsafe)
        self.scratch = str(self.box.work)
        self._input_dir = point_inputs_at(str(self.box.inputs))  # where the box can read them
        self.cells = student_cells(nb)
        self.skipped: dict[int, str] = {}  # cells that crashed or stalled a worker
        self.env = worker_env()
        self._workers: dict[tuple, WorkerRunner] = {}
        self._wrong: dict[tuple[str, str], Verdict] = {}  # (exercise, function): failed correctness

    def _candidate(self, ex: Exercise, target: str) -> WorkerRunner:
        key = (ex.resource, ex.launcher, ex.mpi_ranks if ex.launcher == "mpiexec" else 0)
        worker = self._workers.get(key)
        while worker is None or worker.proc.poll() is not None:
            cells = ["" if i + 1 in self.skipped else c for i, c in enumerate(self.cells)]
            setup = {"kind": "cells", "cells": cells, "cwd": self.scratch, "resource": ex.resource}
            setup["notes"] = list(self.skipped.values())
            try:
                worker = confined_worker(self.box, ex, setup, target, self.env)
            except CellCrashed as exc:
                # A cell that kills or stalls the process (a crashing function called at
                # the top level, say) costs the checks that need it, not every check.
                if len(self.skipped) >= MAX_SKIPPED_CELLS or exc.cell in self.skipped:
                    raise
                first = self.cells[exc.cell - 1].strip().splitlines()[0][:60]
                self.skipped[exc.cell] = f"cell {exc.cell} ({first!r}) was left out: {exc}"
                worker = None
            self._workers[key] = worker
        worker.target = worker.label = target
        return worker

    def _baseline(self, ex: Exercise) -> WorkerRunner:
        # Timed while every student process is frozen: nothing can compete with it.
        return baseline_worker(self.lab.directory, ex, quiet=self.box.frozen)

    def grade(self, call: CheckCall) -> list[Verdict]:
        try:
            ex = self.lab.get(call.exercise)
        except AutograderError as exc:
            return [Verdict(call.exercise, call.part, "fail", str(exc))]
        ex = dataclasses.replace(ex, timeout_s=ex.timeout_s * budget_scale())
        wrong = self._wrong.get((ex.name, call.target))
        if call.part == "speed" and wrong is not None:
            # An earlier call found this function wrong, crashed or stuck: calling it again
            # would only cost another timeout (18 s to 120 s) for the same 0.
            return [no_speed_points(ex, wrong)]
        try:
            candidate = self._candidate(ex, call.target)
        except AutograderError as exc:
            return [Verdict(ex.name, call.part, "fail", str(exc), hint=ex.correct_hint)]
        start = time.perf_counter()
        verdicts = judge_parts(ex, call.part, candidate, lambda: self._baseline(ex), self.small)
        # Each part's cost, for the grade command's throughput estimate.
        share = (time.perf_counter() - start) / max(1, len(verdicts))
        verdicts = [
            dataclasses.replace(v, evidence={**v.evidence, "seconds": round(share, 3)}) for v in verdicts
        ]
        for v in verdicts:
            if v.part == "correct" and v.status == "fail":
                self._wrong[(ex.name, call.target)] = v
        if any(v.status == "fail" for v in verdicts):
            # Whatever a failing function left running (a fork bomb's children, a stuck
            # thread) must not slow the next check: it gets a fresh worker.
            self._discard(candidate)
        return verdicts

    def _discard(self, worker: WorkerRunner) -> None:
        for key, known in list(self._workers.items()):
            if known is worker:
                del self._workers[key]
        worker.close()

    def grade_all(self) -> dict[int, list[Verdict]]:
        results: dict[int, list[Verdict]] = {}
        for call in find_check_calls(self.nb):
            results.setdefault(call.cell_index, []).extend(self.grade(call))
        return results

    def close(self) -> None:
        for worker in self._workers.values():
            if worker is not None:  # None: its cells crashed the worker before it could start
                worker.close()
        self.box.close()
        point_inputs_at(self._input_dir)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def grade_notebook(
    nb: Any, lab_dir: str | Path, submission_dir: str | Path, small: bool | None = None, unsafe: bool = False
) -> dict[int, list[Verdict]]:
    """Verdicts by test-cell index for every check call in ``nb``."""
    if small is None:
        small = os.environ.get("COURSE_SMALL") == "1"
    with Supervisor(nb, lab_dir, submission_dir, small, unsafe) as sup:
        return sup.grade_all()
