"""`autograder grade`: an LMS export in, a gradebook, CSV, feedback and summary out;
resumable, and the same grades every time."""

from __future__ import annotations

import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from grading import reference
from lab01_submissions import LAB, NOTEBOOK

from autograder import course
from autograder.batch.run import grade_class
from autograder.batch.sources import import_export, student_id
from autograder.errors import AutograderError
from autograder.sandbox import isolation_mode


def test_student_ids_come_from_lms_file_names():
    assert student_id("alice_12345_67890_01-profiling-lab.ipynb", NOTEBOOK) == "alice"
    assert student_id("Bob Smith_4_assignsubmission_file_lab.ipynb", NOTEBOOK) == "bob-smith"
    assert student_id("carol.ipynb", NOTEBOOK) == "carol"
    with pytest.raises(AutograderError, match="cannot tell whose notebook"):
        student_id("___.ipynb", NOTEBOOK)


def test_the_course_starts_nbgrader_without_the_grammar_it_never_uses():
    """course.NBGRADER is nbgrader itself (every grading test runs it), and nbformat in it
    loads without rfc3987_syntax (1.5 s of every process); its validator still rejects a
    broken notebook."""
    import subprocess

    probe = (
        "import autograder.nbgrader_main, sys, nbformat\n"
        "assert sys.modules['rfc3987_syntax'] is None\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "nbformat.validate(nb)\n"
        "del nb.cells[0]['source']\n"
        "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('rejected')\n"
    )
    checked = subprocess.run([course.NBGRADER[0], "-c", probe], capture_output=True, text=True)
    assert checked.stdout == "rejected\n", checked.stderr
    assert course.NBGRADER[1:] == ["-m", "autograder.nbgrader_main"]  # every grading test runs it


def test_an_export_cannot_write_outside_submitted(tmp_path):
    root = tmp_path / "course"
    (root / "labs" / LAB).mkdir(parents=True)
    (root / "labs" / LAB / NOTEBOOK).write_text("{}")
    (root / "labs" / LAB / "logpipe.py").write_text("# support file\n")
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("../../evil_1_lab.ipynb", "{}")
        zf.writestr("notes.txt", "not a notebook")
    assert import_export(export, root, LAB) == ["evil"]
    assert (root / "submitted" / "evil" / LAB / NOTEBOOK).exists()
    assert (root / "submitted" / "evil" / LAB / "logpipe.py").exists()
    assert not (tmp_path.parent / "evil_1_lab.ipynb").exists()


GRADES = pytest.mark.skipif(isolation_mode() == "none", reason="grading refuses without isolation")


@GRADES
def test_grading_a_class_gives_a_csv_feedback_and_a_summary_and_resumes(tmp_path):
    root = course.scratch_course(ROOT)
    course.nbgrader(root, "generate_assignment", LAB, "--force")
    solution = nbformat.read(root / "solutions" / LAB / NOTEBOOK, as_version=4)
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr(f"ada_1_{NOTEBOOK}", nbformat.writes(reference(solution)))
        zf.writestr(f"bea_2_{NOTEBOOK}", "{ this is not json")

    first = grade_class(root, LAB, export=export)
    csv1 = (root / "grading" / LAB / "grades.csv").read_text()
    scores = {r.student: (r.score, r.max_score, r.outcome) for r in first.results}
    assert scores["ada"] == (13.0, 13.0, "graded")
    assert scores["bea"][0] == 0 and "not a valid .ipynb" in first.results[1].reason

    again = grade_class(root, LAB)  # resumes: nothing left to grade
    assert again.graded_now == 0 and again.skipped == 2
    assert (root / "grading" / LAB / "grades.csv").read_text() == csv1

    reports = first.reports
    assert Path(reports["summary"]).read_text().count("feedback/") >= 2
    page = (root / "grading" / LAB / "feedback" / "ada.html").read_text()
    assert "<svg" in page and "fast-report" in page


@GRADES
@pytest.mark.full
@pytest.mark.parametrize("lab", course.assignments(ROOT))
def test_grading_every_labs_reference_twice_gives_the_same_csv(lab):
    root = course.scratch_course(ROOT)
    course.nbgrader(root, "generate_assignment", lab, "--force")
    notebook = next((root / "solutions" / lab).glob("*-lab.ipynb"))
    solution = nbformat.read(notebook, as_version=4)
    folder = root / "submitted" / "ada" / lab
    folder.mkdir(parents=True)
    nbformat.write(reference(solution), folder / notebook.name)
    for extra in (root / "labs" / lab).iterdir():
        if extra.is_file() and extra.suffix != ".ipynb":
            (folder / extra.name).write_bytes(extra.read_bytes())
    first = grade_class(root, lab)
    csv1 = (root / "grading" / lab / "grades.csv").read_text()
    [result] = first.results
    assert result.outcome == "graded" and result.score == result.max_score, result.summary()
    forced = grade_class(root, lab, force=True)
    assert forced.graded_now == 1
    assert (root / "grading" / lab / "grades.csv").read_text() == csv1
