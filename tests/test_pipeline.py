"""The nbgrader pipeline, for real: release, validate, and autograde four (plus one) submissions."""

import csv
import shutil

import nbformat
import pytest
import submissions as S
from conftest import ROOT

from autograder import course

LAB = "01-profiling"
NB = "01-profiling-lab.ipynb"


def test_labs_are_in_sync_with_solutions():
    result = course.drift(ROOT)
    assert result.clean, result.summary()


def test_release_is_byte_for_byte_repeatable(tmp_path):
    a = course.release(ROOT, tmp_path / "a")
    b = course.release(ROOT, tmp_path / "b")
    assert (a / LAB / NB).read_bytes() == (b / LAB / NB).read_bytes()
    assert not (a / LAB / "_reference.py").exists(), "private reference solutions must not be released"


def test_solutions_pass_and_released_labs_fail_their_tests(tmp_path):
    root = course.scratch_course(ROOT)
    try:
        shutil.copytree(ROOT / "labs", root / "labs")
        ok = course.nbgrader(root, "validate", str(root / "solutions" / LAB / NB), check=False)
        assert "Success! Your notebook passes all the tests." in ok.stdout, ok.stdout[-2000:]
        inv = course.nbgrader(root, "validate", "--invert", str(root / "labs" / LAB / NB), check=False)
        assert "Success!" in inv.stdout, inv.stdout[-2000:]
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def graded():
    """Run generate_assignment -> submitted/ -> autograde -> export once for all submissions."""
    root = course.scratch_course(ROOT)
    course.nbgrader(root, "generate_assignment", LAB, "--force")
    release = nbformat.read(root / "labs" / LAB / NB, as_version=4)
    solution = nbformat.read(root / "solutions" / LAB / NB, as_version=4)
    subs = {
        "reference": S.reference(solution),
        "blank": release,
        "slow": S.fill(release, S.SLOW_BUT_CORRECT),
        "wrong": S.fill(release, S.WRONG_BUT_FAST),
        "cheater": S.fill(release, S.CHEATER),
    }
    for student, nb in subs.items():
        folder = root / "submitted" / student / LAB
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NB)
        for extra in ("checks.py", "logpipe.py"):
            shutil.copy2(root / "labs" / LAB / extra, folder / extra)
    proc = course.nbgrader(root, "autograde", LAB, "--force", check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    course.nbgrader(root, "export", f"--to={root / 'grades.csv'}")
    with open(root / "grades.csv") as fh:
        scores = {
            row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(fh)
        }
    yield root, scores
    shutil.rmtree(root, ignore_errors=True)


def _cell_outputs(root, student):
    nb = nbformat.read(root / "autograded" / student / LAB / NB, as_version=4)
    return {
        c.metadata.nbgrader["grade_id"]: "".join(o.get("text", "") + o.get("evalue", "") for o in c.outputs)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def test_reference_gets_full_marks(graded):
    _, scores = graded
    assert scores["reference"] == (10.0, 10.0)


def test_blank_release_gets_nothing(graded):
    _, scores = graded
    assert scores["blank"][0] == 0.0


def test_slow_but_correct_gets_correctness_only(graded):
    root, scores = graded
    # hotspot 1 + three correctness points + pays-off 1, plus the GPU speed point, which
    # is skipped (not failed) without a GPU once the kernel is right on the simulator.
    # The measured speed and memory points (2 + 2) are withheld.
    assert scores["slow"][0] == 6.0
    out = _cell_outputs(root, "slow")
    assert "[FAIL] fast-report (speed): measured speedup" in out["ex2-speed"]
    assert "[FAIL] stream-file (speed): measured peak-memory reduction" in out["ex3-memory"]
    assert "[SKIPPED] gpu-iterate (speed): no GPU" in out["ex4-speed"]


def test_wrong_but_fast_gets_nothing(graded):
    _, scores = graded
    assert scores["wrong"][0] == 0.0


def test_tampering_earns_no_speed_points(graded):
    root, scores = graded
    out = _cell_outputs(root, "cheater")
    assert "Graded by the supervisor" in out["ex2-speed"]
    assert "[FAIL] fast-report (speed)" in out["ex2-speed"]
    assert "[FAIL] stream-file (correct)" in out["ex3-correct"]  # the always-equal object
    assert scores["cheater"][0] == 5.0
