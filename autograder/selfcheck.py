"""The one function a notebook test cell calls: ``check("exercise-name", my_function)``.

In the student's kernel it is a self-check: it measures right there and prints a
verdict. When nbgrader autogrades, the grade does not come from here: the supervisor
(supervisor.py) re-runs the submission's cells in its own worker process and writes
its verdict over this cell's output. Here, during grading, only correctness is
checked, so that a misconfigured grader can never pass wrong code.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from pathlib import Path
from typing import Any

from .errors import AutograderError, BadSubmission
from .judge import judge_parts
from .resources import open_resource
from .runners import InProcessRunner, WorkerRunner
from .spec import Exercise, Lab, load_lab
from .verdict import Verdict

PARTS = ("correct", "speed", "all")


class CheckFailed(AssertionError):
    """Raised so that nbgrader (and the student) see the cell fail."""


class Verdicts(list):
    """The verdicts of one check() call. Already printed, so a notebook shows nothing more."""

    def _ipython_display_(self) -> None:
        pass

    def summary(self) -> str:
        return "\n".join(v.summary() for v in self)


def small_mode() -> bool:
    return os.environ.get("COURSE_SMALL") == "1"


@cache
def _lab(directory: str) -> Lab:
    return load_lab(directory)


def find_lab(lab: str | Path | None = None) -> Lab:
    """The lab whose checks.py sits in ``lab`` or else in the working directory."""
    return _lab(str(Path(lab or os.getcwd()).resolve()))


def _mpi_module_target(exercise: Exercise, target: Any) -> tuple[str, str]:
    module = getattr(target, "__module__", None)
    name = getattr(target, "__name__", None)
    if not module or module == "__main__" or not name:
        raise BadSubmission(
            f"{exercise.name} runs under mpiexec, so your function must live in a file: write "
            "it with %%writefile my_module.py, then `from my_module import ...`"
        )
    return module, name


def _baseline_in_kernel(exercise: Exercise, lab: Lab, prefix: tuple) -> Any:
    if exercise.launcher == "mpiexec":
        from .supervisor import baseline_worker

        return baseline_worker(lab.directory, exercise)
    assert exercise.baseline is not None
    return InProcessRunner(exercise.baseline, "the baseline", prefix)


def _self_check(exercise: Exercise, lab: Lab, target: Any, part: str) -> list[Verdict]:
    small = small_mode()
    with contextlib.ExitStack() as stack:
        resource = open_resource(exercise.resource, stack)
        prefix = (resource,) if resource is not None else ()
        if exercise.launcher == "mpiexec":
            module, attr = _mpi_module_target(exercise, target)
            candidate: Any = stack.enter_context(
                WorkerRunner(
                    {"kind": "module", "cwd": os.getcwd(), "module": module, "attr": attr},
                    attr,
                    attr,
                    mpi_ranks=exercise.mpi_ranks,
                    timeout_s=exercise.timeout_s,
                )
            )
        else:
            label = getattr(target, "__name__", exercise.name)
            candidate = InProcessRunner(target, label, prefix)
        grading = os.environ.get("NBGRADER_EXECUTION") == "autograde"
        verdicts = judge_parts(
            exercise,
            part,
            candidate,
            None if grading else (lambda: _baseline_in_kernel(exercise, lab, prefix)),
            small,
        )
    return Verdicts(verdicts)


def check(exercise: str, target: Any, *, part: str = "all", lab: str | Path | None = None) -> Verdicts:
    """Check ``target`` (a function, or a value for answer exercises) against ``exercise``.

    part: "correct" (right results), "speed" (the bar, with every result verified too),
    or "all". Prints one line per verdict and raises CheckFailed if any part failed.
    """
    __tracebackhide__ = True  # IPython and pytest then show the message, not this frame
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    the_lab = find_lab(lab)
    ex = the_lab.get(exercise)
    try:
        verdicts = _self_check(ex, the_lab, target, part)
    except AutograderError as exc:
        verdicts = [Verdict(ex.name, part, "fail", str(exc), hint=ex.hint)]
    for v in verdicts:
        print(v.summary())
    failed = [v for v in verdicts if v.status == "fail"]
    if failed:
        raise CheckFailed("\n".join(v.summary() for v in failed))
    return Verdicts(verdicts)
