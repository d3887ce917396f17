"""The progress page: every check call of the lab notebook, as the student's kernel sees it."""

import nbformat
import pytest

from autograder import check
from autograder import progress_page as progress
from autograder.selfcheck import CheckFailed, last_checks


def _lab_notebook(path):
    def test_cell(source, grade_id):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id, "points": 1}
        return cell

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from autograder import check"),
        test_cell('check("answer", ANSWER)', "t-answer"),
        test_cell('check("sort", my_sort, part="correct")', "t-sort"),
        test_cell('check("private", my_private, part="correct")', "t-private"),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture(autouse=True)
def _fresh_records():
    last_checks.clear()
    yield
    last_checks.clear()


def test_each_check_call_gets_a_row_with_its_status_and_reason(toy_lab, tmp_path):
    notebook = _lab_notebook(tmp_path / "toy-lab.ipynb")
    namespace = {"ANSWER": 41, "my_sort": sorted}  # my_private never defined
    page = progress.collect(toy_lab, notebook, namespace)
    rows = {r.exercise: r for r in page.rows}
    assert rows["answer"].status == "fail" and "six times seven" not in rows["answer"].reason
    assert rows["sort"].status == "pass"
    assert rows["private"].status == "not done" and "my_private" in rows["private"].reason
    assert page.summary() == "1 of 3 parts pass; 1 fail, 1 not done"
    assert "grading runs every check again" in repr(page).lower()
    assert "<table>" in page._repr_html_()


def test_a_part_checked_on_the_same_object_is_not_measured_again(toy_lab, tmp_path, monkeypatch):
    notebook = _lab_notebook(tmp_path / "toy-lab.ipynb")
    with pytest.raises(CheckFailed):
        check("answer", 41, lab=toy_lab)
    calls = []
    monkeypatch.setattr(progress, "_self_check", lambda *a: calls.append(a) or [])
    page = progress.collect(toy_lab, notebook, {"ANSWER": 41, "my_sort": sorted, "my_private": sorted})
    # "answer" was checked on 41 already; the two others are run now.
    assert [a[0].name for a in calls] == ["sort", "private"]
    assert [r.exercise for r in page.rows] == ["answer"]


def test_the_chart_draws_measured_against_needed(toy_lab):
    page = progress.Progress(
        (
            progress.Row("sort", "speed", "pass", 9.0, 5.0, ""),
            progress.Row("parallel", "speed", "fail", 1.0, 1.2, "took turns"),
            progress.Row("answer", "correct", "pass", None, None, ""),
        )
    )
    fig = page.plot()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sort (speed)", "parallel (speed)"]
    assert "self-check" in ax.get_title()


def test_under_nbgrader_it_only_says_grading_measures_everything(toy_lab, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    progress.progress(toy_lab)
    assert "grading measures every part itself" in capsys.readouterr().out
