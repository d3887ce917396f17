"""nbgrader hook: after the notebook has run, the supervisor's verdicts replace the
outputs of every test cell that calls ``check``. nbgrader then scores those cells from
the supervisor's outputs (an error output means no points), not from what the
student's kernel printed.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from .supervisor import grade_notebook
from .verdict import Verdict


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
        coursedir = CourseDirectory(config=self.config)
        assignment = resources["nbgrader"]["assignment"]
        lab_dir = Path(coursedir.root) / coursedir.source_directory / assignment
        submission_dir = resources.get("metadata", {}).get("path") or os.getcwd()
        verdicts = grade_notebook(nb, lab_dir, submission_dir)
        for index, cell_verdicts in verdicts.items():
            nb.cells[index].outputs = _outputs(cell_verdicts)
        resources.setdefault("autograder", {})["verdicts"] = {
            i: [v.to_dict() for v in vs] for i, vs in verdicts.items()
        }
        return nb, resources
