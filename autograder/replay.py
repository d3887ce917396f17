"""The grader's decision rule replayed on measured samples: how often a speed check would
give a wrong verdict, at rates that no practical number of trials can show.

The stability report grades a check N times; no wrong verdict in N shows a rate below
about 3/N and no lower (2,995 trials for 0.1%). Each trial keeps its samples: the pairs of
baseline and candidate calls, with their CPU evidence and the capacity probe's reading.
``replay`` draws pairs at random from every trial of a row, with replacement, and runs them
through ``measure``'s own rules many times: the early clear, the borderline re-measurement,
the restart of a round on a machine too busy, and the verdict's criteria.

What it assumes: that the pairs are independent draws from the conditions the trials met.
A machine state that none of the trials saw is not in the estimate, and pairs measured
one after another on a shared machine are not quite independent.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from .capacity import Capacity
from .cpu_monitor import CpuEvidence
from .measure import Measurement, Policy, borderline, cleared_early, meets_bar, too_busy

# Replays per row: no wrong verdict in this many bounds the rate below about 1.5e-4.
REPLAYS = 20_000


@dataclass(frozen=True)
class Pair:
    """One baseline call and one candidate call measured side by side, per call."""

    baseline: float
    candidate: float
    baseline_cpu: CpuEvidence | None = None
    candidate_cpu: CpuEvidence | None = None
    capacity: Capacity | None = None


@dataclass(frozen=True)
class Replay:
    replays: int
    wrong: int
    pairs: int  # the pool the replays drew from
    should_fail: bool

    @property
    def rate(self) -> float:
        return self.wrong / self.replays if self.replays else float("nan")

    def summary(self) -> str:
        kind = "false passes" if self.should_fail else "false fails"
        pool = f"{self.pairs} measured pairs"
        return f"{self.wrong} {kind} in {self.replays:,} replays of the grader's rule on {pool}"


def _per_call(e: dict[str, Any] | None, loops: int) -> CpuEvidence | None:
    if e is None:
        return None
    ev = CpuEvidence(**{f.name: e[f.name] for f in fields(CpuEvidence) if f.name in e})
    if loops == 1:
        return ev
    per_call = {k: getattr(ev, k) / loops for k in ("wall_s", "cpu_s", "busiest_s", "unseen_s")}
    return replace(ev, **per_call)


def pairs_of(sample: dict[str, Any]) -> list[Pair]:
    """The pairs of one trial, from the evidence its verdict kept. CPU times are made per call
    (a sample may time several calls), so that trials with other loop counts pool."""
    b_loops, c_loops = sample.get("loops") or (1, 1)
    b_cpu, c_cpu, cap = (
        sample.get("baseline_cpu") or [],
        sample.get("candidate_cpu") or [],
        sample.get("capacity") or [],
    )
    pairs = []
    for i, (b, c) in enumerate(zip(sample["baseline"], sample["candidate"])):
        pairs.append(
            Pair(
                b,
                c,
                _per_call(b_cpu[i], b_loops) if i < len(b_cpu) else None,
                _per_call(c_cpu[i], c_loops) if i < len(c_cpu) else None,
                Capacity(**cap[i]) if i < len(cap) else None,
            )
        )
    return pairs


def _measurement(pairs: list[Pair], rounds: int) -> Measurement:
    return Measurement(
        "time",
        [p.baseline for p in pairs],
        [p.candidate for p in pairs],
        (1, 1),
        rounds,
        [p.candidate_cpu for p in pairs if p.candidate_cpu is not None],
        [p.baseline_cpu for p in pairs if p.baseline_cpu is not None],
        capacity=[p.capacity for p in pairs if p.capacity is not None],
    )


def passes_once(draw: Callable[[], Pair], bar: float, cores: int, policy: Policy) -> bool:
    """One grading, as ``measure`` and the verdict decide it, with pairs from ``draw()``.
    ``cores`` > 1: a parallel check read on its CPU evidence. A machine too busy in every
    round is a grading fault, which gives 0 like a fail."""
    parallel = cores > 1
    taken: list[Pair] = []
    rounds = 0
    while True:
        rounds += 1
        target, cleared = len(taken) + policy.repeats, False
        while len(taken) < target and not cleared:
            taken.append(draw())
            cleared = rounds == 1 and cleared_early(
                _measurement(taken, rounds), bar, cores if parallel else 0, policy
            )
        result = _measurement(taken, rounds)
        if too_busy(result, parallel, policy):
            if rounds >= policy.max_rounds:
                return False
            taken = []
            continue
        if cleared or rounds >= policy.max_rounds or not borderline(result, bar, parallel, policy):
            break
    return meets_bar(result, bar, cores)


def replay(
    samples: list[dict[str, Any]],
    bar: float,
    cores: int,
    should_fail: bool,
    replays: int = REPLAYS,
    policy: Policy | None = None,
    seed: int = 0,
) -> Replay | None:
    """Replay a row's gradings on its trials' pooled pairs; None when it kept no samples."""
    pool = [p for s in samples if s.get("baseline") for p in pairs_of(s)]
    if not pool:
        return None
    policy, rng = policy or Policy(), random.Random(seed)
    wrong = sum(
        passes_once(lambda: rng.choice(pool), bar, cores, policy) == should_fail for _ in range(replays)
    )
    return Replay(replays, wrong, len(pool), should_fail)
