"""Every lecture and every lab solution executes, in small mode, within its time budget."""

import os
import subprocess
import sys
import time

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

LECTURES = sorted((ROOT / "course").glob("*.ipynb"))
LAB_SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
SMALL_MODE_BUDGET_S = 120


def _execute(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


@pytest.mark.parametrize("path", LECTURES + LAB_SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_in_small_mode_within_budget(path):
    nb, seconds = _execute(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    if os.environ.get("COURSE_SMALL") == "1":
        assert seconds < SMALL_MODE_BUDGET_S, f"{path.name} took {seconds:.0f} s in small mode"


@pytest.mark.parametrize(
    "path",
    LECTURES + LAB_SOLUTIONS + sorted((ROOT / "labs").glob("*/*.ipynb")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_committed_notebooks_have_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them (nbstripout)"


def test_lecture_has_a_header_with_objectives_and_minutes():
    for path in LECTURES:
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.cell_type == "markdown"
        assert "objective" in first.source.lower() and "min" in first.source.lower()


def test_slides_build_from_each_lecture(tmp_path):
    for path in LECTURES:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jupyter",
                "nbconvert",
                "--to",
                "slides",
                str(path),
                "--output-dir",
                str(tmp_path),
            ],
            check=True,
            capture_output=True,
        )
        html = (tmp_path / (path.stem + ".slides.html")).read_text()
        assert "reveal" in html.lower() and html.count("<section") > 5
