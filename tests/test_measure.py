"""The measuring protocol itself: fresh inputs, interleaving, calibration, re-measurement."""

import importlib
import math
import os
import sys

from autograder.measure import Policy, measure
from autograder.runners import InProcessRunner
from autograder.spec import load_lab


def _lab_and_work(toy_lab):
    sys.path.insert(0, str(toy_lab))
    return load_lab(toy_lab), importlib.import_module("work")


def test_every_call_gets_a_fresh_input_and_warm_up_is_excluded(toy_lab):
    lab, work = _lab_and_work(toy_lab)
    seen = []

    def recording_sort(values):
        seen.append(tuple(values))
        return sorted(values)

    ex = lab.get("sort")
    m = measure(
        ex,
        InProcessRunner(work.insertion_sort, "baseline"),
        InProcessRunner(recording_sort, "c"),
        policy=Policy(repeats=3),
    )
    assert len(seen) == len(set(seen)), "an input was reused: a cache could have hit"
    assert len(m.candidate) == 3 and len(m.baseline) == 3
    # Calibration: each candidate sample is many calls long, each baseline sample at least one.
    b_loops, c_loops = m.loops
    assert c_loops > b_loops >= 1
    assert len(seen) == 2 + 3 * c_loops  # two warm-up/calibration calls, then the samples
    assert m.ratio > 5 and m.machine["usable_cores"] >= 1 and m.seed


def test_both_sides_of_a_pair_share_fresh_inputs_and_a_one_call_calibration_is_a_sample(toy_lab):
    """Each pair of samples gets one fresh input set for both sides (one reference computation,
    no side timed on easier inputs); no side sees an input twice; when a calibration call is a
    whole sample on both sides, it is the first sample and not run again."""
    lab, work = _lab_and_work(toy_lab)
    ex = lab.get("sort")
    seen: dict[str, list[tuple]] = {"b": [], "c": []}

    def recording(side, fn):
        def run(values):
            seen[side].append(tuple(values))
            return fn(values)

        return run

    m = measure(
        ex,
        InProcessRunner(recording("b", work.insertion_sort), "b"),
        InProcessRunner(recording("c", work.fast_sort), "c"),
        policy=Policy(repeats=4, sample_s=1e-9),  # every sample one call long
    )
    assert m.loops == (1, 1) and len(m.baseline) == len(m.candidate) == 4
    assert seen["b"] == seen["c"], "the two sides of a pair were timed on different inputs"
    assert len(set(seen["c"])) == len(seen["c"]) == 1 + 4  # warm-up, then calibration = sample 1


def test_borderline_results_are_measured_again(toy_lab):
    lab, work = _lab_and_work(toy_lab)
    ex = lab.get("sort")
    same = InProcessRunner(work.fast_sort, "same")
    # Identical code on both sides lands near a bar of 1; a wide band keeps a noisy machine's
    # 1.3x swing between two identical 10 ms samples inside it (this failed once in CI at 10%).
    wide = Policy(repeats=3, max_rounds=3, sample_s=0.01, band=0.6)
    m = measure(ex, same, InProcessRunner(work.fast_sort, "c"), bar=1.0, policy=wide)
    assert m.rounds == 3 and len(m.candidate) == 9
    far = measure(
        ex,
        InProcessRunner(work.insertion_sort, "b"),
        InProcessRunner(work.fast_sort, "c"),
        bar=1.0,
        policy=wide,
    )
    assert far.rounds == 1


def test_a_serial_result_far_past_the_bar_stops_early_and_a_near_one_does_not(toy_lab):
    lab, work = _lab_and_work(toy_lab)
    ex = lab.get("sort")
    policy = Policy(repeats=5, sample_s=0.01, clear_after=3, clear_factor=2.0)
    slow, fast = InProcessRunner(work.insertion_sort, "b"), InProcessRunner(work.fast_sort, "c")
    far = measure(ex, slow, fast, bar=1.0, policy=policy)
    assert far.ratio > 2.0 and len(far.candidate) == len(far.baseline) == 3
    near = measure(ex, slow, fast, bar=far.ratio, policy=policy)  # the bar is where it landed
    assert len(near.candidate) >= 5
    assert len(measure(ex, slow, fast, policy=policy).candidate) == 5  # no bar: every sample


def test_stability_trials_count_wrong_verdicts(toy_lab, monkeypatch, no_requirements):
    from autograder import stability

    lab, _ = _lab_and_work(toy_lab)
    honest = stability.run_trials(lab, lab.get("sort"), "idle", 2, small=True)
    slow = stability.run_trials(lab, lab.get("sort"), "slow variant", 2, small=True)
    assert honest.wrong == 0 and honest.verdicts == ["pass", "pass"] and min(honest.ratios) > 5
    assert slow.wrong == 0 and slow.verdicts == ["fail", "fail"] and max(slow.ratios) < 2
    assert "0/2 false passes" in slow.summary()
    # Each trial keeps its pairs, and the grader's rule replayed on them agrees.
    assert len(honest.samples) == 2 and honest.boxed and honest.cores == 1
    assert honest.replayed().wrong == 0 and slow.replayed().wrong == 0


def test_stability_times_its_candidates_in_a_box_as_grading_does(toy_lab, no_requirements):
    """Timed outside a box, the report missed a hole that grading had (a pool's CPU reaped two
    levels down went uncounted): its candidates are the box's processes, as a student's are,
    and a box whose processes were all killed still starts the next one."""
    import time

    from autograder import stability

    lab, _ = _lab_and_work(toy_lab)
    with stability.lab_box(lab) as box:
        for condition in ("idle", "slow variant"):
            worker = stability._candidate(lab, lab.get("sort"), condition, box, small=True)
            try:
                assert worker.proc.poll() is None
                box.kill_all()  # reaches only what runs in the box
                deadline = time.monotonic() + 10
                while worker.proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert worker.proc.poll() is not None, f"the {condition} candidate ran outside the box"
            finally:
                worker.close()


def test_a_boxed_trial_puts_file_inputs_where_the_box_can_read_them(monkeypatch, no_requirements):
    """Lab 02's stream-stats reads its input from a file. Drawn into the grader's own temp
    folder, that file was out of the boxed candidate's reach, and every trial of the report
    failed with FileNotFoundError; the supervisor draws it into the box, and so must the report."""
    from conftest import ROOT

    from autograder import stability
    from autograder.correctness import INPUT_DIR_ENV
    from autograder.spec import load_lab

    solution = ROOT / "solutions" / "02-data-containers"
    monkeypatch.syspath_prepend(str(solution))
    lab = load_lab(solution)
    before = os.environ.get(INPUT_DIR_ENV)
    found = stability.run_trials(lab, lab.get("stream-stats"), "idle", 1, small=True)
    assert found.wrong == 0 and found.boxed, found.reasons
    assert os.environ.get(INPUT_DIR_ENV) == before  # put back for the next check


def test_spot_checks_catch_wrong_elements_without_recomputing_everything(toy_lab, no_requirements):
    import numpy as np

    from autograder.correctness import expect
    from autograder.judge import judge_correctness

    lab, _ = _lab_and_work(toy_lab)
    ex = lab.get("elementwise")
    x = np.linspace(0, 1, 50_000)
    e = expect(ex, ex.reference_fn(), (x, 2.0))
    assert e.positions is not None and len(e.positions) == 64 and len(e.value) == 64
    # Both ends are always looked at: a launch one block short leaves only the tail wrong.
    assert {0, 1, len(x) - 2, len(x) - 1} <= set(e.positions.tolist())
    assert judge_correctness(ex, InProcessRunner(ex.reference_fn(), "right"), small=True).passed

    def off_by_a_bit(values, p):
        out = values**p
        out[::10] += 1e-6  # one element in ten is wrong: 64 random probes find one
        return out

    wrong = judge_correctness(ex, InProcessRunner(off_by_a_bit, "wrong"), small=True)
    assert wrong.status == "fail" and "differs" in wrong.message
    short = judge_correctness(ex, InProcessRunner(lambda v, p: v[:10], "short"), small=True)
    assert short.status == "fail" and "array of length 50000" in short.message


def test_a_short_launch_is_caught_every_time_by_the_spot_check(toy_lab, no_requirements):

    from autograder.judge import judge_correctness

    lab, _ = _lab_and_work(toy_lab)
    ex = lab.get("elementwise")

    def tail_left_alone(values, p):
        out = values**p
        out[-3:] = values[-3:]  # the last three elements were never computed
        return out

    for _ in range(20):
        verdict = judge_correctness(ex, InProcessRunner(tail_left_alone, "short launch"), small=True)
        assert verdict.status == "fail" and "differs" in verdict.message


def test_stability_measures_answers_as_the_lab_asks_and_names_near_misses(no_requirements):
    from conftest import ROOT

    from autograder import stability
    from autograder.spec import load_lab

    lab = load_lab(ROOT / "solutions" / "01-profiling")
    trials = stability.run_answer_trials(lab, lab.get("hotspot-share"), "idle", 2, small=True)
    assert trials.verdicts == ["pass", "pass"] and max(trials.gaps) < 0.1
    assert "0/2 false fails" in trials.summary()
    assert stability.near_misses(lab, lab.get("stream-file")) == ["near miss: summarize_readlines"]
    assert stability.near_misses(lab, lab.get("fast-report")) == []


def test_every_speed_check_names_a_marginal_variant_that_is_right(no_requirements):
    """Every graded speed check of a lab with a private reference names its marginal variant
    (an honest solution about 1.25x past the bar) for both input-size modes, and that
    variant, like the reference solution the report times, gives the reference's output.
    Checks that need hardware (a GPU, MPI, ...) are left out: their variants can only be
    tuned where the hardware is. No timing here."""
    import contextlib

    import numpy as np
    from conftest import ROOT

    from autograder import stability
    from autograder.resources import open_resource
    from autograder.spec import private_module

    seen = 0
    for lab, ex in stability.speed_checks(ROOT):
        module = private_module(lab.directory)
        if module is None or ex.needs:
            continue
        solution = stability._reference_module(lab, ex)[1]
        for small in (True, False):
            name = stability.marginal_function(lab, ex, small)
            assert name, f"{lab.name}/_reference.py: MARGINAL names no variant of {ex.name} ({small=})"
            reference = ex.reference_fn()
            with contextlib.ExitStack() as stack:  # the client or service pool the grader passes first
                resource = open_resource(ex.resource, stack)
                prefix = () if resource is None else (resource,)
                for seed in range(3):
                    args = ex.make_input(np.random.default_rng(seed), True)
                    # The reference solution does not change with the mode: one input will do.
                    for fn in [name] + [solution] * (small and seed == 0):
                        problem = ex.verify(reference(*args), getattr(module, fn)(*prefix, *args))
                        assert problem is None, f"{lab.name}/{ex.name}: {fn} on input {seed}: {problem}"
            seen += 1
    assert seen >= 4  # lab 01: fast-report and stream-file, in both modes


def test_a_run_of_one_condition_keeps_the_other_rows(tmp_path, monkeypatch):
    from autograder import stability

    monkeypatch.setattr(stability, "DATA", tmp_path / "stability.json")
    monkeypatch.setattr(stability, "REPORT", tmp_path / "STABILITY.md")

    def trials(condition, ratios, verdicts):
        return stability.Trials("lab", "ex", condition, 4.0, ratios, verdicts, True)

    old = [trials("idle", [20.0, 21.0], ["pass"] * 2), trials("marginal", [5.0, 3.9], ["pass", "fail"])]
    stability.write_report(old, [], [], 0.0, small=True)
    fresh = trials("marginal", [5.1, 4.9, 5.0], ["pass"] * 3)
    stability.write_report([fresh], [], [], 0.0, small=True, partial=True, conditions=["marginal"])
    rows = stability.json.loads(stability.DATA.read_text())["runs"]["small"]["trials"]
    assert [(r["condition"], len(r["ratios"])) for r in rows] == [("idle", 2), ("marginal", 3)]
    text = stability.REPORT.read_text()
    assert "| lab/ex | marginal | 3 | 0 false fails |" in text
    assert "Target: at most 0.1%" in text and "2,995" in text
    assert "- lab/ex: 0 in 3 trials" in text
    assert "| n/a: no samples kept |" in text and "| no |" in text  # rows kept from before the replay
    # A row's samples are kept, rounded to 0.01 ms, on one line of the data file.
    sample = {"baseline": [0.123456789, 0.2], "candidate": [0.0123456789, 0.02], "loops": [1, 1]}
    kept = stability.replace(fresh, samples=[sample, sample])
    stability.write_report([kept], [], [], 0.0, small=True, partial=True, conditions=["marginal"])
    raw = stability.DATA.read_text()
    (row,) = [r for r in stability.json.loads(raw)["runs"]["small"]["trials"] if r["condition"] == "marginal"]
    assert row["samples"][1]["baseline"] == [0.12346, 0.2] and row["samples"][1]["candidate"][0] == 0.01235
    (line,) = [line for line in raw.splitlines() if '"samples": [{' in line]
    assert line.count("0.01235") == 2
    assert abs(stability.rate_upper_bound(0, 30) - 3 / 30) < 0.006
    assert stability.trials_to_claim(0.001) == 2995


def test_a_near_miss_failed_on_other_evidence_has_no_ratio_tail():
    """GIL-bound threads split CPU time evenly (ratio past the bar) and fail on the cores busy at
    once: the ratio's log-normal tail would say they pass always, so the report says why not."""
    from autograder import stability

    gil = stability.Trials("lab", "ex", "near miss: gil", 1.3, [1.6, 1.9, 2.1], ["fail"] * 3, True)
    one = stability.Trials("lab", "ex", "near miss: one", 1.3, [0.9, 1.0, 1.1], ["fail"] * 3, True)
    assert not gil.ratio_decides and math.isnan(gil.tail_estimate)
    assert stability._tail(gil) == "n/a: failed on other evidence"
    assert one.ratio_decides and 0 < one.tail_estimate < 0.01
    single = stability.Trials("lab", "ex", "idle", 1.3, [2.0], ["pass"], True)
    assert stability._tail(single) == "n/a: too few trials"


def test_a_parallel_pass_stops_early_only_when_every_part_of_the_evidence_clears():
    """After ``clear_after`` samples a parallel result stops when the CPU and wall-clock ratios
    clear their bars by ``parallel_clear`` and the share and overlap pass; a result short on
    any part, or one measured on a machine too busy to show it, is sampled to the end."""
    from autograder.capacity import Capacity
    from autograder.cpu_monitor import CpuEvidence
    from autograder.measure import Measurement, cleared_early

    policy = Policy(repeats=5, clear_after=3, parallel_clear=1.2, min_capacity=1.25)
    serial = [CpuEvidence(1.0, 1.0, 1.0, 1, 1)] * 3

    def result(busiest_s, cpu_s=1.0, wall_s=0.55, cores=1.9, n=3):
        pool = [CpuEvidence(wall_s, cpu_s, busiest_s, 3, 2)] * n
        probes = [Capacity(2, 0.1 * cores, 0.1)] * n
        return Measurement("time", [1.0] * n, [wall_s] * n, (1, 1), 1, pool, serial[:n], capacity=probes)

    assert cleared_early(result(0.52), 1.3, 2, policy)  # CPU ratio 1.92, wall 1.82, share 52%
    assert result(0.52).cpu_noise == 0.0 and result(0.52).noise == 0.0
    assert not cleared_early(result(0.52, n=2), 1.3, 2, policy)  # too few samples
    assert not cleared_early(result(0.66), 1.3, 2, policy)  # CPU ratio 1.52: past 1.3, not by 1.2x
    assert not cleared_early(result(0.52, cores=1.1), 1.3, 2, policy)  # the machine gave no room
    assert not cleared_early(result(0.5, cpu_s=1.0, wall_s=1.0), 1.3, 2, policy)  # took turns: 1.0 cores
    assert cleared_early(result(0.52), 1.3, 0, policy) is False  # as serial: 1.82x is not 1.5 x 1.3
    assert cleared_early(result(0.52), 1.2, 0, policy)  # 1.82x >= 1.5 x 1.2


def test_a_parallel_result_is_borderline_by_its_cpu_noise_not_its_wall_clock():
    """Wall-clock samples of a pool 40% apart, CPU samples 4% apart: the CPU ratio is what the
    verdict reads, so its noise, not the wall clock's, sets the band around the bar."""
    from autograder.cpu_monitor import CpuEvidence
    from autograder.measure import Measurement

    walls = [0.25, 0.35, 0.30]
    pool = [CpuEvidence(w, 0.5, b, 3, 2) for w, b in zip(walls, [0.25, 0.26, 0.27])]
    serial = [CpuEvidence(0.5, c, c, 1, 1) for c in (0.50, 0.51, 0.52)]
    m = Measurement("time", [0.5, 0.51, 0.52], walls, (1, 1), 1, pool, serial)
    assert abs(m.noise - 0.2) < 1e-9 and abs(m.cpu_noise - 0.04) < 1e-9


def test_the_replay_decides_as_the_grader_does_on_pairs_drawn_from_the_trials():
    """Replays run measure's own rules: a serial ratio against its bar, a pool's every
    criterion (threads that took turns fail whatever their CPU ratio), a machine too busy
    in every round (a grading fault, worth 0), and the re-measurement of a borderline result."""
    from autograder.measure import Policy
    from autograder.replay import pairs_of, replay

    def evidence(wall, cpu, busiest, threads=1):
        return {
            "wall_s": wall,
            "cpu_s": cpu,
            "busiest_s": busiest,
            "threads_seen": threads,
            "peak_concurrency": 2,
        }

    def trial(b, c, busiest=None, pool_cpu=None, cores=1.9, n=5):
        s = {"baseline": [b] * n, "candidate": [c] * n, "loops": [1, 1]}
        if busiest is not None:
            s["baseline_cpu"] = [evidence(b, b, b)] * n
            s["candidate_cpu"] = [evidence(c, pool_cpu or 2 * busiest, busiest, 3)] * n
            s["capacity"] = [{"workers": 2, "cpu_s": 0.1 * cores, "wall_s": 0.1}] * n
        return s

    serial = [trial(1.0, 0.2), trial(1.1, 0.21)]
    assert replay(serial, 4.0, 1, should_fail=False, replays=200).wrong == 0  # 4.8x-5.5x past 4x
    assert replay(serial, 6.0, 1, should_fail=True, replays=200).wrong == 0  # and short of 6x
    pool = [trial(0.4, 0.22, busiest=0.2)]  # CPU ratio 2.0, 1.8 cores busy, share 50%
    assert replay(pool, 1.3, 2, should_fail=False, replays=200).wrong == 0
    turns = [trial(0.4, 0.4, busiest=0.2, pool_cpu=0.4)]  # ratio 2.0, but one core busy at a time
    assert replay(turns, 1.3, 2, should_fail=True, replays=200).wrong == 0
    crowded = [trial(0.4, 0.22, busiest=0.2, cores=1.0)]  # the probe got one core, every round
    assert replay(crowded, 1.3, 2, should_fail=False, replays=200).wrong == 200
    # Borderline: two pairs in three read 1.21x (busiest thread 0.33 s), one 1.43x (0.28 s). One
    # round fails when none of its 5 is fast, (2/3)^5 = 13%; re-measured to 15, (2/3)^15 = 0.2%.
    near = [trial(0.4, 0.36, busiest=0.33)] * 2 + [trial(0.4, 0.36, busiest=0.28)]
    once = replay(near, 1.3, 2, False, replays=4000, policy=Policy(max_rounds=1)).rate
    again = replay(near, 1.3, 2, False, replays=4000, policy=Policy(max_rounds=3)).rate
    assert 0.09 < once < 0.17 and again < 0.01
    # A sample of several calls: its CPU is made per call, so trials with other loops pool.
    (many,) = pairs_of({**trial(0.4, 0.22, busiest=0.2, n=1), "loops": [1, 4]})
    assert abs(many.candidate_cpu.busiest_s - 0.05) < 1e-12 and many.baseline_cpu.cpu_s == 0.4


def test_a_memory_verdict_no_third_sample_could_flip_takes_two():
    from autograder.measure import _memory_decided

    mib = 2**20
    assert _memory_decided([18 * mib, 18 * mib], [0.0, 0.0], bar=4, total=3)  # a clear pass
    assert _memory_decided([18 * mib, 18 * mib], [5 * mib, 5 * mib], bar=4, total=3)  # a clear fail
    # 18/4.6 and 18/4.4 straddle the bar: the third sample decides.
    assert not _memory_decided([18 * mib, 18 * mib], [4.4 * mib, 4.6 * mib], bar=4, total=3)
    assert not _memory_decided([18 * mib], [0.0], bar=4, total=3)  # one sample decides nothing
    assert not _memory_decided([18 * mib, 18 * mib], [0.0, 0.0], bar=None, total=3)


def test_the_cpu_ratio_bar_is_scaled_only_when_every_probe_saw_contended_cores():
    """An honest pool on two cores that each run at 0.6 of one alone's speed shows a CPU ratio
    near 1.2, not 2: if every probe of the measurement saw that, the bar is scaled by it.
    One probe at full speed means a calm moment was there, and the bar stands."""
    from autograder import Exercise
    from autograder.capacity import Capacity
    from autograder.cpu_monitor import CpuEvidence
    from autograder.judge import _speed_verdict
    from autograder.measure import Measurement, cpu_bar, parallel_shortfalls

    def measured(speeds):
        pool = [CpuEvidence(0.42, 0.84, 0.42, 3, 2)] * 3  # CPU ratio 0.5 / 0.42 = 1.19
        serial = [CpuEvidence(0.5, 0.5, 0.5, 1, 1)] * 3
        probes = [Capacity(2, 0.199, 0.1, s) for s in speeds]
        return Measurement("time", [0.5] * 3, [0.42] * 3, (1, 1), 1, pool, serial, capacity=probes)

    contended, calm = measured([0.6, 0.62, 0.58]), measured([0.6, 0.95, 0.58])
    assert contended.core_speed == 0.62 and calm.core_speed == 1.0
    assert abs(cpu_bar(contended, 1.2) - 0.744) < 1e-9 and cpu_bar(calm, 1.2) == 1.2
    assert parallel_shortfalls(contended, 1.2, 2) == []
    assert parallel_shortfalls(calm, 1.2, 2) == ["not enough of the work ran in parallel"]
    # A measurement stored before probes measured speed reads as calm.
    assert measured([]).core_speed == 1.0 and Capacity(2, 0.2, 0.1).speed == 1.0

    pool = Exercise(
        name="pool",
        title="A pool",
        make_input=lambda rng, small: (1,),
        baseline=abs,
        min_speedup=1.2,
        parallel_workers=2,
    )
    verdict = _speed_verdict(pool, contended, 1.2, 2, parallel=True)
    assert verdict.status == "pass" and verdict.required == cpu_bar(contended, 1.2), verdict.message
    assert "needed 0.74x: 1.20x for 2 cores, times 0.62, their speed together" in verdict.message
    verdict = _speed_verdict(pool, calm, 1.2, 2, parallel=True)
    assert verdict.status == "fail" and "(needed 1.20x for 2 cores)" in verdict.message
