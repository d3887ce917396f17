"""The nbgrader pipeline, for real: release, validate, and autograde each lab's classic
submissions; in make test-full, its wrong-answer corpus through the student's own
self-check, as a student running the notebook sees it, and through real `nbgrader autograde`.

A lab joins by adding its submissions module (see lab01_submissions.py) to LABS.
"""

import os
import shutil
import time

import lab01_submissions
import lab02_submissions
import lab03_submissions
import lab04_submissions
import nbformat
import pytest
from conftest import ROOT, SMALL_MODE_BUDGET_S
from grading import (
    autograde,
    fill,
    graded_cells,
    measured_speed_cells,
    outputs_by_id,
    pack,
    reference,
    self_check,
    solution_cells,
)

from autograder import course
from autograder.judge import missing_need

LABS = [lab01_submissions, lab02_submissions, lab03_submissions, lab04_submissions]
# make test grades the model unit's classic submissions (and every lab's release); each
# further lab's are graded in make test-full, where its parallel and service checks cost minutes.
IN_MAKE_TEST = (lab01_submissions,)
GRADED = [pytest.param(m, id=m.LAB, marks=() if m in IN_MAKE_TEST else pytest.mark.full) for m in LABS]
PRIVATE = ["_reference.py"]


def _caught_here(mistake) -> bool:
    return not any(missing_need(n) for n in mistake.needs)


def test_labs_are_in_sync_with_solutions_and_keep_private_files_private():
    """A fresh release equals the committed labs/ byte for byte (so a release is also
    repeatable), and leaves the private files out."""
    result = course.drift(ROOT)
    assert result.clean, result.summary()
    for lab in LABS:
        for private in PRIVATE:
            assert not (ROOT / "labs" / lab.LAB / private).exists(), f"{private} must not be released"


# Running a lab's notebook runs its exploration cells and, for the solution, measures every
# speed check in the kernel: the labs whose pools and services take minutes (03, 04) run in
# make test-full.
def _in_make_test_below(unit: str) -> list:
    """Every lab, those numbered ``unit`` and up marked for make test-full."""
    return [pytest.param(m, id=m.LAB, marks=() if m.LAB < unit else pytest.mark.full) for m in LABS]


SOLUTION_RUNS = _in_make_test_below("03")


def _validate(lab, folder: str, *flags: str):
    root = course.scratch_course(ROOT)
    try:
        shutil.copytree(ROOT / "labs", root / "labs")
        start = time.perf_counter()
        path = str(root / folder / lab.LAB / lab.NOTEBOOK)
        done = course.nbgrader(root, "validate", *flags, path, check=False)
        return done.stdout, time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("lab", SOLUTION_RUNS)
def test_solutions_pass_their_tests_within_the_small_mode_budget(lab):
    out, seconds = _validate(lab, "solutions")
    assert "Success! Your notebook passes all the tests." in out, out[-2000:]
    if os.environ.get("COURSE_SMALL") == "1":  # the whole lab, nbgrader's start included
        assert seconds < SMALL_MODE_BUDGET_S, f"{lab.NOTEBOOK} took {seconds:.0f} s in small mode"


# The model unit's release is run in make test; the others' in make test-full (make test
# already checks that every release is what nbgrader makes of its solution).
RELEASE_RUNS = _in_make_test_below("02")


@pytest.mark.parametrize("lab", RELEASE_RUNS)
def test_released_labs_fail_their_tests(lab):
    out, _ = _validate(lab, "labs", "--invert")
    assert "Success!" in out, out[-2000:]


def _corpus_groups(lab):
    return pack([m for m in lab.MISTAKES if _caught_here(m)])


def _scratch_release(lab):
    root = course.scratch_course(ROOT)
    course.nbgrader(root, "generate_assignment", lab.LAB, "--force")
    release = nbformat.read(root / "labs" / lab.LAB / lab.NOTEBOOK, as_version=4)
    solution = nbformat.read(root / "solutions" / lab.LAB / lab.NOTEBOOK, as_version=4)
    return root, release, solution


def _full_run(config) -> bool:
    return "not full" not in (config.getoption("markexpr") or "")


@pytest.fixture(scope="module", params=GRADED)
def graded(request):
    """One real `nbgrader autograde` over the classic submissions. In make test, lab 01's
    slow and wrong submissions are left to make test-full: its attack corpus, graded in make
    test, holds slow-based and wrong-based attacks whose exact scores assert the same."""
    lab = request.param
    root, release, solution = _scratch_release(lab)
    subs = {"reference": reference(solution), "blank": release}
    if _full_run(request.config) or lab not in IN_MAKE_TEST:
        subs |= {"slow": fill(release, lab.SLOW_BUT_CORRECT), "wrong": fill(release, lab.WRONG_BUT_FAST)}
    if _cheater_in_make_test(lab):
        subs["cheater"] = fill(release, lab.CHEATER)
    result = autograde(root, lab.LAB, lab.NOTEBOOK, subs, lab.EXTRAS)
    print(f"\n{lab.LAB}: graded {len(subs)} submissions in {result.seconds:.0f} s")
    yield lab, result, release
    result.close()


@pytest.fixture(scope="module", params=LABS, ids=lambda m: m.LAB)
def graded_corpus(request):
    """The packed wrong-answer corpus through real `nbgrader autograde` (make test-full, as
    is the same corpus through the student's self-check, below)."""
    lab = request.param
    root, release, solution = _scratch_release(lab)
    right = solution_cells(solution)
    subs = {
        f"corpus-{i}": fill(release, {**right, **{m.cell: m.code for m in group}})
        for i, group in enumerate(_corpus_groups(lab))
    }
    if not _cheater_in_make_test(lab):
        subs["cheater"] = fill(release, lab.CHEATER)
    result = autograde(root, lab.LAB, lab.NOTEBOOK, subs, lab.EXTRAS)
    print(f"\n{lab.LAB}: graded {len(subs)} corpus submissions in {result.seconds:.0f} s")
    yield lab, result, release
    result.close()


def test_reference_gets_full_marks(graded):
    _, result, release = graded
    total = sum(graded_cells(release).values())
    assert result.scores["reference"] == (total, total)


def test_blank_release_gets_nothing(graded):
    _, result, _ = graded
    assert result.scores["blank"][0] == 0.0


def _classic(result, name: str) -> None:
    if name not in result.scores:
        pytest.skip(f"the '{name}' submission is graded in make test-full (its attack-corpus twins run here)")


def test_slow_but_correct_loses_exactly_the_measured_speed_points(graded):
    lab, result, release = graded
    _classic(result, "slow")
    points = graded_cells(release)
    speed = measured_speed_cells(ROOT / "solutions" / lab.LAB, release)
    assert result.scores["slow"][0] == sum(points.values()) - sum(points[c] for c in speed)
    out = result.outputs("slow")
    for cell in speed:
        assert "[FAIL]" in out[cell] and "measured" in out[cell], out[cell]
    skipped = set(points) - speed
    assert all("[FAIL]" not in out[c] for c in skipped), {c: out[c] for c in skipped if "[FAIL]" in out[c]}


def test_wrong_but_fast_gets_nothing(graded):
    _, result, _ = graded
    _classic(result, "wrong")
    assert result.scores["wrong"][0] == 0.0


def _cheater_in_make_test(lab) -> bool:
    """Lab 01's cheater is graded with its classic submissions; the others', whose tampering
    fails several measured parallel checks (minutes), with the corpus."""
    return lab is lab01_submissions


def test_tampering_earns_no_speed_points(graded):
    lab, result, release = graded
    if not _cheater_in_make_test(lab):
        pytest.skip(f"{lab.LAB}'s cheater is graded in make test-full")
    _check_cheater(lab, result, release)


@pytest.mark.full
def test_tampering_earns_no_speed_points_in_every_lab(graded_corpus):
    lab, result, release = graded_corpus
    if _cheater_in_make_test(lab):
        pytest.skip(f"{lab.LAB}'s cheater is graded in make test")
    _check_cheater(lab, result, release)


def _check_cheater(lab, result, release) -> None:
    points = graded_cells(release)
    speed = measured_speed_cells(ROOT / "solutions" / lab.LAB, release)
    out = result.outputs("cheater")
    assert all("Graded by the supervisor" in out[c] for c in points)
    assert all("[FAIL]" in out[c] for c in speed)
    lost = speed | set(lab.CHEATER_ALSO_FAILS)
    assert result.scores["cheater"][0] == sum(points.values()) - sum(points[c] for c in lost)


def _check_corpus_outputs(outputs: dict[str, str], group, points: dict[str, float], where: str) -> None:
    failing = {f: m for m in group for f in m.fails}
    for cell in points:
        text = outputs[cell]
        if cell in failing:
            m = failing[cell]
            if cell == m.fails[0]:
                assert "[FAIL]" in text, f"{where}: '{m.name}' should fail {cell}:\n{text}"
                assert m.says in text, f"{where}: '{m.name}' should say {m.says!r} in {cell}:\n{text}"
            else:  # a consequence: in a kernel, a name the wrong cell never defined is a NameError
                assert "[FAIL]" in text or "Error" in text, f"{where}: '{m.name}' should fail {cell}:\n{text}"
        else:
            assert "[FAIL]" not in text, f"{where}: {cell} failed, but no mistake here targets it:\n{text}"
        lines = [ln for ln in text.splitlines() if ln.startswith("[")]
        assert len(lines) == len(set(lines)), f"{where}: {cell} printed a line twice:\n{text}"


@pytest.mark.full
def test_every_wrong_answer_gets_no_points_when_graded(graded_corpus):
    lab, result, release = graded_corpus
    points = graded_cells(release)
    for i, group in enumerate(_corpus_groups(lab)):
        student = f"corpus-{i}"
        lost = {f for m in group for f in m.fails}
        want = sum(points.values()) - sum(points[c] for c in lost)
        names = [m.name for m in group]
        assert result.scores[student][0] == want, f"{student} {names}: {result.scores[student]} != {want}"
        _check_corpus_outputs(result.outputs(student), group, points, f"graded {student}")


@pytest.mark.full
@pytest.mark.parametrize("lab", LABS, ids=lambda m: m.LAB)
def test_every_wrong_answer_fails_the_students_own_self_check(lab, tmp_path):
    """The released lab, as a student has it (no private reference), run top to bottom."""
    lab_dir = tmp_path / lab.LAB
    shutil.copytree(ROOT / "labs" / lab.LAB, lab_dir)
    release = nbformat.read(lab_dir / lab.NOTEBOOK, as_version=4)
    solution = nbformat.read(ROOT / "solutions" / lab.LAB / lab.NOTEBOOK, as_version=4)
    right = solution_cells(solution)
    points = graded_cells(release)
    speed_only = _speed_only_cells(lab_dir, release)
    for i, group in enumerate(_corpus_groups(lab)):
        # A speed cell that no mistake of the group targets measures right code: it is left out,
        # which saves minutes (the classic submissions measure every one of them).
        dropped = speed_only - {f for m in group for f in m.fails}
        nb = fill(release, {**right, **{m.cell: m.code for m in group}})
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in dropped]
        run = self_check(nb, lab_dir)
        kept = {cell: p for cell, p in points.items() if cell not in dropped}
        _check_corpus_outputs(outputs_by_id(run), group, kept, f"self-check of corpus-{i}")


def _speed_only_cells(lab_dir, nb) -> set[str]:
    """grade_ids of the test cells that check a speed (or memory) part and nothing else."""
    from autograder.supervisor import find_check_calls

    ids = {i: c.metadata.get("nbgrader", {}).get("grade_id") for i, c in enumerate(nb.cells)}
    calls = find_check_calls(nb)
    by_cell: dict[int, set[str]] = {}
    for call in calls:
        by_cell.setdefault(call.cell_index, set()).add(call.part)
    return {ids[i] for i, parts in by_cell.items() if parts == {"speed"} and ids[i]}


@pytest.mark.parametrize(
    "mistake",
    [m for lab in LABS for m in lab.MISTAKES if not _caught_here(m)],
    ids=lambda m: m.name,
)
def test_mistakes_only_a_missing_backend_can_show(mistake):
    missing = [missing_need(n) for n in mistake.needs if missing_need(n)]
    pytest.skip(f"'{mistake.name}' is caught only with {', '.join(mistake.needs)}: {'; '.join(missing)} here")
