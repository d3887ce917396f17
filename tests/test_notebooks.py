"""Every lecture and every lab solution executes, in small mode, within its time budget.

Each notebook is executed at most once per test session (the ``executed`` fixture); the budget test
and the lecture checks below read the same executed copy.
"""

import os
import re
import subprocess
import sys
import time

import nbformat
import pytest
from conftest import ROOT, SMALL_MODE_BUDGET_S
from nbclient import NotebookClient

LECTURES = sorted((ROOT / "course").glob("*.ipynb"))
LAB_SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))


def _execute(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed():
    """Execute a notebook the first time it is asked for; later requests get the same result (or error)."""
    cache = {}

    def get(path):
        if path not in cache:
            try:
                cache[path] = ("ok", _execute(path))
            except Exception as err:  # a failing cell: every test that needs this notebook reports it
                cache[path] = ("error", err)
        status, value = cache[path]
        if status == "error":
            raise value
        return value

    return get


# Lab solutions run (and are held to the same budget) in test_pipeline's nbgrader validate.
@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_notebook_runs_in_small_mode_within_budget(path, executed):
    nb, seconds = executed(path)
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


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_slides_build_from_each_executed_lecture(path, executed, tmp_path):
    """The deck `make slides` builds: reveal.js, the unit's title, and no output cell that
    shows nothing (a pager magic, say) on a slide."""
    nb, _ = executed(path)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    blank = [
        c.source.splitlines()[0]
        for c in nb.cells
        if c.cell_type == "code"
        and _slide_type(c) != "skip"
        and c.get("outputs")
        and not _visible_output(c)
    ]
    assert not blank, f"{path.name}: cells whose output is empty on a slide: {blank}"
    copy = tmp_path / path.name
    nbformat.write(nb, copy)
    convert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", str(copy)]
    subprocess.run(
        [*convert, "--output-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    html = (tmp_path / (path.stem + ".slides.html")).read_text()
    assert "reveal" in html.lower() and html.count("<section") > 5
    assert title.split("·")[-1].strip() in html, f"{path.name}: the deck does not carry the title {title!r}"


# A magic that writes its report to IPython's pager: nothing reaches the cell's output under nbconvert.
# %prun is one only without -q.
_PAGER_MAGIC = re.compile(r"^[^#\n]*?%{1,2}(lprun|mprun|prun)\b([^\n]*)$", re.MULTILINE)


def _pager_magics(source):
    found = []
    for match in _PAGER_MAGIC.finditer(source):
        name, args = match.groups()
        if name == "prun" and re.search(r"(^|\s)-\w*q", args):
            continue
        found.append(match.group(0).strip())
    return found


def _visible_output(cell):
    """True when the executed cell shows something: non-blank text, an image, a result or an error."""
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            if out.text.strip():
                return True
        elif out.output_type in ("display_data", "execute_result", "error"):
            return True
    return False


def _slide_type(cell):
    return cell.metadata.get("slideshow", {}).get("slide_type")


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_pager_magic_cells_are_hidden_and_followed_by_a_printed_equivalent(path, executed):
    nb, _ = executed(path)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for k, cell in enumerate(code_cells):
        magics = _pager_magics(cell.source)
        if not magics or _visible_output(cell):
            continue
        assert _slide_type(cell) == "skip", (
            f"{path.name}: a cell running {magics[0]!r} printed nothing under nbconvert; "
            'mark it "slideshow": {"slide_type": "skip"} and follow it with a printed equivalent'
        )
        following = code_cells[k + 1] if k + 1 < len(code_cells) else None
        assert following is not None and _visible_output(following), (
            f"{path.name}: the cell after {magics[0]!r} must print the same report (nothing was printed)"
        )


def test_lecture_pager_magic_detection():
    assert _pager_magics("%lprun -f f f(1)") == ["%lprun -f f f(1)"]
    assert _pager_magics("import m\n%mprun -f m.g m.g(2)") == ["%mprun -f m.g m.g(2)"]
    assert _pager_magics("%prun -s tottime f()") == ["%prun -s tottime f()"]
    assert _pager_magics("stats = %prun -q -r f()") == []
    assert _pager_magics("# %lprun in a comment\nx = 1") == []


def test_lecture_states_vector_add_intensity_one_way_only():
    """The vector add's arithmetic intensity is 1/24 flop/byte (24 bytes moved per flop), nothing else."""
    for path in LECTURES:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(cell.source for cell in nb.cells)
        if "vector add" not in text.lower():
            continue
        for stale in ("0.25 flop/byte", "8–12 bytes", "8-12 bytes", "1/12", "0.125 flop/byte"):
            assert stale not in text, f"{path.name} states the vector add's intensity as {stale!r}"
        assert "1/24" in text and "24 bytes per flop" in text, (
            f"{path.name}: say I = 1/24 (24 bytes per flop)"
        )


@pytest.mark.parametrize("path", LAB_SOLUTIONS, ids=lambda p: p.parent.name)
def test_every_lab_ends_with_its_progress_page(path):
    """The last code cell shows the progress page; the graders leave it out (not-graded)."""
    nb = nbformat.read(path, as_version=4)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "progress()" in last.source, f"{path.name}: end with `from autograder import progress; progress()`"
    assert "not-graded" in last.metadata.get("tags", []), f"{path.name}: tag the progress cell not-graded"
