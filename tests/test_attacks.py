"""The attack corpus, graded as a class would be: `autograder grade`, which runs real
`nbgrader autograde` for each submission with the kernel and workers in boxes.

Each attack must earn exactly what its base earns, less the checks it breaks; and around
the grades: the course's files are byte-for-byte unchanged, no byte of the private
``_reference.py`` reaches any output, nothing the students started is still running, and
a kernel that stops answering costs its budget, not nbgrader's 600 s per cell.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from attacks import lab01 as serial_lab
from attacks import lab04 as parallel_lab
from attacks.lab01 import MARKER
from conftest import ROOT
from grading import fill, graded_cells, reference, solution_cells

from autograder import course
from autograder.batch.run import grade_class
from autograder.measure import TOO_BUSY
from autograder.sandbox import isolation_mode
from autograder.sandbox.box import SANDBOX_USER

pytestmark = pytest.mark.skipif(
    isolation_mode() != "root", reason=f"needs the root sandbox (this machine: {isolation_mode()})"
)
SCALE = "0.15"  # time limits scaled down: the stuck kernel and the endless loop cost less
# The parallel lab's corpus grades its pools in about 5 minutes more: make test-full.
CORPORA = [(serial_lab, ()), (parallel_lab, (pytest.mark.full,))]


def _digests(root: Path) -> dict[str, str]:
    files = [*sorted((root / "solutions").rglob("*")), *sorted((ROOT / "autograder").rglob("*.py"))]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def _submission(corpus, attack, release, solution) -> nbformat.NotebookNode:
    answers = solution_cells(solution) if attack.base == "reference" else corpus.BASES[attack.base]
    nb = fill(release, {**answers, **attack.answers}) if attack.base != "reference" else reference(solution)
    nb = fill(nb, attack.answers)
    for grade_id, source in attack.tests.items():
        index = next(
            i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
        )
        if source is None:
            del nb.cells[index]
        else:
            nb.cells[index].source = source
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    for offset, code in enumerate(attack.cells, 1):
        nb.cells.insert(first + offset, nbformat.v4.new_code_cell(code))
    return nb


def _expected(corpus, attack, points: dict[str, float]) -> dict[str, float]:
    lost = set(attack.lost) | (set(corpus.SPEED_CELLS) if attack.base == "slow" else set())
    if attack.base == "wrong":
        lost = set(points)
    return {cell: (0.0 if cell in lost else p) for cell, p in points.items()}


_RUNS: dict[str, tuple] = {}


@pytest.fixture(scope="module", params=[pytest.param(c, marks=m, id=c.LAB) for c, m in CORPORA])
def corpus(request):
    return request.param


@pytest.fixture
def graded(corpus):
    return _graded_run(corpus)


def _graded_run(corpus):
    """The corpus of one lab graded as a class, once per test session."""
    if corpus.LAB not in _RUNS:
        _RUNS[corpus.LAB] = _grade_corpus(corpus)
    return _RUNS[corpus.LAB]


def _grade_corpus(corpus):
    lab, notebook = corpus.LAB, corpus.NOTEBOOK
    root = course.scratch_course(ROOT)
    course.nbgrader(root, "generate_assignment", lab, "--force")
    private = root / "solutions" / lab / "_reference.py"
    private.write_text(private.read_text() + f"\n# {MARKER}\n")
    release = nbformat.read(root / "labs" / lab / notebook, as_version=4)
    solution = nbformat.read(root / "solutions" / lab / notebook, as_version=4)
    for attack in corpus.ATTACKS:
        folder = root / "submitted" / attack.name / lab
        folder.mkdir(parents=True)
        nbformat.write(_submission(corpus, attack, release, solution), folder / notebook)
        for extra in corpus.EXTRAS:
            (folder / extra).write_bytes((root / "labs" / lab / extra).read_bytes())
    before = _digests(root)
    old = os.environ.get("AUTOGRADER_BUDGET_SCALE")
    os.environ["AUTOGRADER_BUDGET_SCALE"] = SCALE
    start = time.perf_counter()
    try:
        run = grade_class(root, lab)
    finally:
        os.environ.pop("AUTOGRADER_BUDGET_SCALE") if old is None else os.environ.update(
            AUTOGRADER_BUDGET_SCALE=old
        )
    seconds = time.perf_counter() - start
    print(f"\n{lab} attack corpus: {len(corpus.ATTACKS)} submissions graded in {seconds:.0f} s")
    return root, run, graded_cells(release), before


def _cell_scores(root: Path, corpus, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(course.nbgrader_env(root)["AUTOGRADER_GRADEBOOK"]) as gb:
        sub = gb.find_submission_notebook(Path(corpus.NOTEBOOK).stem, corpus.LAB, student)
        return {g.name: g.score or 0.0 for g in sub.grades if g.max_score}


@pytest.mark.parametrize(
    "corpus, attack",
    [pytest.param(c, a, marks=m, id=f"{c.LAB}-{a.name}") for c, m in CORPORA for a in c.ATTACKS],
    indirect=["corpus"],
)
def test_an_attack_earns_nothing_it_should_not(graded, corpus, attack):
    root, run, points, _ = graded
    result = next(r for r in run.results if r.student == attack.name)
    assert result.outcome == "graded", result.reason
    assert _cell_scores(root, corpus, attack.name) == _expected(corpus, attack, points), result.summary()
    nb = nbformat.read(root / "autograded" / attack.name / corpus.LAB / corpus.NOTEBOOK, as_version=4)
    outputs = {
        c.metadata.get("nbgrader", {}).get("grade_id"): json.dumps(c.get("outputs", []))
        for c in nb.cells
        if c.cell_type == "code"
    }
    for cell, phrase in attack.says.items():
        assert phrase in outputs[cell], f"{cell}: {outputs[cell][:600]}"


def test_the_grade_stands_after_grading(graded, corpus):
    """A daemon left to rewrite the gradebook after nbgrader exits finds nothing to run on."""
    root, *_ = graded
    time.sleep(3)
    if corpus is serial_lab:
        assert sum(_cell_scores(root, corpus, "files-and-gradebook").values()) == 0
    left = subprocess.run(["pgrep", "-u", SANDBOX_USER], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes of {SANDBOX_USER} outlived grading: {left}"
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines() if "/box-" in line]
    groups = list(Path("/sys/fs/cgroup").glob("*/**/autograder/box-*"))
    assert mounts == [] and groups == [], f"boxes left behind: {mounts} {groups}"


def test_trusted_files_are_unchanged_and_private_ones_never_reach_students(graded, corpus):
    root, run, _, before = graded
    assert _digests(root) == before
    exposed = [p for p in (root / "autograded").rglob("*") if p.is_file()]
    exposed += [p for p in (root / "grading").rglob("*") if p.is_file() and "logs" not in p.parts]
    for path in exposed:
        assert MARKER.encode() not in path.read_bytes(), f"the private marker reached {path}"
    nb = nbformat.read(root / "autograded" / corpus.REPORTER / corpus.LAB / corpus.NOTEBOOK, as_version=4)
    # The whole output of the reporting cell: a pool worker's prints reach it in pieces.
    report = next(
        text
        for c in nb.cells
        if "ATTACK-REPORT" in (text := "".join(o.get("text", "") for o in c.get("outputs", [])))
    )
    assert "'wrote': []" in report and "'leaked': []" in report, report
    assert "gradebook.db" not in report and "_reference.py" not in report, report


def test_a_deaf_kernel_costs_its_budget_not_nbgraders_timeout():
    _, run, points, _ = _graded_run(serial_lab)
    result = next(r for r in run.results if r.student == "deaf-kernel")
    assert result.score == sum(points.values()) - points["ex3-memory"]  # its hidden memory
    assert "time budget" in result.reason
    assert result.seconds < 150, result.summary()


def test_a_parallel_check_cannot_be_won_by_slowing_the_serial_baseline(toy_lab, tmp_path, no_requirements):
    """Serial code called parallel, with a daemon stopping and starving everything it can
    see and burning CPU beside it: the baseline runs while the box is frozen, and the CPU
    evidence still shows one thread doing all the work."""
    from attacks.lab01 import _DAEMON, _INTERFERE
    from test_supervisor import grade, notebook

    nb = notebook(
        _DAEMON.format(code=_INTERFERE) + "from work import disguised_cost as cost",
        ("check('parallel', cost, part='speed')", 2),
    )
    [verdict] = [v for vs in grade(nb, toy_lab, tmp_path).values() for v in vs]
    if TOO_BUSY in verdict.message:
        # Measured while the box was frozen: the load is the machine's, not the attack's.
        pytest.skip(f"this machine was too busy to see parallel work: {verdict.summary()}")
    assert verdict.status == "fail" and "fault" not in verdict.evidence, verdict.summary()
    # The burners even dilute the busiest thread's share; the CPU time of the thread doing
    # the work is what gives it away.
    assert "not enough of the work ran in parallel" in verdict.message.lower(), verdict.summary()
