"""`autograder grade LAB`: grade a class, one real `nbgrader autograde` per submission.

For each submission, in order: skip it when a saved result matches its bytes (unless
forced); refuse a notebook that is not valid JSON with a score of 0 and the reason; run
nbgrader (whose kernel and workers run in boxes, see sandbox/) as a child process with
a wall-clock limit derived from the notebook's checks; if it overruns, kill it and
sweep its boxes; then read the scores from the gradebook and the verdicts behind them
from the supervisor's record, and save a ``SubmissionResult``. Reports are written from
all saved results at the end, so an interrupted run resumes where it stopped.

Concurrency: ``jobs`` submissions run at once, pinned to the cores not reserved for
timing; the speed measurements of all of them share one lock (timing.py), taken on the
reserved cores, so that submissions never slow each other's timed runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .. import course, reserve
from ..errors import AutograderError
from ..sandbox import describe_mode, require_isolation, sweep
from ..sandbox.box import box_parent
from ..spec import load_lab
from ..supervisor import budget_scale, find_check_calls, kernel_budget_s
from . import report
from .results import CheckResult, SubmissionResult, load_results
from .sources import Submission, from_course, import_export

SUPERVISION_S_PER_CHECK = 120.0  # measured: a speed check takes 3-20 s on 2 cores


@dataclass(frozen=True)
class ClassRun:
    """What one `autograder grade` did: results for the whole class, and where reports went."""

    lab: str
    results: list[SubmissionResult]
    graded_now: int
    skipped: int
    reports: dict[str, Path]
    seconds: float

    def summary(self) -> str:
        return (
            f"{self.lab}: {len(self.results)} submissions, {self.graded_now} graded now, "
            f"{self.skipped} already graded, in {self.seconds:.0f} s; reports in "
            f"{self.reports['summary'].parent}"
        )


def results_dir(course_root: Path, lab: str) -> Path:
    return course_root / "grading" / lab


def _grades_from_gradebook(course_root: Path, lab: str, student: str, notebook: str) -> dict[str, tuple]:
    """{grade_id: (score, max_score)} for one student's notebook, as nbgrader saved it."""
    from nbgrader.api import Gradebook, MissingEntry

    url = course.nbgrader_env(course_root)["AUTOGRADER_GRADEBOOK"]
    with Gradebook(url) as gb:
        try:
            sub = gb.find_submission_notebook(Path(notebook).stem, lab, student)
        except MissingEntry:
            return {}
        return {g.name: (g.score or 0.0, g.max_score) for g in sub.grades}


def _checks(grades: dict[str, tuple], record: dict) -> list[CheckResult]:
    """One CheckResult per verdict: a cell's points are shared by the verdicts behind it
    (nbgrader scores a cell all or nothing, so the shares add up to its score)."""
    checks, seen = [], set()
    for cell in record.get("cells", []):
        score, max_score = grades.get(cell["grade_id"], (0.0, 0.0))
        verdicts = cell["verdicts"] or [{}]
        share = max_score / len(verdicts)
        for v in verdicts:
            checks.append(
                CheckResult(
                    exercise=v.get("exercise", cell["grade_id"]),
                    part=v.get("part", "test"),
                    status=v.get("status", "fail"),
                    message=v.get("message", ""),
                    points=round(share if score >= max_score and v.get("status") != "fail" else 0.0, 4),
                    max_points=round(share, 4),
                    measured=v.get("measured"),
                    required=v.get("required"),
                    hint=v.get("hint", ""),
                )
            )
        seen.add(cell["grade_id"])
    for grade_id, (score, max_score) in sorted(grades.items()):
        if grade_id not in seen and max_score:  # a plain test cell, scored by nbgrader alone
            status = "pass" if score >= max_score else "fail"
            checks.append(CheckResult(grade_id, "test", status, "", score, max_score))
    return checks


def _faulted(record: dict) -> str:
    for cell in record.get("cells", []):
        for v in cell["verdicts"]:
            if (v.get("evidence") or {}).get("fault"):
                return v["evidence"]["fault"]
    return ""


class Grader:
    """Grades one lab's submissions; ``run`` grades them all."""

    def __init__(
        self,
        course_root: Path,
        lab: str,
        *,
        force: bool = False,
        unsafe: bool = False,
        jobs: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.root, self.lab, self.force, self.unsafe = course_root, lab, force, unsafe
        self.mode = require_isolation(unsafe)
        self.out = results_dir(course_root, lab)
        self.out.mkdir(parents=True, exist_ok=True)
        self.records = self.out / "verdicts"
        self.records.mkdir(exist_ok=True)
        self.lab_spec = load_lab(course_root / "solutions" / lab)
        self.cores = reserve.plan(jobs)
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))

    def limit_s(self, nb: nbformat.NotebookNode) -> float:
        """The whole nbgrader run's wall-clock limit: the kernel's budget plus supervision."""
        checks = SUPERVISION_S_PER_CHECK * len(find_check_calls(nb)) * budget_scale()
        return kernel_budget_s(nb, self.lab_spec) + checks + 60

    def _saved(self, sub: Submission) -> SubmissionResult | None:
        path = self.out / f"{sub.student}.json"
        if self.force or not path.exists():
            return None
        saved = load_results_file(path)
        fresh = saved.outcome == "graded" and saved.digest == sub.digest()
        return saved if fresh else None  # faults and changed submissions are graded again

    def grade(self, sub: Submission) -> SubmissionResult:
        start = time.perf_counter()
        digest = sub.digest()
        try:
            nb = nbformat.read(sub.notebook, as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable notebook is the same fault
            reason = f"the notebook is not a valid .ipynb file ({type(exc).__name__}: {str(exc)[:160]})"
            return self._save(sub, 0.0, reason, [], start, digest, outcome="graded")
        record_path = self.records / f"{sub.student}.{sub.notebook.stem}.json"
        record_path.unlink(missing_ok=True)
        limit = self.limit_s(nb)
        returncode, log = self._nbgrader(sub, limit)
        if returncode is None:
            reason = f"grading ran past its {limit:.0f} s limit and was stopped; grade again to retry"
            return self._save(sub, 0.0, reason, [], start, digest, outcome="fault")
        logs = self.out / "logs"
        logs.mkdir(exist_ok=True)
        (logs / f"{sub.student}.log").write_bytes(log)  # nbgrader's own account, for the instructor
        grades = _grades_from_gradebook(self.root, self.lab, sub.student, sub.notebook.name)
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        if returncode != 0 or not grades:
            reason = "nbgrader could not grade it: " + _last_error(log.decode(errors="replace"))
            return self._save(sub, 0.0, reason, [], start, digest, outcome="fault")
        checks = _checks(grades, record)
        score = sum(s for s, _ in grades.values())
        fault = _faulted(record)
        reason = record.get("kernel_fault", "") or (f"grading fault: {fault}" if fault else "")
        return self._save(sub, score, reason, checks, start, digest, outcome="fault" if fault else "graded")

    def _nbgrader(self, sub: Submission, limit: float) -> tuple[int | None, bytes]:
        """Run `nbgrader autograde` for one student in its own box folder; (returncode, log),
        returncode None when it ran past ``limit`` and was killed (its boxes swept)."""
        # A short name of fixed length: sockets live below it, and their paths have 107 bytes.
        tag = hashlib.sha256(sub.student.encode()).hexdigest()[:6]
        boxes = box_parent() / f"r{os.getpid()}-{tag}"
        env = course.nbgrader_env(self.root)
        env.update(
            AUTOGRADER_RESULTS=str(self.records),
            AUTOGRADER_BOX_DIR=str(boxes),
            **reserve.child_env(self.cores, str(self.out / ".timing.lock")),
        )
        if self.mode == "none":  # only reached with --unsafe
            env["AUTOGRADER_ISOLATION"] = "none"
        cmd = [*course.NBGRADER, "autograde", self.lab, f"--student={sub.student}", "--force"]
        proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            log, _ = proc.communicate(timeout=limit)
            return proc.returncode, log
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return None, proc.communicate()[0]
        finally:
            sweep(boxes)
            shutil.rmtree(boxes, ignore_errors=True)

    def _save(self, sub, score, reason, checks, start, digest, outcome) -> SubmissionResult:
        total = sum(p for *_, p in self._max_points())
        result = SubmissionResult(
            student=sub.student,
            lab=self.lab,
            score=round(score, 4),
            max_score=total,
            outcome=outcome,
            reason=reason,
            seconds=round(time.perf_counter() - start, 1),
            checks=checks,
            digest=digest,
        )
        result.save(self.out)
        return result

    def _max_points(self) -> list[tuple[str, float]]:
        release = self.root / "labs" / self.lab
        nb = nbformat.read(next(release.glob("*.ipynb")), as_version=4)
        return [
            (c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"].get("points", 0)))
            for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")
        ]

    def run(self, students: list[str] | None = None) -> ClassRun:
        start = time.perf_counter()
        everyone = from_course(self.root, self.lab)
        subs = [s for s in everyone if not students or s.student in students]
        todo = [s for s in subs if self._saved(s) is None]
        self.progress(
            f"{self.lab}: {len(subs)} submissions, {len(subs) - len(todo)} already graded, "
            f"{len(todo)} to grade ({self.cores.summary()}). Isolation: {describe_mode(self.mode)}"
        )
        done: list[float] = []

        def one(sub: Submission) -> SubmissionResult:
            result = self.grade(sub)
            done.append(result.seconds)
            left = (len(todo) - len(done)) * (sum(done) / len(done)) / self.cores.jobs
            self.progress(f"{_bar(len(done), len(todo))} {result.summary()}; about {_clock(left)} left")
            return result

        with ThreadPoolExecutor(max_workers=self.cores.jobs) as pool:
            list(pool.map(one, todo))
        # The reports cover the whole class, also when only some students were graded now.
        results = [r for r in load_results(self.out) if r.student in {s.student for s in everyone}]
        reports = report.write_reports(results, self.out)
        return ClassRun(
            self.lab, results, len(todo), len(subs) - len(todo), reports, time.perf_counter() - start
        )


def _last_error(log: str) -> str:
    """The exception line of nbgrader's last traceback, else its last ERROR line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error:" in line or "Exception:" in line:
            return line[:300]
    # nbgrader's closing "Please see the above traceback" line names nothing: skip it.
    errors = [line for line in lines if "ERROR" in line and "Please see the" not in line]
    return (errors[-1] if errors else "no output")[:300] + " (see grading/LAB/logs/)"


def _in_gradebook(course_root: Path, lab: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.nbgrader_env(course_root)["AUTOGRADER_GRADEBOOK"]) as gb:
        try:
            return bool(gb.find_assignment(lab).notebooks)
        except MissingEntry:
            return False


def load_results_file(path: Path) -> SubmissionResult:
    return SubmissionResult.from_dict(json.loads(path.read_text()))


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = int(width * done / max(total, 1))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _clock(seconds: float) -> str:
    minutes = int(seconds // 60)
    return (
        f"{minutes // 60} h {minutes % 60:02d} min"
        if minutes >= 60
        else f"{minutes} min {int(seconds % 60):02d} s"
    )


def grade_class(
    course_root: Path,
    lab: str,
    *,
    export: Path | None = None,
    students: list[str] | None = None,
    force: bool = False,
    unsafe: bool = False,
    jobs: int | None = None,
) -> ClassRun:
    """Import an LMS export first when given, then grade; see ``Grader``."""
    known = course.assignments(course_root) if (course_root / "solutions").is_dir() else []
    if lab not in known:
        raise AutograderError(
            f"no lab {lab!r} in {course_root / 'solutions'}; the labs there: {', '.join(known)}"
        )
    if export is not None:
        imported = import_export(export, course_root, lab)
        students = students or imported
    if not _in_gradebook(course_root, lab):
        # Records the lab's test cells and points in the gradebook (and writes labs/LAB).
        course.nbgrader(course_root, "generate_assignment", lab, "--force")
    return Grader(course_root, lab, force=force, unsafe=unsafe, jobs=jobs).run(students)
