"""Verdicts: pass, fail or skipped, with the numbers behind them and one line for the student."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class Verdict:
    exercise: str
    part: str  # "correct", "speed" or "all"
    status: Status
    message: str
    measured: float | None = None
    required: float | None = None
    noise: float | None = None
    hint: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def summary(self) -> str:
        mark = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIPPED"}[self.status]
        text = f"[{mark}] {self.exercise} ({self.part}): {self.message}"
        if self.status == "fail" and self.hint:
            text += f" Hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def required_hardware() -> tuple[str, ...]:
    """What the instructor insists on, e.g. AUTOGRADER_REQUIRE=gpu,mpi (in the order given)."""
    raw = os.environ.get("AUTOGRADER_REQUIRE", "")
    return tuple(dict.fromkeys(token.strip().lower() for token in raw.split(",") if token.strip()))


def skip_or_fail(exercise: str, part: str, need: str, missing: str, fallback: str) -> Verdict:
    """A missing need ("gpu", "mpi", ...) is a skip, unless the instructor required it."""
    if need in required_hardware() or (need == "java" and "spark" in required_hardware()):
        return Verdict(
            exercise,
            part,
            "fail",
            f"{missing}, but this course requires it (AUTOGRADER_REQUIRE includes {need!r}).",
            hint="run on a machine that has it; `autograder doctor` shows what this one has",
        )
    tail = f": {fallback}" if fallback else ""
    return Verdict(exercise, part, "skipped", f"{missing}{tail}")
