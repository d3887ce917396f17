"""Grading throughput: seconds per submission, the cost of confinement, and a class estimate.

For every lab, its reference submission is graded ``repeats`` times with the sandbox and
``repeats`` times without it (AUTOGRADER_ISOLATION=none), interleaved, through the same
`autograder grade` path (real nbgrader). The difference of the medians is the isolation
overhead per notebook. From the supervisor's per-check costs it then estimates a class:
N submissions on a grader with C cores, where correctness runs on C - 4 cores in parallel
and speed checks run one at a time on the 4 reserved cores.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .. import course
from .run import Grader, results_dir

TIMED_PARTS = ("speed", "memory")


@dataclass(frozen=True)
class Throughput:
    lab: str
    confined_s: list[float]
    plain_s: list[float]
    timing_s: float  # of one confined grading, spent in speed and memory checks
    # Per grading, the seconds spent in speed and memory checks, each mode in run order.
    confined_timing_s: tuple[float, ...] = ()
    plain_timing_s: tuple[float, ...] = ()

    @property
    def overhead_s(self) -> float:
        return statistics.median(self.confined_s) - statistics.median(self.plain_s)

    @property
    def untimed_overhead_s(self) -> float | None:
        """The overhead outside the speed and memory checks: a check measured again when
        borderline (1 to 3 rounds, by chance) swings a grading by 10-20 s, which hid the
        cost of confinement in the totals. None when the runs kept no timing split."""
        if len(self.confined_timing_s) != len(self.confined_s) or len(self.plain_timing_s) != len(
            self.plain_s
        ):
            return None
        confined = [t - x for t, x in zip(self.confined_s, self.confined_timing_s)]
        plain = [t - x for t, x in zip(self.plain_s, self.plain_timing_s)]
        return statistics.median(confined) - statistics.median(plain)

    def class_hours(self, students: int, cores: int, reserved: int = 4) -> float:
        """Wall time for ``students`` submissions: the slower of the two pipelines."""
        per = statistics.median(self.confined_s)
        parallel = students * (per - self.timing_s) / max(1, cores - reserved)
        serial = students * self.timing_s
        return max(parallel, serial) / 3600

    def summary(self) -> str:
        untimed = self.untimed_overhead_s
        return (
            f"{self.lab}: {statistics.median(self.confined_s):.1f} s per submission confined, "
            f"{statistics.median(self.plain_s):.1f} s without confinement (overhead "
            f"{self.overhead_s:+.1f} s"
            + ("" if untimed is None else f"; {untimed:+.1f} s outside the speed checks")
            + f"), {self.timing_s:.1f} s of it timing speed checks"
        )


def _reference_notebook(root: Path, lab: str) -> nbformat.NotebookNode:
    return course.reference_submission(
        nbformat.read(next((root / "solutions" / lab).glob("*.ipynb")), as_version=4)
    )


def measure_lab(lab: str, repeats: int = 3) -> Throughput:
    root = course.scratch_course()
    course.nbgrader(root, "generate_assignment", lab, "--force")
    release = root / "labs" / lab
    folder = root / "submitted" / "reference" / lab
    folder.mkdir(parents=True)
    name = next(release.glob("*.ipynb")).name
    nbformat.write(_reference_notebook(root, lab), folder / name)
    for extra in release.iterdir():
        if extra.suffix != ".ipynb" and extra.is_file():
            shutil.copy2(extra, folder / extra.name)
    times: dict[str, list[float]] = {"root": [], "none": []}
    timed: dict[str, list[float]] = {"root": [], "none": []}
    before = os.environ.get("AUTOGRADER_ISOLATION")
    try:
        for rep in range(repeats):
            for mode in ("default", "none") if rep % 2 == 0 else ("none", "default"):
                if mode == "none":
                    os.environ["AUTOGRADER_ISOLATION"] = "none"
                elif before is None:
                    os.environ.pop("AUTOGRADER_ISOLATION", None)
                else:
                    os.environ["AUTOGRADER_ISOLATION"] = before
                grader = Grader(root, lab, force=True, unsafe=True, progress=lambda line: None)
                result = grader.run().results[0]
                key = "none" if mode == "none" else "root"
                times[key].append(result.seconds)
                timed[key].append(_timing_seconds(root, lab))
    finally:
        if before is None:
            os.environ.pop("AUTOGRADER_ISOLATION", None)
        else:
            os.environ["AUTOGRADER_ISOLATION"] = before
    shutil.rmtree(root, ignore_errors=True)
    # The class estimate reads the last confined grading's timed checks.
    last = timed["root"][-1] if timed["root"] else 0.0
    return Throughput(lab, times["root"], times["none"], last, tuple(timed["root"]), tuple(timed["none"]))


def _timing_seconds(root: Path, lab: str) -> float:
    total = 0.0
    for record in (results_dir(root, lab) / "verdicts").glob("*.json"):
        for cell in json.loads(record.read_text())["cells"]:
            for v in cell["verdicts"]:
                if v["part"] in TIMED_PARTS and v["status"] != "skipped":
                    total += (v.get("evidence") or {}).get("seconds", 0.0)
    return total


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    repeats = int(args[0]) if args else 3
    labs = args[1:] or course.assignments()  # `bench N LAB...` measures only those labs
    results = [measure_lab(lab, repeats) for lab in labs]
    for r in results:
        print(r.summary())
    hours = sum(r.class_hours(200, 16) for r in results) * 9 / max(1, len(results))
    print(
        f"estimate: 200 submissions x 9 labs on a 16-core grader (12 cores for correctness, 4 reserved "
        f"for timing), at the measured labs' average: about {hours:.1f} h"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
