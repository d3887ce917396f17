"""Exercise specs: each graded exercise is declared once, in its lab's checks.py.

A lab's checks.py defines ``EXERCISES = [Exercise(...), ...]``. The same spec is used
by the in-kernel self-check and by the supervisor that grades, so the two can never
disagree about inputs, baseline, tolerances or the bar.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import UnknownExercise
from .verify import Verifier, exact

# What an exercise may need. "cores" means at least two usable cores.
NEEDS = ("gpu", "mpi", "spark", "dask", "ipyparallel", "cores", "compiler", "java")

Metric = Literal["answer", "time", "peak_memory"]
Resource = Literal["none", "dask", "spark", "ipyparallel", "services"]


@dataclass(frozen=True)
class Exercise:
    """One graded exercise.

    metric:
        "answer": ``target`` is a value (never called, even when it is a function) checked
        against ``expected``, or against what ``reference()`` returns when the right answer
        must be measured (a profile's share of time, say); "time": ``target`` is a function
        timed against ``baseline``; "peak_memory": same, but peak memory is compared.
    make_input(rng, small) -> tuple of positional arguments, plain data only. Called
        afresh for every call that is timed, with a new generator each time.
    edge_inputs(rng, small) -> list of argument tuples added to every correctness check:
        cases near a decision boundary, or related inputs that ``check_measurements``
        compares. May be "module:function" in a private file, like ``reference``.
    baseline: the course's slow code, the one timed against the student's.
    reference: the course's fast, trusted code that gives the expected outputs, or
        "module:function" naming a module beside checks.py that is NOT released to
        students (nbgrader ignores ``_reference.py``). Where it is absent (a student's
        copy of the lab), the self-check falls back to the baseline, then to examples.
    spot_check: for elementwise array results too big to recompute on the CPU for every
        call (GPU exercises), verify this many positions of each output instead (the
        first and last ones always, where off-by-one launches leave their marks).
    examples: fixed (args, expected) pairs, checked by the self-check and by grading; the
        self-check's only evidence where the reference is private. Choose them to catch
        the common mistakes every time.
    check_measurements(args_list, outputs, walls_s, full) -> problem or None: for outputs
        that are measurements (no single right value): judged together, with each call's
        wall time; ``full`` is False when a need is missing, so only what the fallback can
        show (keys, types, signs) is checked.
    diagnose(args, expected, got) -> a hint for this wrong output, or None: names the
        common mistake behind it (``expected`` is None for spot-checked results).
    min_speedup: the bar (time ratio, or memory ratio for peak_memory). None means
        correctness only.
    parallel_workers: for parallel code, the worker count the bar is written for; the
        bar then scales with usable cores and CPU-time evidence is required.
    needs: hardware or backends without which the speed part is skipped (and the
        ``full`` part of ``check_measurements``).
    fallback: what runs instead when a need is missing (said in the skip message).
    resource: a Dask client, SparkSession, ipyparallel client or pool of HTTP services
        (autograder/services.py) the grader creates and passes first (embedded
        LocalCluster / local[*] / local engines / loopback instances unless configured).
    after_call(args, report) -> problem or None: judges what the resource saw during one
        call of the student's function, read from the resource just before and just after
        it (a service pool's report: the most requests in flight at once, the items served),
        for limits an output cannot show; checked with every output, in both processes.
    launcher: "mpiexec" runs the target on every rank of ``mpiexec -n mpi_ranks``,
        called as target(comm, *args); rank 0's return value is graded.
    correct_hint, speed_hint: one hint each, shown only when that part fails (the speed
        hint also for the memory part of a peak_memory exercise).
    self_check_s: how long this exercise's check may take in the student's kernel when the
        notebook is executed for grading; a notebook's budget is the sum over its check
        calls plus a start-up allowance (supervisor.kernel_budget_s).
    baseline_cpu_bound: the baseline computes the whole time, so a sample whose wall time
        far exceeds its CPU time means something outside slowed it; False for baselines
        that wait by design (a serial HTTP client).
    """

    name: str
    title: str
    metric: Metric = "time"
    make_input: Callable[[np.random.Generator, bool], tuple] | None = None
    baseline: Callable[..., Any] | None = None
    reference: Callable[..., Any] | str | None = None
    edge_inputs: Callable[[np.random.Generator, bool], list[tuple]] | str | None = None
    examples: tuple[tuple[tuple, Any], ...] = ()
    spot_check: int = 0
    check_measurements: Callable[[list[tuple], list[Any], list[float], bool], str | None] | None = None
    diagnose: Callable[[tuple, Any, Any], str | None] | None = None
    expected: Any = None
    verify: Verifier = field(default_factory=exact)
    min_speedup: float | None = None
    parallel_workers: int | None = None
    needs: tuple[str, ...] = ()
    fallback: str = ""
    resource: Resource = "none"
    after_call: Callable[[tuple, Any], str | None] | None = None
    launcher: Literal["call", "mpiexec"] = "call"
    mpi_ranks: int = 2
    correct_hint: str = ""
    speed_hint: str = ""
    timeout_s: float = 120.0
    self_check_s: float = 30.0
    baseline_cpu_bound: bool = True

    def __post_init__(self) -> None:
        unknown = [n for n in self.needs if n not in NEEDS]
        if unknown:
            raise ValueError(f"exercise {self.name!r}: unknown needs {unknown}; use {NEEDS}")
        if self.metric == "answer" and (self.make_input or self.baseline or self.min_speedup):
            raise ValueError(f"exercise {self.name!r}: an answer is a value; it has no inputs or speed bar")
        if self.metric != "answer" and self.make_input is None and not self.examples:
            raise ValueError(f"exercise {self.name!r}: a {self.metric} check needs make_input")
        if (self.resource != "none" or self.launcher == "mpiexec") and self.reference is None:
            # The baseline gets the client or communicator; expected outputs are computed
            # in the grader's own process, which has neither.
            raise ValueError(f"exercise {self.name!r}: give a plain reference(*args) for expected outputs")
        if self.after_call is not None and self.resource == "none":
            raise ValueError(f"exercise {self.name!r}: after_call reads a resource; name one")
        if self.min_speedup is not None and self.baseline is None:
            raise ValueError(f"exercise {self.name!r}: a speed bar needs a baseline to time against")

    def reference_fn(self) -> Callable[..., Any] | None:
        """The trusted function that gives the right output (load_lab resolves strings)."""
        return self.reference if callable(self.reference) else self.baseline

    def hint_for(self, part: str) -> str:
        return self.correct_hint if part == "correct" else self.speed_hint

    @property
    def speed_label(self) -> str:
        """How the speed part is named to students: memory is not speed."""
        return "memory" if self.metric == "peak_memory" else "speed"

    @property
    def graded_speed(self) -> bool:
        return self.metric in ("time", "peak_memory") and self.min_speedup is not None


@dataclass(frozen=True)
class Lab:
    """The exercises of one lab, loaded from its checks.py."""

    name: str
    directory: Path
    exercises: dict[str, Exercise]

    def get(self, name: str) -> Exercise:
        try:
            return self.exercises[name]
        except KeyError:
            known = ", ".join(sorted(self.exercises)) or "none"
            raise UnknownExercise(
                f"no exercise named {name!r} in lab {self.name}; the known ones are: {known}"
            ) from None


def load_lab(directory: str | Path) -> Lab:
    """Import ``directory/checks.py`` under a private module name and collect EXERCISES."""
    directory = Path(directory).resolve()
    path = directory / "checks.py"
    if not path.is_file():
        raise UnknownExercise(f"no checks.py in {directory}: is this a lab folder?")
    module = _import_file(path, "checks")
    exercises = {}
    for ex in getattr(module, "EXERCISES", []):
        for field_name in ("reference", "edge_inputs"):
            value = getattr(ex, field_name)
            if isinstance(value, str):
                ex = dataclasses.replace(ex, **{field_name: _private_reference(directory, value)})
        exercises[ex.name] = ex
    return Lab(name=directory.name, directory=directory, exercises=exercises)


def _import_file(path: Path, stem: str) -> Any:
    """Import a lab's file under a name unique to its folder (labs reuse file names)."""
    module_name = f"_lab_{abs(hash(str(path.parent)))}_{stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # The lab's own helper modules (the slow program, say) sit beside checks.py.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def private_module(directory: Path, stem: str = "_reference") -> Any:
    """The lab's private module beside checks.py; None where it is not shipped (a student's copy)."""
    path = directory / f"{stem}.py"
    return _import_file(path, stem) if path.is_file() else None


def _private_reference(directory: Path, ref: str) -> Callable[..., Any] | None:
    """ "module:function" from a file beside checks.py; None where it is not shipped."""
    stem, _, attr = ref.partition(":")
    module = private_module(directory, stem)
    return None if module is None else getattr(module, attr)
