"""Stability report: how often does each speed check give the wrong verdict on this machine?

For every graded speed check of every lab it grades, through the grading path (worker
processes timed from outside):
- the course's reference solution, N times on an idle machine   -> false-fail rate;
- the same, N times with one busy process hogging a core         -> false-fail rate;
- a slow-but-correct variant (the baseline itself), N times      -> false-pass rate.
It writes autograder/STABILITY.md and a JSON file with every measured ratio.

`--bench` instead measures each check's reference once per condition and prints the
ratios side by side (the course's speed claims): ratios, never absolute times.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import course
from .errors import AutograderError
from .judge import judge_speed, missing_need
from .runners import WorkerRunner
from .spec import Exercise, Lab, load_lab
from .supervisor import baseline_worker, worker_env

REPORT = Path(__file__).resolve().parent / "STABILITY.md"
DATA = Path(__file__).resolve().parent / "stability.json"


@dataclass(frozen=True)
class Trials:
    lab: str
    exercise: str
    condition: str  # "idle", "busy neighbour", "slow variant"
    bar: float
    ratios: list[float]
    verdicts: list[str]
    small: bool

    @property
    def wrong(self) -> int:
        want = "fail" if self.condition == "slow variant" else "pass"
        return sum(1 for v in self.verdicts if v != want)

    @property
    def rate(self) -> float:
        return self.wrong / len(self.verdicts) if self.verdicts else float("nan")

    @property
    def tail_estimate(self) -> float:
        """P(ratio on the wrong side of the bar) from a log-normal fit: rates far below 1/N."""
        logs = [math.log(r) for r in self.ratios if r > 0]
        if len(logs) < 3:
            return float("nan")
        mu, sd = statistics.fmean(logs), statistics.stdev(logs) or 1e-9
        z = (mu - math.log(self.bar)) / sd
        p_below = 0.5 * math.erfc(z / math.sqrt(2))
        return 1 - p_below if self.condition == "slow variant" else p_below

    def summary(self) -> str:
        kind = "false passes" if self.condition == "slow variant" else "false fails"
        return (
            f"{self.lab}/{self.exercise} [{self.condition}]: {self.wrong}/{len(self.verdicts)} {kind}; "
            f"ratio min/median/max {min(self.ratios):.2f}/{statistics.median(self.ratios):.2f}/"
            f"{max(self.ratios):.2f} vs bar {self.bar:g}"
        )


class Hog:
    """One busy process spinning on a core: the noisy neighbour."""

    def __enter__(self) -> Hog:
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


def _reference_module(ex: Exercise) -> tuple[str, str]:
    """Where the course's reference solution of ``ex`` lives: (module file stem, function)."""
    fn = ex.reference_fn()
    assert fn is not None
    return Path(inspect.getfile(fn)).stem, fn.__name__


def speed_checks(root: Path) -> list[tuple[Lab, Exercise]]:
    found = []
    for name in course.assignments(root):
        lab = load_lab(root / "solutions" / name)
        found += [(lab, ex) for ex in lab.exercises.values() if ex.graded_speed]
    return found


def _candidate(lab: Lab, ex: Exercise, slow: bool) -> WorkerRunner:
    """The reference solution, or for the slow variant the baseline itself, as a candidate."""
    if slow:
        return baseline_worker(lab.directory, ex, "slow variant")
    stem, attr = _reference_module(ex)
    setup = {
        "kind": "module",
        "cwd": str(lab.directory),
        "module": stem,
        "attr": attr,
        "resource": ex.resource,
    }
    return WorkerRunner(setup, attr, "reference", env=worker_env())


def run_trials(lab: Lab, ex: Exercise, condition: str, n: int, small: bool) -> Trials:
    ratios, verdicts = [], []
    candidate = _candidate(lab, ex, condition == "slow variant")
    bar = 0.0
    try:
        for _ in range(n):
            v = judge_speed(ex, lambda: baseline_worker(lab.directory, ex), candidate, small)
            bar = v.required or ex.min_speedup or 0.0
            ratios.append(float(v.measured or 0.0))
            verdicts.append(v.status)
    finally:
        candidate.close()
    return Trials(lab.name, ex.name, condition, bar, ratios, verdicts, small)


def _tail(p: float) -> str:
    # A fitted tail far below what was observed is only an order of magnitude.
    return "< 1e-6" if p < 1e-6 else f"{p:.1e}"


def _mode(small: bool) -> str:
    return "small" if small else "normal"


def write_report(results: list[Trials], skipped: list[str], started: float, small: bool) -> None:
    """Store this run under its input-size mode, keep the other mode's run, render both."""
    from .hardware import machine_info

    runs = json.loads(DATA.read_text()).get("runs", {}) if DATA.exists() else {}
    runs[_mode(small)] = {
        "machine": machine_info(),
        "minutes": round((time.time() - started) / 60, 1),
        "skipped": skipped,
        "trials": [asdict(t) for t in results],
    }
    DATA.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    lines = [
        "# Stability of the speed checks",
        "",
        "Written by `make check-stability` (`autograder stability`, normal input sizes) and",
        "`COURSE_SMALL=1 autograder stability` (the sizes the test suite grades with); do not",
        "edit by hand. Each row grades one check many times through the grading path: worker",
        "processes timed from outside, exactly as `nbgrader autograde` does. *Wrong verdicts*",
        "are false fails (reference solution) or false passes (slow-but-correct variant: the",
        "baseline itself). With 0 wrong in N trials the 95% upper bound on the true rate is 3/N;",
        "the *log-normal tail* fits the measured ratios and extrapolates to rates far below 1/N.",
        "The busy neighbour is one process spinning on a core for the whole run.",
    ]
    for mode in ("normal", "small"):
        if mode not in runs:
            continue
        run, info = runs[mode], runs[mode]["machine"]
        lines += [
            "",
            f"## {mode.capitalize()} input sizes",
            "",
            f"{info.get('cpu_model', '?')}, {info.get('usable_cores')} usable cores, Python "
            f"{info.get('python')}; {run['minutes']} minutes.",
            "",
            "| check | condition | trials | wrong verdicts | observed rate | log-normal tail "
            "| ratio min / median / max | bar |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for t in (Trials(**d) for d in run["trials"]):
            kind = "false passes" if t.condition == "slow variant" else "false fails"
            lines.append(
                f"| {t.lab}/{t.exercise} | {t.condition} | {len(t.verdicts)} | {t.wrong} {kind} | "
                f"{t.rate:.1%} | {_tail(t.tail_estimate)} | {min(t.ratios):.2f} / "
                f"{statistics.median(t.ratios):.2f} / {max(t.ratios):.2f} | {t.bar:g} |"
            )
        if run["skipped"]:
            lines += ["", "Not measured on this machine:", ""] + [f"- {s}" for s in run["skipped"]]
    REPORT.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder stability")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--only", help="lab/exercise to restrict to")
    parser.add_argument("--bench", action="store_true", help="one measurement per check, printed")
    parser.add_argument("--no-write", action="store_true", help="print only, do not write the report")
    args = parser.parse_args(argv)
    small = os.environ.get("COURSE_SMALL") == "1"
    started = time.time()
    results, skipped = [], []
    conditions = ["idle"] if args.bench else ["idle", "busy neighbour", "slow variant"]
    n = 1 if args.bench else args.trials
    for lab, ex in speed_checks(course.ROOT):
        if args.only and args.only != f"{lab.name}/{ex.name}":
            continue
        missing = [m for m in map(missing_need, ex.needs) if m]
        if missing:
            skipped.append(f"{lab.name}/{ex.name}: {', '.join(missing)}")
            print(f"skipped {lab.name}/{ex.name}: {', '.join(missing)}", flush=True)
            continue
        for condition in conditions:
            try:
                if condition == "busy neighbour":
                    with Hog():
                        t = run_trials(lab, ex, condition, n, small)
                else:
                    t = run_trials(lab, ex, condition, n, small)
            except AutograderError as exc:
                print(f"ERROR {lab.name}/{ex.name} [{condition}]: {exc}", flush=True)
                return 1
            results.append(t)
            if args.bench:
                unit = "less peak memory" if ex.metric == "peak_memory" else "faster"
                print(
                    f"{lab.name}/{ex.name}: reference {t.ratios[0]:.2f}x {unit} than the baseline "
                    f"(bar {t.bar:g}x)",
                    flush=True,
                )
            else:
                print(t.summary(), flush=True)
    if not args.bench and not args.no_write:
        write_report(results, skipped, started, small)
        print(f"wrote {REPORT}")
    return 0 if all(t.wrong == 0 for t in results) else 1
