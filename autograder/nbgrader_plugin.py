"""nbgrader hooks.

``ConfinedExecute`` runs the notebook's kernel in a box (sandbox/): as the sandbox
user, with only the submission's files, no network and limits, within a time budget
derived from the notebook's checks. When the kernel dies or overruns, the cells it did
not run get an error output, so nbgrader gives them nothing, and grading goes on.

``SupervisedChecks``: after the notebook has run, the supervisor's verdicts replace the
outputs of every test cell that calls ``check``. nbgrader then scores those cells from
the supervisor's outputs (an error output means no points), not from what the
student's kernel printed.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, NbGraderPreprocessor

from . import reserve
from .sandbox import Box
from .sandbox.kernel import ConfinedKernelManager
from .spec import load_lab
from .supervisor import grade_notebook, kernel_budget_s
from .verdict import Verdict


def _lab_dir(config, resources) -> Path:
    coursedir = CourseDirectory(config=config)
    return Path(coursedir.root) / coursedir.source_directory / resources["nbgrader"]["assignment"]


def _submission_dir(resources) -> Path:
    return Path(resources.get("metadata", {}).get("path") or os.getcwd())


def _mark_not_run(nb, reason: str) -> int:
    """Give every code cell the kernel never reached an error output: nbgrader scores a
    graded cell without one as passed. Returns how many cells were marked."""
    marked = 0
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and cell.get("execution_count") is None and cell.source.strip():
            cell.outputs = [
                new_output("error", ename="NotRun", evalue=reason, traceback=[f"Not run: {reason}"])
            ]
            marked += 1
    return marked


class ConfinedExecute(Execute):
    """nbgrader's Execute, with the kernel in a box and a budget for the whole notebook."""

    def preprocess(self, nb, resources, km=None):
        reserve.pin_for_correctness()
        budget = kernel_budget_s(nb, load_lab(_lab_dir(self.config, resources)))
        box = Box(sorted(_submission_dir(resources).iterdir()))
        overran = threading.Event()

        def overrun() -> None:
            overran.set()
            box.kill_all()  # nbclient sees the kernel die within a second and stops waiting

        timer = threading.Timer(budget, overrun)
        timer.daemon = True
        try:
            km = ConfinedKernelManager(
                box=box,
                kernel_name=self.kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3"),
                config=self.config,
            )
            timer.start()
            return super().preprocess(nb, resources, km=km)
        except (DeadKernelError, CellTimeoutError, RuntimeError) as exc:
            if overran.is_set():
                reason = f"the notebook ran past its {budget:.0f} s time budget, so its kernel was stopped"
            else:
                reason = f"the kernel stopped ({type(exc).__name__}: {str(exc)[:200]})"
            _mark_not_run(nb, reason)
            resources.setdefault("autograder", {})["kernel_fault"] = reason
            self.log.warning("%s: %s", resources["nbgrader"].get("notebook", "notebook"), reason)
            return nb, resources
        finally:
            timer.cancel()
            box.close()


def _outputs(verdicts: list[Verdict]) -> list:
    """As the self-check shows them: passed and skipped parts printed, failed parts as the
    cell's error (which is what withholds nbgrader's points), each line once."""
    text = "".join(v.summary() + "\n" for v in verdicts if v.status != "fail")
    outputs = [new_output("stream", name="stdout", text="Graded by the supervisor:\n" + text)]
    failed = [v.summary() for v in verdicts if v.status == "fail"]
    if failed:
        what = f"{len(failed)} part{'s' if len(failed) > 1 else ''} failed"
        outputs.append(new_output("error", ename="CheckFailed", evalue=what, traceback=failed))
    return outputs


class SupervisedChecks(NbGraderPreprocessor):
    """Grade check() cells from a separate process; see autograder/supervisor.py."""

    def preprocess(self, nb, resources):
        verdicts = grade_notebook(nb, _lab_dir(self.config, resources), _submission_dir(resources))
        for index, cell_verdicts in verdicts.items():
            nb.cells[index].outputs = _outputs(cell_verdicts)
        found = resources.setdefault("autograder", {})
        found["verdicts"] = {i: [v.to_dict() for v in vs] for i, vs in verdicts.items()}
        _save_for_grade_command(nb, resources, verdicts)
        return nb, resources


def _save_for_grade_command(nb, resources, verdicts: dict[int, list[Verdict]]) -> None:
    """`autograder grade` reads the verdicts behind each cell's score from here (a folder
    of its own, out of the students' reach); plain `nbgrader autograde` sets no folder."""
    folder = os.environ.get("AUTOGRADER_RESULTS")
    if not folder:
        return
    info = resources["nbgrader"]
    cells = [
        {
            "grade_id": nb.cells[i].metadata.get("nbgrader", {}).get("grade_id", f"cell-{i}"),
            "verdicts": [v.to_dict() for v in vs],
        }
        for i, vs in sorted(verdicts.items())
    ]
    record = {"notebook": info.get("notebook"), "cells": cells}
    record["kernel_fault"] = resources.get("autograder", {}).get("kernel_fault", "")
    path = Path(folder) / f"{info['student']}.{info.get('notebook', 'notebook')}.json"
    path.write_text(json.dumps(record, default=str))
