"""Robust speed and memory measurement: the one place where the clock is read for a grade.

The protocol, for "time" exercises:
1. Warm-up: one call on each side, excluded (JIT compilation, imports, caches).
2. Calibration: each side gets a loop count so one sample lasts at least ``sample_s``;
   calibration calls one call long on both sides are the first pair of samples.
3. Samples: baseline and candidate alternate (B C, C B, ...), so slow spells of a
   shared machine hit both. Each pair gets fresh inputs from their own generator, the
   same for both sides, and every output is verified against the course's reference.
4. Each side's min-of-N per-call time gives the speedup; the spread is the noise.
5. Borderline results (within the noise band of the bar) are measured again and the
   samples pooled, up to ``max_rounds``; a pass clear of the bar stops early.
For parallel exercises the CPU evidence of each sample is kept as well (cpu_monitor),
with a probe of how many cores computing processes could get at that moment (capacity):
when the machine gives less than ``min_capacity``, parallel work cannot be seen at all,
so the round is taken again after a pause, and in the end reported as a grading fault.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .capacity import Capacity
from .correctness import Case, Inputs, expect, verify_outputs
from .cpu_monitor import CpuEvidence
from .errors import GradingFault, WrongOutput
from .reserve import timing_priority
from .spec import Exercise

# How a measurement says the machine gave parallel work no room (a grading fault).
TOO_BUSY = "too busy for parallel work to show"

# Peaks under 1 MiB are import and allocator noise: count them as 1 MiB.
MEMORY_FLOOR = 1024 * 1024

# The parallel verdict's evidence besides the CPU ratio (measured: see autograder/STABILITY.md).
PARALLEL_SHARE_SLACK = 0.25  # busiest thread may hold 1/cores + this share of all CPU
PARALLEL_WALL_FLOOR = 0.75  # and the wall clock must not say it got much slower (a busy
# neighbour on a 2-core machine holds an honest 2-worker speedup near 1.0x, so no higher)
PARALLEL_OVERLAP = 0.35  # and the code must keep busy 1 + this share of the extra cores
# the capacity probe got: honest pools reach 0.6-0.7 of them; GIL-bound threads and
# one-worker pools stay at 0
CONTENDED_SPEED = 0.8  # the probe's processes ran together at under this share of one
# alone's speed in every probe of a measurement: the cores were contended, and the CPU
# ratio's bar is scaled by that speed. One probe reads under 0.86 in 1% of calm moments;
# the best of a measurement's 5-15 read 0.84-1.6 in 73 gradings of the toy lab's pool


@dataclass(frozen=True)
class Policy:
    sample_s: float = 0.05
    repeats: int = 5
    max_rounds: int = 3
    band: float = 0.10  # a result within 10% (or 2x the noise) of the bar is borderline
    max_loops: int = 2000
    memory_repeats: int = 3
    baseline_retakes: int = 3  # a baseline sample slowed from outside is taken again
    stolen_ratio: float = 1.5  # ...when its wall time exceeds its CPU time by this factor
    probe_s: float = 0.1  # how long the capacity probe computes, per sample
    min_capacity: float = 1.25  # cores the probe must get for parallel work to be visible
    busy_pause_s: float = 2.0  # wait this long for a busy machine before another round
    # A result this far past the bar after ``clear_after`` samples a side is not sampled
    # further (grading time): serial results by ``clear_factor``; parallel ones on every part
    # of the evidence, the ratios by ``parallel_clear``. The baseline measured against
    # itself (the slow variant) lands within 0.90x-1.22x in every row of STABILITY.md.
    clear_factor: float = 1.5
    clear_after: int = 3
    parallel_clear: float = 1.2


def _spread(xs: list[float]) -> float:
    """How far the median sample sits above the best one, relative to the best."""
    best = min(xs)
    return (statistics.median(xs) - best) / best if best > 0 else 0.0


@dataclass(frozen=True)
class Measurement:
    metric: str
    baseline: list[float]  # per call: seconds, or peak bytes
    candidate: list[float]
    loops: tuple[int, int]
    rounds: int
    candidate_cpu: list[CpuEvidence] = field(default_factory=list)
    baseline_cpu: list[CpuEvidence] = field(default_factory=list)
    seed: int = 0
    machine: dict[str, Any] = field(default_factory=dict)
    capacity: list[Capacity] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Baseline over candidate: a speedup, or a memory reduction factor."""
        if self.metric == "peak_memory":
            b, c = statistics.median(self.baseline), statistics.median(self.candidate)
            return b / max(c, MEMORY_FLOOR)
        return min(self.baseline) / max(min(self.candidate), 1e-9)

    @property
    def noise(self) -> float:
        """Relative spread: how far the median sample sits above the best one, worst side."""
        return max(_spread(self.baseline), _spread(self.candidate))

    @property
    def cpu_noise(self) -> float | None:
        """The noise of the CPU evidence: how far the median sample's CPU time (the baseline's,
        the candidate's busiest thread's) sits above the best one, worst side. A pool's wall
        clock swung by 30-45% in the samples of lab 04 on a shared machine, its CPU times far less:
        judged on the wall-clock noise, almost every parallel result was borderline (3 rounds)."""
        if not self.candidate_cpu or not self.baseline_cpu:
            return None
        baseline, busiest = [e.cpu_s for e in self.baseline_cpu], [e.busiest_s for e in self.candidate_cpu]
        return max(_spread(baseline), _spread(busiest))

    @property
    def cpu_ratio(self) -> float | None:
        """Serial CPU time per call over the busiest candidate thread's CPU time per call."""
        if not self.candidate_cpu or not self.baseline_cpu:
            return None
        b_loops, c_loops = self.loops
        serial = min(e.cpu_s for e in self.baseline_cpu) / b_loops
        busiest = min(e.busiest_s for e in self.candidate_cpu) / c_loops
        return serial / max(busiest, 1e-9)

    @property
    def busiest_share(self) -> float | None:
        """The busiest thread's share of the CPU time, in the best sample. CPU that no sample
        saw on a thread counts as the busiest's, so a sample in which the sampler missed a
        short-lived pool says "not shared" (in 2 to 3 of 15 samples of an honest pool beside
        a busy neighbour; the median failed 1 trial of 6); work that is never shared shows
        in every sample."""
        if not self.candidate_cpu:
            return None
        return min(e.busiest_share for e in self.candidate_cpu)

    @property
    def cores_used(self) -> float | None:
        """Cores the candidate kept busy on average (CPU seconds per wall second), in its best
        sample: like the minimum time, the best moment shows what the code can do."""
        if not self.candidate_cpu:
            return None
        return max(e.mean_concurrency for e in self.candidate_cpu)

    @property
    def cores_available(self) -> float | None:
        """Cores the capacity probe's computing processes got together, median sample."""
        if not self.capacity:
            return None
        return statistics.median(c.cores for c in self.capacity)

    @property
    def core_speed(self) -> float:
        """How fast computing processes ran together, against one alone, in the best probe;
        1.0 when that probe ran at ``CONTENDED_SPEED`` or better (or there was none). The best,
        because the CPU ratio is read from the best samples too: a contended spell that some
        samples escaped lowers neither."""
        best = max((c.speed for c in self.capacity), default=1.0)
        return 1.0 if best >= CONTENDED_SPEED else best

    def summary(self) -> str:
        unit = "x less memory" if self.metric == "peak_memory" else "x faster"
        text = f"{self.ratio:.2f}{unit} (noise {self.noise:.0%}, {len(self.candidate)} samples)"
        if self.cpu_ratio is not None:
            text += f"; CPU ratio {self.cpu_ratio:.2f}, busiest thread {self.busiest_share:.0%}"
        if self.cores_used is not None and self.cores_available is not None:
            text += f", {self.cores_used:.2f} of {self.cores_available:.2f} cores busy"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ratio=self.ratio,
            noise=self.noise,
            cpu_ratio=self.cpu_ratio,
            busiest_share=self.busiest_share,
            cores_used=self.cores_used,
            cores_available=self.cores_available,
            core_speed=self.core_speed,
        )
        return data


def _slowed_from_outside(exercise: Exercise, batch: Any, policy: Policy) -> bool:
    """A CPU-bound baseline whose wall time far exceeds its CPU time was kept waiting."""
    if not exercise.baseline_cpu_bound or batch.cpu_s is None or batch.wall_s < 0.02:
        return False
    return batch.wall_s > policy.stolen_ratio * batch.cpu_s + 0.005


def cleared_early(m: Measurement, bar: float | None, cores: int, policy: Policy) -> bool:
    """Past the bar by a margin after ``clear_after`` samples of the first round, so that the
    samples still to come could not flip the verdict. More samples can only lower a side's
    minimum: a serial pass ``clear_factor`` past the bar would need the baseline's later
    samples that much faster than all its earlier ones. A parallel pass must meet every part
    of the evidence (``cores`` > 0): the cores busy at once and the busiest share only improve
    with more samples, and the CPU and wall-clock ratios must be ``parallel_clear`` past their
    bars. Failing results are never cut short."""
    if bar is None or not policy.clear_after <= len(m.candidate) < policy.repeats:
        return False
    if not cores:
        return min(m.baseline) >= policy.clear_factor * bar * min(m.candidate)
    if too_busy(m, True, policy):
        return False
    return not parallel_shortfalls(m, bar, cores, margin=policy.parallel_clear)


def cpu_bar(m: Measurement, bar: float) -> float:
    """The CPU ratio a parallel result needs: the bar, scaled by how fast the cores ran
    together while it was measured (an honest pool's CPU ratio falls by that factor)."""
    return bar * m.core_speed


def borderline(m: Measurement, bar: float, parallel: bool, policy: Policy) -> bool:
    """Near enough the bar, for the noise it was measured with, to be measured again. A
    parallel verdict reads the CPU ratio, so its CPU evidence's own noise decides."""
    cpu = parallel and m.cpu_ratio is not None
    band = max(policy.band, 2 * ((m.cpu_noise or 0.0) if cpu else m.noise))
    ratio, needed = (m.cpu_ratio, cpu_bar(m, bar)) if cpu else (m.ratio, bar)
    return abs(ratio - needed) <= band * needed


def too_busy(m: Measurement, parallel: bool, policy: Policy) -> bool:
    """The machine left too few cores for parallel work to show in this round."""
    return parallel and (m.cores_available or 0.0) < policy.min_capacity


def meets_bar(m: Measurement, bar: float, cores: int) -> bool:
    """The verdict's rule: a serial ratio at the bar; a parallel result (``cores`` > 1)
    short on no part of its CPU evidence."""
    return not parallel_shortfalls(m, bar, cores) if cores > 1 else m.ratio >= bar


def max_busiest_share(cores: int) -> float:
    """The most of all CPU time the busiest thread of honest parallel code may hold."""
    return 1.0 / cores + PARALLEL_SHARE_SLACK


def min_cores_busy(m: Measurement, cores: int) -> float:
    """Cores a parallel result must keep busy at once, read against the capacity probe."""
    available = m.cores_available or float(cores)
    return 1.0 + PARALLEL_OVERLAP * (available - 1.0)


def parallel_shortfalls(m: Measurement, bar: float, cores: int, margin: float = 1.0) -> list[str]:
    """What the CPU evidence of a parallel result falls short of, in words (empty: a pass).
    ``margin`` > 1 asks the ratios to clear their bars by that factor."""
    share, used = m.busiest_share or 1.0, m.cores_used or 0.0
    problems = []
    if share > max_busiest_share(cores):
        problems.append("the work was not shared between workers")
    if used < min_cores_busy(m, cores):
        problems.append("the workers took turns instead of running at the same time")
    if (m.cpu_ratio or 0.0) < cpu_bar(m, bar) * margin:
        problems.append("not enough of the work ran in parallel")
    if m.ratio < PARALLEL_WALL_FLOOR * margin:
        problems.append("the parallel version was slower than the serial one")
    return problems


def _memory_decided(baseline: list[float], candidate: list[float], bar: float | None, total: int) -> bool:
    """No sample still to come can flip the verdict: with the worst samples for each side
    (zero baseline and unbounded candidate peaks, or the reverse) the median ratio
    would still land on the same side of the bar. Each sample costs two fresh processes."""
    left = total - len(candidate)
    if bar is None or left <= 0 or len(baseline) != len(candidate):
        return False

    def ratio(b_pad: float, c_pad: float) -> float:
        b = statistics.median(baseline + [b_pad] * left)
        return b / max(statistics.median(candidate + [c_pad] * left), MEMORY_FLOOR)

    return ratio(0.0, math.inf) >= bar or ratio(math.inf, 0.0) < bar


class _Side:
    def __init__(self, runner: Any, monitor: bool) -> None:
        self.runner, self.monitor = runner, monitor
        self.samples: list[float] = []
        self.cpu: list[CpuEvidence] = []
        self.loops = 1


def measure(
    exercise: Exercise,
    baseline: Any,
    candidate: Any,
    *,
    small: bool = False,
    policy: Policy | None = None,
    parallel: bool = False,
    workers: int = 2,
    seed: int | None = None,
    reference: Any = None,
    bar: float | None = None,
) -> Measurement:
    """Measure candidate against baseline. Raises WrongOutput on any wrong output.

    ``reference(*args)`` gives the expected output (defaults to exercise.reference_fn(),
    called here in the measuring process). ``bar`` is the ratio needed, used only to
    decide whether the result is borderline and worth measuring again. For ``parallel``
    code, ``workers`` is how many processes the capacity probe starts.
    """
    policy = policy or Policy()
    reference = reference or exercise.reference_fn()
    inputs = Inputs(exercise, small, seed)
    from .hardware import machine_info

    b, c = _Side(baseline, parallel), _Side(candidate, parallel)
    capacity: list[Capacity] = []

    def cases(args: list[tuple]) -> list[Case]:
        return [Case(a, expect(exercise, reference, a), "fresh random input") for a in args]

    def draw(n: int) -> tuple[list[tuple], list[Case]]:
        """``n`` fresh inputs and what they must give. Both sides of a pair get the same ones:
        one reference computation serves both, and neither side is timed on easier inputs."""
        args = inputs.draw(n)
        return args, cases(args)

    def checked_run(side: _Side, drawn: tuple[list[tuple], list[Case]], metric: str = "time") -> Any:
        n = side.loops
        args, expected = drawn[0][:n], drawn[1][:n]
        for retake in range(policy.baseline_retakes + 1):
            if retake:  # a baseline slowed from outside is taken again, on fresh inputs
                args, expected = draw(n)
            batch = side.runner.run(args, metric=metric, monitor=side.monitor and metric == "time")
            if side is c:
                reports = (batch.reports or [None] * len(args)) if exercise.after_call else None
                verify_outputs(exercise, expected, batch.outputs, reports)
                return batch
            # The baseline is the course's own code: its outputs are verified too, so a
            # baseline that was tampered with, or a channel that was hijacked, is caught.
            try:
                verify_outputs(exercise, expected, batch.outputs)
            except WrongOutput as exc:
                raise GradingFault(f"the course's baseline gave a wrong answer ({exc})") from None
            if not _slowed_from_outside(exercise, batch, policy):
                return batch
        raise GradingFault(
            f"the course's baseline took {batch.wall_s:.3f} s by the clock but only {batch.cpu_s:.3f} s "
            f"of CPU, {policy.baseline_retakes + 1} times: something outside slowed it, so this "
            "measurement would not be fair"
        )

    if exercise.metric == "peak_memory":
        # One call per fresh process, alternating sides; no warm-up call, because a
        # warm-up would free memory that the measured call then reuses unseen.
        for _ in range(policy.memory_repeats):
            for side in (b, c):
                runner = side.runner.fresh()
                try:
                    args = inputs.draw(1)
                    batch = runner.run(args, metric="peak_memory")
                    try:
                        verify_outputs(exercise, cases(args), batch.outputs)
                    except WrongOutput as exc:
                        if side is c:
                            raise
                        raise GradingFault(f"the course's baseline gave a wrong answer ({exc})") from None
                finally:
                    if runner is not side.runner:
                        runner.close()
                side.samples.append(float(batch.peak_bytes or 0))
            if _memory_decided(b.samples, c.samples, bar, policy.memory_repeats):
                break
        return Measurement(
            "peak_memory", b.samples, c.samples, (1, 1), 1, seed=inputs.seed, machine=machine_info()
        )

    # The workers' sessions go ahead of the machine's others (root only: see reserve.py).
    # Not the grader's own: a grader killed mid-measurement could not step its session back.
    pids = [getattr(getattr(r, "proc", None), "pid", None) for r in (baseline, candidate)]
    with timing_priority(*[p for p in pids if p]):
        # Warm-up (excluded), then calibration from a second, warm call.
        warm = draw(1)
        for side in (b, c):
            checked_run(side, warm)
        calibration = draw(1)
        first = {side: checked_run(side, calibration) for side in (b, c)}
        for side in (b, c):
            per_call = max(first[side].wall_s, 1e-7)
            side.loops = max(1, min(policy.max_loops, math.ceil(policy.sample_s / per_call)))

        def keep(side: _Side, batch: Any) -> None:
            side.samples.append(batch.wall_s / side.loops)
            if batch.cpu is not None:
                side.cpu.append(batch.cpu)

        def pair_done() -> None:
            if parallel:
                # From the baseline's process, while the student's are frozen.
                capacity.append(baseline.probe(workers, policy.probe_s))

        # Calibration calls one call long on both sides are samples like any other: warm,
        # on a fresh shared input, verified. They count as the first pair (b, c).
        carried = b.loops == c.loops == 1
        if carried:
            for side in (b, c):
                keep(side, first[side])
            pair_done()
        pairs = int(carried)

        def snapshot(rounds: int, machine: dict[str, Any] | None = None) -> Measurement:
            return Measurement(
                "time",
                b.samples,
                c.samples,
                (b.loops, c.loops),
                rounds,
                c.cpu,
                b.cpu,
                inputs.seed,
                machine or {},
                list(capacity),
            )

        rounds = 0
        while True:
            rounds += 1
            cleared = False
            target = len(c.samples) + policy.repeats - (carried and rounds == 1)
            while len(c.samples) < target and not cleared:
                drawn = draw(max(b.loops, c.loops))
                for side in (b, c) if pairs % 2 == 0 else (c, b):
                    keep(side, checked_run(side, drawn))
                pairs += 1
                pair_done()
                cleared = rounds == 1 and cleared_early(
                    snapshot(rounds), bar, workers if parallel else 0, policy
                )
            result = snapshot(rounds, machine_info())
            if too_busy(result, parallel, policy):
                if rounds >= policy.max_rounds:
                    raise GradingFault(
                        f"{workers} computing processes got only {result.cores_available:.2f} cores together "
                        f"on this machine, {rounds} times: it was {TOO_BUSY}"
                    )
                # Start the next round afresh, after the neighbour has had a moment.
                b.samples, c.samples, b.cpu, c.cpu = [], [], [], []
                capacity.clear()
                time.sleep(policy.busy_pause_s)
                continue
            if cleared or bar is None or rounds >= policy.max_rounds:
                return result
            if not borderline(result, bar, parallel, policy):
                return result
