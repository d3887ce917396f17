"""From an exercise and two runners to a Verdict. Used by both the self-check and the supervisor."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from .correctness import Case, cases, expected_answer, verify_outputs
from .errors import AutograderError, BackendMissing, BadSubmission, GradingFault, WrongOutput
from .measure import (
    Measurement,
    Policy,
    cpu_bar,
    max_busiest_share,
    measure,
    meets_bar,
    min_cores_busy,
    parallel_shortfalls,
)
from .reserve import timing_slot
from .spec import Exercise
from .verdict import Verdict, skip_or_fail

CORRECTNESS_CALLS = 3
MEASURED_ANSWER_RETAKES = 2  # a measured answer that misses is compared with 2 more measurements


def missing_need(need: str) -> str | None:
    """None when the need is met here, else a phrase saying what is missing."""
    from . import hardware

    if need == "gpu" and not hardware.gpu_present():
        return "no GPU"
    if need == "cores" and hardware.usable_cores() < 2:
        return "only 1 usable core"
    if need == "mpi" and not hardware.mpiexec_path():
        return "no MPI launcher (mpiexec)"
    if need in ("java", "spark") and hardware.java_home() is None:
        return "no Java 17+ for Spark"
    for module, label in (("spark", "pyspark"), ("dask", "distributed"), ("ipyparallel", "ipyparallel")):
        if need == module and importlib.util.find_spec(label) is None:
            return f"{label} is not installed"
    if need == "compiler" and not hardware.c_compiler():
        return "no C compiler"
    return None


def required_ratio(exercise: Exercise) -> tuple[float, int]:
    """The bar on this machine, and the core count it was scaled for."""
    from .hardware import usable_cores

    bar = float(exercise.min_speedup or 0.0)
    workers = exercise.parallel_workers
    if not workers or workers <= 1:
        return bar, 1
    cores = max(1, min(workers, usable_cores()))
    # The bar is written for `workers` cores; with fewer, scale the gain above 1x.
    return 1.0 + (bar - 1.0) * (cores - 1) / (workers - 1), cores


def _format_ratio(metric: str, value: float) -> str:
    what = "peak-memory reduction" if metric == "peak_memory" else "speedup"
    return f"{what} {value:.2f}x"


def _first_missing(needs: tuple[str, ...] | list[str]) -> tuple[str, str] | None:
    """(need, what is missing) for the first need not met here, else None."""
    for need in needs:
        missing = missing_need(need)
        if missing:
            return need, missing
    return None


def _run_cases(exercise: Exercise, candidate: Any, checked: list[Case]) -> tuple[list[Any], list[float]]:
    """Outputs of every case, verified; for measurement exercises also each call's wall time,
    after one excluded warm-up call (a first launch compiles, and would distort the first time)."""
    args = [case.args for case in checked]
    if exercise.check_measurements is None:
        batch = candidate.run(args)
        verify_outputs(exercise, checked, batch.outputs, _reports(exercise, [batch]))
        return batch.outputs, []
    candidate.run(args[:1])
    batches = [candidate.run([a]) for a in args]
    outputs = [b.outputs[0] for b in batches]
    verify_outputs(exercise, checked, outputs, _reports(exercise, batches))
    return outputs, [b.wall_s for b in batches]


def _reports(exercise: Exercise, batches: list[Any]) -> list[Any] | None:
    """The student's calls' resource reports, in order, where the exercise judges them."""
    if exercise.after_call is None:
        return None
    return [r for b in batches for r in (b.reports or [None] * len(b.outputs))]


def judge_correctness(exercise: Exercise, candidate: Any, small: bool) -> Verdict:
    name = exercise.name
    try:
        if exercise.metric == "answer":
            value = candidate.value()
            problem = exercise.verify(expected_answer(exercise), value)
            # A value the checker measures (a profile's share, say) moves with the load:
            # before saying a student's measurement is wrong, measure it again.
            for _ in range(MEASURED_ANSWER_RETAKES if problem and callable(exercise.reference) else 0):
                problem = exercise.verify(expected_answer(exercise), value)
                if not problem:
                    break
            if problem:
                raise BadSubmission(problem)
            return Verdict(name, "correct", "pass", "your answer is right.")
        checked, phrase = cases(exercise, small, CORRECTNESS_CALLS)
        if not checked:
            return Verdict(
                name,
                "correct",
                "skipped",
                "the reference answers are not shipped with the lab; checked when graded.",
            )
        outputs, walls = _run_cases(exercise, candidate, checked)
        note = ""
        if exercise.check_measurements is not None:
            missing = _first_missing(exercise.needs)
            problem = exercise.check_measurements([c.args for c in checked], outputs, walls, missing is None)
            if problem:
                raise BadSubmission(problem)
            if missing:
                note = f" Not verified here ({missing[1]}): {exercise.fallback or 'the values themselves'}."
        return Verdict(name, "correct", "pass", f"right on {phrase}.{note}")
    except WrongOutput as exc:
        return Verdict(name, "correct", "fail", str(exc), hint=exc.hint or exercise.correct_hint)
    except AutograderError as exc:
        return Verdict(name, "correct", "fail", str(exc), hint=exercise.correct_hint)


def judge_speed(
    exercise: Exercise,
    make_baseline: Callable[[], Any],
    candidate: Any,
    small: bool,
    policy: Policy | None = None,
    correct: Verdict | None = None,
) -> Verdict:
    """``correct``: the correctness verdict when the caller already has one (saves a rerun)."""
    name, label = exercise.name, exercise.speed_label
    if not exercise.graded_speed:
        return Verdict(name, label, "skipped", f"this exercise has no {label} part.")
    parallel = bool(exercise.parallel_workers and exercise.parallel_workers > 1)
    missing = _first_missing(list(exercise.needs) + (["cores"] if parallel else []))
    if missing:
        # Only right answers earn a skip: wrong code gets nothing for missing hardware.
        fallback_run = correct or judge_correctness(exercise, candidate, small)
        if fallback_run.status == "fail":
            return Verdict(
                name, label, "fail", f"no {label} points: {fallback_run.message}", hint=fallback_run.hint
            )
        return skip_or_fail(name, label, missing[0], missing[1], exercise.fallback or f"{label} not graded")
    pid = getattr(getattr(candidate, "proc", None), "pid", None)
    # Under the grade command: one submission times at a time, on the reserved cores.
    with timing_slot(*([pid] if pid else [])):
        bar, cores = required_ratio(exercise)
        return _measured_verdict(exercise, make_baseline, candidate, small, policy, parallel, bar, cores)


def _measured_verdict(
    exercise: Exercise,
    make_baseline: Callable[[], Any],
    candidate: Any,
    small: bool,
    policy: Policy | None,
    parallel: bool,
    bar: float,
    cores: int,
) -> Verdict:
    name, label = exercise.name, exercise.speed_label
    try:
        baseline = make_baseline()
    except BackendMissing as exc:
        need = exercise.needs[0] if exercise.needs else "backend"
        return skip_or_fail(name, label, need, str(exc), f"{label} not graded")
    try:
        m = measure(
            exercise,
            baseline,
            candidate,
            small=small,
            policy=policy,
            parallel=parallel,
            workers=cores,
            bar=bar,
        )
    except WrongOutput as exc:
        hint = exc.hint or exercise.correct_hint
        return Verdict(name, label, "fail", f"no {label} points: {exc}", required=bar, hint=hint)
    except GradingFault as exc:
        return Verdict(
            name,
            label,
            "fail",
            f"grading fault, not your code: {exc}.",
            required=bar,
            hint="nothing to change; the check is measured again when your instructor grades again",
            evidence={"fault": str(exc)},
        )
    except AutograderError as exc:
        return Verdict(
            name, label, "fail", f"no {label} points: {exc}", required=bar, hint=exercise.correct_hint
        )
    finally:
        baseline.close()
    return _speed_verdict(exercise, m, bar, cores, parallel)


def _speed_verdict(exercise: Exercise, m: Measurement, bar: float, cores: int, parallel: bool) -> Verdict:
    name, evidence = exercise.name, m.to_dict()
    ratio = m.ratio
    if not parallel:
        measured = _format_ratio(m.metric, ratio)
        text = f"measured {measured} over the course's baseline, needed {bar:g}x (noise {m.noise:.0%})."
        status = "pass" if meets_bar(m, bar, 1) else "fail"
        label = exercise.speed_label
        return Verdict(name, label, status, text, ratio, bar, m.noise, exercise.speed_hint, evidence)
    cpu_ratio, share = m.cpu_ratio or 0.0, m.busiest_share or 1.0
    max_share, min_used = max_busiest_share(cores), min_cores_busy(m, cores)
    used, available = m.cores_used or 0.0, m.cores_available or float(cores)
    needed, speed = cpu_bar(m, bar), m.core_speed
    asked = f"needed {bar:.2f}x for {cores} cores"
    if speed < 1:  # contended cores: the probe's processes ran slower together than alone
        asked = f"needed {needed:.2f}x: {bar:.2f}x for {cores} cores, times {speed:.2f}, their speed together"
    text = (
        f"measured {cpu_ratio:.2f}x less CPU time on the busiest thread than the serial baseline "
        f"({asked}), busiest thread did {share:.0%} of the work "
        f"(at most {max_share:.0%} allowed), {used:.2f} cores busy at once on average "
        f"(needed {min_used:.2f}; {cores} computing processes got {available:.2f} beside it), "
        f"wall clock {ratio:.2f}x (noise {m.noise:.0%})."
    )
    problems = parallel_shortfalls(m, bar, cores)
    status = "fail" if problems else "pass"
    if problems:
        text = f"{'; '.join(problems).capitalize()}: {text}"
    return Verdict(name, "speed", status, text, cpu_ratio, needed, m.noise, exercise.speed_hint, evidence)


def no_speed_points(exercise: Exercise, correct: Verdict) -> Verdict:
    """The speed part of a function whose correctness failed: wrong, crashed or stuck, it has
    nothing to time (and a stuck function would only be waited for again)."""
    label = exercise.speed_label
    return Verdict(exercise.name, label, "fail", f"no {label} points: {correct.message}", hint=correct.hint)


def judge_parts(
    exercise: Exercise,
    part: str,
    candidate: Any,
    make_baseline: Callable[[], Any] | None,
    small: bool,
) -> list[Verdict]:
    """The verdicts a check(..., part=...) call asks for. ``make_baseline=None`` means the
    speed part is measured elsewhere (by the supervisor), so here it is only announced."""
    part = "correct" if exercise.metric == "answer" else part
    verdicts: list[Verdict] = []
    correct = None
    if part in ("correct", "all"):
        correct = judge_correctness(exercise, candidate, small)
        verdicts.append(correct)
    if part == "speed" or (part == "all" and exercise.graded_speed):
        if make_baseline is None:
            verdicts.append(
                Verdict(
                    exercise.name,
                    exercise.speed_label,
                    "skipped",
                    "measured by the supervisor, outside this kernel.",
                )
            )
        elif correct is not None and correct.status == "fail":
            verdicts.append(no_speed_points(exercise, correct))
        else:
            verdicts.append(judge_speed(exercise, make_baseline, candidate, small, correct=correct))
    return verdicts
