"""The one function a notebook test cell calls: ``check("exercise-name", my_function)``.

In the student's kernel it is a self-check: it measures right there and prints a
verdict. When nbgrader autogrades, the grade does not come from here: the supervisor
(supervisor.py) re-runs the submission's cells in its own worker process and writes
its verdict over this cell's output, so here, during grading, check() only says so.
Each self-check's verdicts are kept (``last_checks``) for the progress page.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import warnings
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

# (exercise, part) -> (the target checked, its verdicts): what progress() shows without
# measuring again, as long as the name still refers to the same object.
last_checks: dict[tuple[str, str], tuple[Any, list[Verdict]]] = {}


class CheckFailed(AssertionError):
    """Raised so that nbgrader (and the student) see the cell fail.

    It carries the failed parts' lines and nothing else: IPython shows them as the
    cell's error (via ``_render_traceback_``) instead of a traceback into the
    autograder, so each line is printed once, and nbgrader still sees an error.
    """

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

    def _render_traceback_(self) -> list[str]:
        return self.lines


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


def _target_label(exercise: Exercise, target: Any) -> str:
    """The name the student gave ``target`` in ``check("...", NAME)``, as the supervisor
    reads it from the cell; else the function's own name, else the exercise's."""
    for frame in inspect.stack(context=1)[2:6]:
        line = (frame.code_context or [""])[0].strip()
        try:
            tree = ast.parse(line)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Name)
            ):
                return node.args[1].id
    return getattr(target, "__name__", exercise.name)


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
            candidate = InProcessRunner(target, _target_label(exercise, target), prefix)
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

    part: "correct" (right results), "speed" (the bar, or the memory bar, with every
    result verified too), or "all". Prints one line per part that passed or was skipped;
    the failed parts' lines are the CheckFailed it raises, so each line shows once.
    """
    __tracebackhide__ = True  # IPython and pytest then show the message, not this frame
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    the_lab = find_lab(lab)
    ex = the_lab.get(exercise)
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        # The supervisor grades this cell from outside the kernel and replaces its output:
        # measuring here too would only cost the class's grading time.
        skipped = Verdict(ex.name, part, "skipped", "graded by the supervisor, outside this kernel.")
        print(skipped.summary())
        return Verdicts([skipped])
    # A warning printed to stderr in a test cell costs its points under `nbgrader validate`,
    # so warnings from the student's code are shown as one printed note instead.
    with warnings.catch_warnings(record=True) as caught:
        try:
            verdicts = _self_check(ex, the_lab, target, part)
        except AutograderError as exc:
            verdicts = [Verdict(ex.name, part, "fail", str(exc), hint=ex.hint_for(part))]
    last_checks[(ex.name, part)] = (target, list(verdicts))
    failed = [v.summary() for v in verdicts if v.status == "fail"]
    for v in verdicts:
        if v.status != "fail":
            print(v.summary())
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    if notes:
        print(f"[NOTE] {ex.name}: your code warned: {'; '.join(notes)[:500]}")
    if failed:
        raise CheckFailed(failed)
    return Verdicts(verdicts)
