"""Grading a lab the way a class would, for the tests: real nbgrader, real kernels.

A lab's submissions are its released notebook with solution cells (by grade_id) filled
in the way a student would. ``Mistake`` declares one entry of a lab's wrong-answer
corpus: the cell a student got wrong, and the test cells that must then fail. Mistakes
that touch different cells are packed into one submission, so a corpus of twenty costs
a handful of gradings, and every other check of that submission must still pass: a
mistake that leaks into a neighbouring exercise shows up too.
"""

from __future__ import annotations

import copy
import csv
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder import course


@dataclass(frozen=True)
class Mistake:
    """One wrong answer students really give, and what the checks must say about it."""

    name: str
    cell: str  # grade_id of the solution cell it replaces
    code: str
    fails: tuple[str, ...]  # grade_ids of the test cells that must fail (0 points)
    says: str  # a fragment the first failing cell's output must contain: the targeted sentence
    needs: tuple[str, ...] = ()  # caught only where these exist (a GPU, say)


def fill(release_nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def reference(solution_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution notebook, markers removed: what a perfect student submits."""
    return course.reference_submission(solution_nb)


def solution_cells(solution_nb: nbformat.NotebookNode) -> dict[str, str]:
    """The reference answer of every solution cell, by grade_id."""
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in reference(solution_nb).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def pack(mistakes: list[Mistake]) -> list[list[Mistake]]:
    """Group mistakes so that no two in a group touch the same solution cell or test cell."""
    groups: list[list[Mistake]] = []
    for m in mistakes:
        for group in groups:
            used = {g.cell for g in group} | {f for g in group for f in g.fails}
            if m.cell not in used and not used & set(m.fails):
                group.append(m)
                break
        else:
            groups.append([m])
    return groups


def graded_cells(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Points of every graded test cell, by grade_id."""
    return {
        c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"].get("points", 0))
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    }


def measured_speed_cells(lab_dir: Path, nb: nbformat.NotebookNode) -> set[str]:
    """grade_ids of the test cells whose speed (or memory) part is measured on this
    machine, not skipped: the points slow-but-correct code must lose, and no others."""
    from autograder.judge import missing_need
    from autograder.spec import load_lab
    from autograder.supervisor import find_check_calls

    lab = load_lab(lab_dir)
    ids = {i: c.metadata.get("nbgrader", {}).get("grade_id") for i, c in enumerate(nb.cells)}
    return {
        ids[call.cell_index]
        for call in find_check_calls(nb)
        if call.part in ("speed", "all")
        and lab.get(call.exercise).graded_speed
        and not any(missing_need(n) for n in lab.get(call.exercise).needs)
    }


def cell_text(cell: nbformat.NotebookNode) -> str:
    """What a student reads under a cell: streams, and errors as IPython renders them."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback) + "\n")
    return "".join(parts)


def outputs_by_id(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {
        c.metadata["nbgrader"]["grade_id"]: cell_text(c)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") and c.cell_type == "code"
    }


@dataclass(frozen=True)
class Graded:
    """One autograde run over several submissions: scores and what each test cell showed."""

    root: Path
    lab: str
    notebook: str
    scores: dict[str, tuple[float, float]]
    seconds: float

    def outputs(self, student: str) -> dict[str, str]:
        path = self.root / "autograded" / student / self.lab / self.notebook
        return outputs_by_id(nbformat.read(path, as_version=4))

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def autograde(
    root: Path, lab: str, notebook: str, submissions: dict[str, nbformat.NotebookNode], extras: list[str]
) -> Graded:
    """Submit each notebook (with the lab's released support files) and run real nbgrader."""
    for student, nb in submissions.items():
        folder = root / "submitted" / student / lab
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / notebook)
        for extra in extras:
            shutil.copy2(root / "labs" / lab / extra, folder / extra)
    start = time.perf_counter()
    proc = course.nbgrader(root, "autograde", lab, "--force", check=False)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-4000:]
    course.nbgrader(root, "export", f"--to={root / 'grades.csv'}")
    with open(root / "grades.csv") as fh:
        scores = {
            row["student_id"]: (float(row["score"]), float(row["max_score"]))
            for row in csv.DictReader(fh)
            if row["assignment"] == lab
        }
    return Graded(root, lab, notebook, scores, seconds)


def self_check(nb: nbformat.NotebookNode, lab_dir: Path) -> nbformat.NotebookNode:
    """Run a submission top to bottom in a kernel, as the student does before submitting."""
    nb = copy.deepcopy(nb)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(lab_dir)}},
    )
    client.execute()
    return nb
