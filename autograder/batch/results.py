"""What grading one submission produced: typed, one line each, stored as JSON.

The grade command writes one ``SubmissionResult`` per student and lab under the course's
``grading/LAB/`` folder (out of every student's reach); the CSV, the feedback pages and
the class summary are all built from these files, so a second run can skip what is
already graded and still report on the whole class.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

CheckStatus = Literal["pass", "fail", "skipped"]
Outcome = Literal["graded", "fault"]


@dataclass(frozen=True)
class CheckResult:
    """One graded part of one exercise, as the student will read it."""

    exercise: str
    part: str  # "correct", "speed", "memory", ...
    status: CheckStatus
    message: str
    points: float = 0.0
    max_points: float = 0.0
    measured: float | None = None  # a speedup or memory-reduction ratio
    required: float | None = None
    hint: str = ""

    def summary(self) -> str:
        mark = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIPPED"}[self.status]
        return f"[{mark}] {self.exercise} ({self.part}) {self.points:g}/{self.max_points:g}: {self.message}"


@dataclass(frozen=True)
class SubmissionResult:
    """One student's one lab. ``outcome`` is "fault" when the notebook itself could not be
    run as a whole (not valid JSON, over its time budget); ``reason`` then says why, and the
    checks that were graded before the fault keep their points."""

    student: str
    lab: str
    score: float
    max_score: float
    outcome: Outcome = "graded"
    reason: str = ""
    seconds: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    digest: str = ""  # of the submitted notebook: a changed submission is graded again

    def summary(self) -> str:
        text = f"{self.student}: {self.score:g}/{self.max_score:g} on {self.lab} ({self.seconds:.0f} s)"
        return f"{text}; fault: {self.reason}" if self.outcome == "fault" else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        checks = [CheckResult(**c) for c in data.get("checks", [])]
        return cls(**{**data, "checks": checks})

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.student}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        tmp.replace(path)  # atomic: an interrupted run never leaves half a result
        return path


def load_results(folder: Path) -> list[SubmissionResult]:
    """Every saved result in ``folder``, sorted by student id."""
    if not folder.is_dir():
        return []
    found = [SubmissionResult.from_dict(json.loads(p.read_text())) for p in folder.glob("*.json")]
    return sorted(found, key=lambda r: r.student)
