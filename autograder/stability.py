"""Stability report: how often does each speed check give the wrong verdict on this machine?

For every graded speed check of every lab it grades, through the grading path (worker
processes timed from outside):
- the course's reference solution, N times on an idle machine   -> false-fail rate;
- the same, N times with one busy process hogging a core         -> false-fail rate;
- a slow-but-correct variant (the baseline itself), N times      -> false-pass rate;
- a marginal variant, an honest solution whose true ratio is about 1.25x the bar, named
  in the lab's private ``_reference.py`` by ``MARGINAL = {"exercise": "function"}``
                                                                  -> false-fail rate;
- the nearest wrong answers of the corpus, where the lab's private ``_reference.py``
  names them in ``NEAR_MISSES = {"exercise": ["function", ...]}``  -> false-pass rate.
For every measured answer (an answer exercise whose right value the checker measures,
such as a profile's share of time), idle and beside a busy process: a student's single
measurement, taken in a fresh process, against the checker's own -> false-fail rate.
It writes autograder/STABILITY.md and a JSON file with every measured ratio.

The reference solution clears its bar many times over, so its false-fail rate says little
about the grader's precision; the marginal variant's does. The target is at most
``PRECISION_TARGET`` (0.1%) false fails for it, which takes about 3,000 trials without a
failure to claim (95% upper bound 3/N).

`--bench` instead measures each check's reference (and its marginal variant) once and
prints the ratios side by side (the course's speed claims): ratios, never absolute times.
`--condition` measures only the conditions named (``--condition marginal``) and keeps
the report's other rows.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat

from . import course
from .correctness import expected_answer, point_inputs_at
from .errors import AutograderError
from .judge import judge_speed, missing_need, required_ratio
from .replay import REPLAYS, Replay, replay
from .runners import WorkerRunner
from .sandbox import Box
from .spec import Exercise, Lab, load_lab, private_module
from .supervisor import baseline_worker, confined_worker, find_check_calls, worker_env

REPORT = Path(__file__).resolve().parent / "STABILITY.md"
DATA = Path(__file__).resolve().parent / "stability.json"

# What a trial keeps of its verdict's evidence: for the replay, and the rounds it took.
SAMPLE_KEYS = ("baseline", "candidate", "loops", "rounds", "baseline_cpu", "candidate_cpu", "capacity")

# The most false fails the marginal variant may get (the grader's precision), and the
# true ratio, as a multiple of the bar, that a lab's marginal variant is tuned to.
PRECISION_TARGET = 0.001
MARGINAL_FACTOR = 1.25


def should_fail(condition: str) -> bool:
    """The slow variant and the near misses must fail; everything else must pass."""
    return condition == "slow variant" or condition.startswith("near miss")


@dataclass(frozen=True)
class Trials:
    lab: str
    exercise: str
    condition: str  # "idle", "busy neighbour", "slow variant", "near miss: <function>", "marginal"
    bar: float
    ratios: list[float]
    verdicts: list[str]
    small: bool
    reasons: list[str] = field(default_factory=list)  # what the wrong verdicts said, each once
    # Parallel checks: each trial's wall-clock ratio, and the worker count the bar is for.
    wall_ratios: list[float] = field(default_factory=list)
    workers: int = 0
    # Whether the candidates ran in a box, as grading runs them (rows measured before
    # the report boxed them say False).
    boxed: bool = False
    # Each trial's samples (its verdict's evidence: the pairs, their CPU evidence and the
    # capacity probe), and the cores its bar was scaled for: what replay.py replays.
    samples: list[dict] = field(default_factory=list)
    cores: int = 0

    @property
    def should_fail(self) -> bool:
        return should_fail(self.condition)

    @property
    def wrong(self) -> int:
        want = "fail" if self.should_fail else "pass"
        return sum(1 for v in self.verdicts if v != want)

    @property
    def rate(self) -> float:
        return self.wrong / len(self.verdicts) if self.verdicts else float("nan")

    @property
    def upper_bound(self) -> float:
        """The 95% upper confidence bound on the true rate of wrong verdicts."""
        return rate_upper_bound(self.wrong, len(self.verdicts))

    @property
    def ratio_decides(self) -> bool:
        """False for a variant that failed with its ratio past the bar: other evidence (cores
        busy at once, the busiest thread's share) failed it, so the ratio's tail says nothing."""
        past = [r >= self.bar for r, v in zip(self.ratios, self.verdicts) if v == "fail"]
        return not (self.should_fail and any(past))

    def replayed(self) -> Replay | None:
        """The grader's rule replayed on this row's pooled pairs (None: no samples kept)."""
        return replay(self.samples, self.bar, self.cores, self.should_fail)

    @property
    def tail_estimate(self) -> float:
        """P(ratio on the wrong side of the bar) from a log-normal fit: rates far below 1/N."""
        logs = [math.log(r) for r in self.ratios if r > 0]
        if len(logs) < 3 or not self.ratio_decides:
            return float("nan")
        mu, sd = statistics.fmean(logs), statistics.stdev(logs) or 1e-9
        z = (mu - math.log(self.bar)) / sd
        p_below = 0.5 * math.erfc(z / math.sqrt(2))
        return 1 - p_below if self.should_fail else p_below

    def summary(self) -> str:
        kind = "false passes" if self.should_fail else "false fails"
        return (
            f"{self.lab}/{self.exercise} [{self.condition}]: {self.wrong}/{len(self.verdicts)} {kind}; "
            f"ratio min/median/max {min(self.ratios):.2f}/{statistics.median(self.ratios):.2f}/"
            f"{max(self.ratios):.2f} vs bar {self.bar:g}" + "".join(f"\n  wrong: {r}" for r in self.reasons)
        )


@dataclass(frozen=True)
class AnswerTrials:
    """A measured answer: the student's single measurement against the checker's, N times."""

    lab: str
    exercise: str
    condition: str  # "idle", "busy neighbour"
    student: list[float]
    checker: list[float]
    verdicts: list[str]
    small: bool

    @property
    def wrong(self) -> int:
        return sum(1 for v in self.verdicts if v != "pass")

    @property
    def gaps(self) -> list[float]:
        return [abs(a - b) for a, b in zip(self.student, self.checker)]

    def summary(self) -> str:
        return (
            f"{self.lab}/{self.exercise} [{self.condition}]: {self.wrong}/{len(self.verdicts)} false fails; "
            f"student {min(self.student):.3f}-{max(self.student):.3f}, checker "
            f"{min(self.checker):.3f}-{max(self.checker):.3f}, largest gap {max(self.gaps):.3f}"
        )


def rate_upper_bound(wrong: int, n: int, confidence: float = 0.95) -> float:
    """Exact (Clopper-Pearson) one-sided upper bound on a rate seen ``wrong`` times in ``n``
    trials: about 3/n when ``wrong`` is 0."""
    if n <= 0:
        return 1.0
    if wrong >= n:
        return 1.0
    alpha = 1 - confidence

    def cdf(p: float) -> float:  # P(at most `wrong` wrong verdicts | rate p)
        return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(wrong + 1))

    lo, hi = wrong / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > alpha else (lo, mid)
    return hi


def trials_to_claim(rate: float, confidence: float = 0.95) -> int:
    """How many trials without a wrong verdict bound the rate below ``rate`` (3/n at 95%)."""
    return math.ceil(math.log(1 - confidence) / math.log(1 - rate))


class Hog:
    """One busy process spinning on a core: the noisy neighbour, in a session of its own as
    another user's process would be (Linux shares a busy machine between sessions)."""

    def __enter__(self) -> Hog:
        # It spins only while this process lives: a report stopped by a signal leaves no
        # neighbour behind to skew the next run's "idle" rows.
        spin = f"import os\nwhile os.getppid() == {os.getpid()}: pass"
        self.proc = subprocess.Popen([sys.executable, "-c", spin], start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


def _reference_module(lab: Lab, ex: Exercise) -> tuple[str, str]:
    """Where the course's reference solution of ``ex`` lives: (module file stem, function).
    It is the function of the lab's private ``_reference.py`` named as the notebook's check
    target (``check("fetch-items", fetch_items)``: ``fetch_items``), else the exercise's
    ``reference`` where that is a solution in a module of its own (not a helper of
    checks.py that computes the expected outputs another way, from the services' data, say)."""
    private = private_module(lab.directory)
    notebooks = sorted(lab.directory.glob("*.ipynb"))
    calls = find_check_calls(nbformat.read(notebooks[0], as_version=4)) if notebooks else []
    targets = sorted({c.target for c in calls if c.exercise == ex.name})
    found = [t for t in targets if callable(getattr(private, t, None))]
    if found:
        return "_reference", found[0]
    fn = ex.reference if callable(ex.reference) else None
    if fn is not None and Path(inspect.getfile(fn)).stem != "checks":
        return Path(inspect.getfile(fn)).stem, fn.__name__
    raise AutograderError(
        f"{lab.name}/_reference.py has no function named as {ex.name}'s check target "
        f"({', '.join(targets) or 'no check call found'}): the stability report times the "
        "reference solution"
    )


def speed_checks(root: Path) -> list[tuple[Lab, Exercise]]:
    found = []
    for name in course.assignments(root):
        lab = load_lab(root / "solutions" / name)
        found += [(lab, ex) for ex in lab.exercises.values() if ex.graded_speed]
    return found


def _candidate(lab: Lab, ex: Exercise, condition: str, box: Box, small: bool = False) -> WorkerRunner:
    """The reference solution; for the slow variant the baseline itself; for a near miss,
    that function of the lab's private reference module; for the marginal variant, the
    function the lab's private reference module names for ``ex`` in ``MARGINAL``. Each runs
    in ``box`` (a copy of the lab's modules), confined as grading confines a student's code:
    outside it, a pool's CPU reaped two levels down went uncounted and nothing showed."""
    if condition == "slow variant":
        setup = {"kind": "lab", "lab_dir": str(box.work), "exercise": ex.name, "role": "baseline"}
        return confined_worker(
            box, ex, {**setup, "cwd": str(box.work), "resource": ex.resource}, "__target__", worker_env()
        )
    if condition.startswith("near miss: "):
        stem, attr = "_reference", condition.removeprefix("near miss: ")
    elif condition == "marginal":
        name = marginal_function(lab, ex, small)
        if name is None:
            raise AutograderError(f"{lab.name}/_reference.py names no marginal variant of {ex.name}")
        stem, attr = "_reference", name
    else:
        stem, attr = _reference_module(lab, ex)
    setup = {"kind": "module", "cwd": str(box.work), "module": stem, "attr": attr, "resource": ex.resource}
    return confined_worker(box, ex, setup, attr, worker_env())


def lab_box(lab: Lab) -> Box:
    """A box holding a copy of the lab's modules (its private reference among them)."""
    return Box(sorted(p for p in lab.directory.iterdir() if p.suffix == ".py"))


def near_misses(lab: Lab, ex: Exercise) -> list[str]:
    """The conditions for the corpus's nearest wrong answers to ``ex``, if the lab names any."""
    table = getattr(private_module(lab.directory), "NEAR_MISSES", {})
    return [f"near miss: {name}" for name in table.get(ex.name, [])]


def marginal_function(lab: Lab, ex: Exercise, small: bool) -> str | None:
    """The name of ``ex``'s marginal variant in the lab's private reference module: an honest,
    correct solution whose true ratio is about ``MARGINAL_FACTOR`` times the bar. The lab's
    ``MARGINAL`` maps an exercise to a function, or, where a check's ratios change with the
    input size (a quadratic baseline), to one function per mode: ``{"normal": f, "small": g}``."""
    named = getattr(private_module(lab.directory), "MARGINAL", {}).get(ex.name)
    return named.get(_mode(small)) if isinstance(named, dict) else named


def measured_answers(root: Path) -> list[tuple[Lab, Exercise]]:
    """Answer exercises whose right value is measured by the checker (a callable reference)."""
    found = []
    for name in course.assignments(root):
        lab = load_lab(root / "solutions" / name)
        found += [
            (lab, ex) for ex in lab.exercises.values() if ex.metric == "answer" and callable(ex.reference)
        ]
    return found


def run_answer_trials(lab: Lab, ex: Exercise, condition: str, n: int, small: bool) -> AnswerTrials:
    """The student's value is the reference measured as the lab asks a student to measure
    it (``reference(n)`` with the reference's ``student_repeats``, 1 by default), in a fresh
    process, as a notebook's first run does; the checker's is ``expected_answer``, here, as
    the supervisor measures it."""
    repeats = getattr(ex.reference, "student_repeats", 1)
    student, checker, verdicts = [], [], []
    for _ in range(n):
        setup = {"kind": "lab", "lab_dir": str(lab.directory), "exercise": ex.name, "role": "reference"}
        with WorkerRunner(
            {**setup, "cwd": str(lab.directory)}, "__target__", "a student", env=worker_env()
        ) as w:
            (value,) = w.run([(repeats,)]).outputs
        expected = expected_answer(ex)
        student.append(float(value))
        checker.append(float(expected))
        verdicts.append("pass" if ex.verify(expected, value) is None else "fail")
    return AnswerTrials(lab.name, ex.name, condition, student, checker, verdicts, small)


def run_trials(lab: Lab, ex: Exercise, condition: str, n: int, small: bool) -> Trials:
    ratios, verdicts, reasons, walls, samples = [], [], [], [], []
    # The bar as written for this machine's cores: a verdict's own may be scaled further for
    # cores that ran slowly together (measure.cpu_bar), and the replay applies that itself.
    bar, cores = required_ratio(ex)
    want = "fail" if should_fail(condition) else "pass"
    with lab_box(lab) as box:
        candidate = _candidate(lab, ex, condition, box, small)
        saved = point_inputs_at(str(box.inputs))  # as the supervisor does: file inputs in the box
        try:
            for _ in range(n):
                # As the supervisor does: the baseline is timed while the box is frozen.
                v = judge_speed(
                    ex, lambda: baseline_worker(lab.directory, ex, quiet=box.frozen), candidate, small
                )
                ratios.append(float(v.measured or 0.0))
                verdicts.append(v.status)
                if v.status != want and v.message not in reasons:
                    reasons.append(v.message)
                if ex.parallel_workers and v.evidence.get("ratio"):
                    walls.append(float(v.evidence["ratio"]))
                if ex.metric == "time" and v.evidence.get("baseline"):
                    samples.append({k: v.evidence.get(k) for k in SAMPLE_KEYS})
        finally:
            candidate.close()
            point_inputs_at(saved)
    workers = ex.parallel_workers or 0
    found = Trials(lab.name, ex.name, condition, bar, ratios, verdicts, small, reasons[:3], walls, workers)
    return replace(found, boxed=True, samples=samples, cores=cores)


_ORDER = ("idle", "busy neighbour", "marginal", "slow variant", "near miss")


def _in_order(rows: list[dict]) -> list[dict]:
    """Each check's rows together, in the report's order of conditions (a merged run appends)."""
    checks = list(dict.fromkeys((r["lab"], r["exercise"]) for r in rows))

    def rank(r: dict) -> tuple[int, int]:
        cond = r["condition"]
        return checks.index((r["lab"], r["exercise"])), next(
            (i for i, c in enumerate(_ORDER) if cond == c or cond.startswith(c + ":")), len(_ORDER)
        )

    return sorted(rows, key=rank)


def _tail(t: Trials) -> str:
    if not t.ratio_decides:
        return "n/a: failed on other evidence"
    p = t.tail_estimate
    if math.isnan(p):
        return "n/a: too few trials"
    # A fitted tail far below what was observed is only an order of magnitude.
    return "< 1e-6" if p < 1e-6 else f"{p:.1e}"


def _replayed(r: Replay | None) -> str:
    if r is None:
        return "n/a: no samples kept"
    if r.wrong == 0:
        return f"0 in {r.replays:,} (< {3 / r.replays:.1e})"  # the rule of three: a 95% bound
    return f"{r.rate:.1e} ({r.wrong} in {r.replays:,})"


def _rounded(value: Any) -> Any:
    """Floats to 0.01 ms: finer than any sample needs, and a third of the digits."""
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _dump(runs: dict) -> str:
    """The data file, indented, except each row's samples: one line each (indented, a few
    hundred rows of samples made it 50,000 lines and 1.4 MB)."""
    compact: dict[str, str] = {}
    shown = {}
    for mode, run in runs.items():
        rows = []
        for row in run.get("trials", []):
            if row.get("samples"):
                key = f"@samples-{len(compact)}@"
                compact[key] = json.dumps(_rounded(row["samples"]), separators=(",", ":"))
                row = {**row, "samples": key}
            rows.append(row)
        shown[mode] = {**run, "trials": rows}
    text = json.dumps({"runs": shown}, indent=1) + "\n"
    for key, line in compact.items():
        text = text.replace(json.dumps(key), line, 1)
    return text


def _mode(small: bool) -> str:
    return "small" if small else "normal"


def write_report(
    results: list[Trials],
    answers: list[AnswerTrials],
    skipped: list[str],
    started: float,
    small: bool,
    partial: bool = False,
    conditions: list[str] | None = None,
) -> None:
    """Store this run under its input-size mode, keep the other mode's run, render both.
    ``conditions``: the run measured only these conditions of its checks (``--condition``),
    so their other rows are kept."""
    from .hardware import machine_info

    runs = json.loads(DATA.read_text()).get("runs", {}) if DATA.exists() else {}
    old = runs.get(_mode(small), {})
    # A run restricted with --only replaces its own checks' rows and keeps the others;
    # one restricted with --condition replaces only those conditions' rows.
    fresh = {(r.lab, r.exercise) for r in [*results, *answers]}

    def kept(rows: list[dict]) -> list[dict]:
        return [
            r
            for r in rows
            if (r["lab"], r["exercise"]) not in fresh or (conditions and r["condition"] not in conditions)
        ]

    minutes = (time.time() - started) / 60 + (old.get("minutes", 0) if partial else 0)
    runs[_mode(small)] = {
        "machine": machine_info(),
        "minutes": round(minutes, 1),
        "skipped": skipped or (old.get("skipped", []) if partial else []),
        "trials": _in_order((kept(old.get("trials", [])) if partial else []) + [asdict(t) for t in results]),
        "answers": (kept(old.get("answers", [])) if partial else []) + [asdict(a) for a in answers],
    }
    DATA.write_text(_dump(runs))
    lines = [
        "# Stability of the speed checks",
        "",
        "Written by `make check-stability` (`autograder stability`, normal input sizes) and",
        "`COURSE_SMALL=1 autograder stability` (the sizes the test suite grades with); do not",
        "edit by hand. Each row grades one check many times through the grading path: worker",
        "processes timed from outside, exactly as `nbgrader autograde` does. *Wrong verdicts*",
        "are false fails (reference solution, marginal variant) or false passes (slow-but-correct",
        "variant: the baseline itself; near misses: the corpus's wrong answers nearest the bar).",
        f"The *marginal* variant is an honest solution whose true ratio is about {MARGINAL_FACTOR:g}x the",
        "bar, named in the lab's private `_reference.py` (`MARGINAL`). The reference clears its bar",
        "many times over, so the marginal variant's false-fail rate, not the reference's, is the",
        f"grader's precision. Target: at most {PRECISION_TARGET:.1%}. With 0 wrong in N trials the 95% upper",
        f"bound on the true rate is about 3/N, so trials alone show {PRECISION_TARGET:.1%} only after "
        f"{trials_to_claim(PRECISION_TARGET):,}",
        "trials without a failure; the *log-normal tail* fits the measured ratios and extrapolates",
        "to rates far below 1/N. The *replayed rule* runs the grader's own decisions (early clear,",
        f"re-measurement when borderline, the verdict's criteria) {REPLAYS:,} times on pairs of samples",
        "drawn at random from all the row's trials (autograder/replay.py): it needs no shape for the",
        "ratios, but sees only the conditions the trials met, as if each pair were independent.",
        "The busy neighbour is one process spinning on a core",
        "for the whole run. *Boxed*: the candidate ran confined as grading confines a student's",
        "code, in a box holding a copy of the lab's modules, and the baseline was timed while the",
        "box was frozen; rows measured before the report did so say no.",
    ]
    for mode in ("normal", "small"):
        if mode not in runs:
            continue
        run, info = runs[mode], runs[mode]["machine"]
        trials = [Trials(**d) for d in run["trials"]]
        lines += [
            "",
            f"## {mode.capitalize()} input sizes",
            "",
            f"{info.get('cpu_model', '?')}, {info.get('usable_cores')} usable cores, Python "
            f"{info.get('python')}; {run['minutes']} minutes.",
            "",
            "| check | condition | trials | wrong verdicts | observed rate | log-normal tail "
            "| replayed rule | ratio min / median / max | bar | boxed |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        replays = {id(t): t.replayed() for t in trials}
        for t in trials:
            kind = "false passes" if t.should_fail else "false fails"
            lines.append(
                f"| {t.lab}/{t.exercise} | {t.condition} | {len(t.verdicts)} | {t.wrong} {kind} | "
                f"{t.rate:.1%} | {_tail(t)} | {_replayed(replays[id(t)])} | {min(t.ratios):.2f} / "
                f"{statistics.median(t.ratios):.2f} / {max(t.ratios):.2f} | {t.bar:g} | "
                f"{'yes' if t.boxed else 'no'} |"
            )
        parallel = [t for t in trials if t.wall_ratios and t.condition == "idle"]
        if parallel:
            lines += [
                "",
                "Parallel efficiency of the reference, idle: the wall-clock speedup over the serial "
                "baseline divided by the workers the bar is written for (the verdict itself reads the "
                "CPU evidence above).",
                "",
            ]
            lines += [
                f"- {t.lab}/{t.exercise}: wall clock {min(t.wall_ratios):.2f} / "
                f"{statistics.median(t.wall_ratios):.2f} / {max(t.wall_ratios):.2f}x (min / median / max) "
                f"on {t.workers} workers: efficiency {statistics.median(t.wall_ratios) / t.workers:.2f}"
                for t in parallel
            ]
        wrong = [t for t in trials if t.reasons]
        if wrong:
            lines += ["", "What the wrong verdicts said (each message once):", ""]
            lines += [f"- {t.lab}/{t.exercise} [{t.condition}]: {r}" for t in wrong for r in t.reasons]
        marginal = [t for t in trials if t.condition == "marginal"]
        if marginal:
            need = trials_to_claim(PRECISION_TARGET)
            lines += [
                "",
                f"Precision: the marginal variant's false fails (target at most {PRECISION_TARGET:.1%}).",
                "",
            ]
            for t in marginal:
                shown = t.upper_bound <= PRECISION_TARGET
                lines.append(
                    f"- {t.lab}/{t.exercise}: {t.wrong} in {len(t.verdicts)} trials, at a median "
                    f"{statistics.median(t.ratios) / t.bar:.2f}x the bar; 95% upper bound {t.upper_bound:.1%}"
                    + ("" if shown else f" (trials alone show the target after {need:,} without a failure)")
                    + f"; log-normal tail {_tail(t)}; replayed rule {_replayed(replays[id(t)])}."
                )
        if run.get("answers"):
            lines += [
                "",
                "Measured answers: in each trial, a student's value measured as the lab asks for it, "
                "in a fresh process, against the checker's; the largest gap is what the tolerance "
                "must cover.",
                "",
                "| check | condition | trials | wrong verdicts | student min / max | checker min / max "
                "| largest gap |",
                "|---|---|---|---|---|---|---|",
            ]
            for a in (AnswerTrials(**d) for d in run["answers"]):
                lines.append(
                    f"| {a.lab}/{a.exercise} | {a.condition} | {len(a.verdicts)} | {a.wrong} false fails | "
                    f"{min(a.student):.3f} / {max(a.student):.3f} | {min(a.checker):.3f} / "
                    f"{max(a.checker):.3f} | {max(a.gaps):.3f} |"
                )
        if run["skipped"]:
            lines += ["", "Not measured on this machine:", ""] + [f"- {s}" for s in run["skipped"]]
    REPORT.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder stability")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--only", help="lab/exercise to restrict to")
    parser.add_argument("--lab", help="restrict to the checks of this lab (e.g. 04-multiprocessing)")
    parser.add_argument(
        "--condition",
        action="append",
        help="measure only this condition (idle, busy neighbour, slow variant, marginal, "
        "near miss: FUNCTION); repeatable; the report keeps the other conditions' rows",
    )
    parser.add_argument("--bench", action="store_true", help="one measurement per check, printed")
    parser.add_argument("--no-write", action="store_true", help="print only, do not write the report")
    args = parser.parse_args(argv)
    small = os.environ.get("COURSE_SMALL") == "1"
    started = time.time()
    results, skipped = [], []
    conditions = ["idle"] if args.bench else ["idle", "busy neighbour", "slow variant"]
    # --bench also measures the marginal variant once: how near its aim it lands.
    n = 1 if args.bench else args.trials

    def wanted(lab: Lab, ex: Exercise) -> bool:
        named = not args.only or args.only == f"{lab.name}/{ex.name}"
        return named and (not args.lab or args.lab == lab.name)

    for lab, ex in speed_checks(course.ROOT):
        if not wanted(lab, ex):
            continue
        missing = [m for m in map(missing_need, ex.needs) if m]
        if missing:
            skipped.append(f"{lab.name}/{ex.name}: {', '.join(missing)}")
            print(f"skipped {lab.name}/{ex.name}: {', '.join(missing)}", flush=True)
            continue
        try:
            _reference_module(lab, ex)
        except AutograderError as exc:
            skipped.append(f"{lab.name}/{ex.name}: {exc}")
            print(f"skipped {lab.name}/{ex.name}: {exc}", flush=True)
            continue
        if not args.bench and marginal_function(lab, ex, small) is None:
            print(
                f"note {lab.name}/{ex.name}: _reference.py names no marginal variant (MARGINAL)", flush=True
            )
        extra = ["marginal"] * (marginal_function(lab, ex, small) is not None)
        extra += [] if args.bench else near_misses(lab, ex)
        for condition in conditions + extra:
            if args.condition and condition not in args.condition:
                continue
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
                who, aim = (
                    ("marginal variant", f", aim {MARGINAL_FACTOR * t.bar:g}x")
                    if condition == "marginal"
                    else ("reference", "")
                )
                print(
                    f"{lab.name}/{ex.name}: {who} {t.ratios[0]:.2f}x {unit} than the baseline "
                    f"(bar {t.bar:g}x{aim})",
                    flush=True,
                )
            else:
                print(t.summary(), flush=True)
    answers = []
    for lab, ex in [] if args.bench or args.condition else measured_answers(course.ROOT):
        if not wanted(lab, ex):
            continue
        for condition in ("idle", "busy neighbour"):
            with Hog() if condition == "busy neighbour" else contextlib.nullcontext():
                a = run_answer_trials(lab, ex, condition, args.trials, small)
            answers.append(a)
            print(a.summary(), flush=True)
    if not args.bench and not args.no_write:
        partial = bool(args.only or args.lab or args.condition)
        write_report(results, answers, skipped, started, small, partial=partial, conditions=args.condition)
        print(f"wrote {REPORT}")
    return 0 if all(t.wrong == 0 for t in [*results, *answers]) else 1
