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
Resource = Literal["none", "dask", "spark", "ipyparallel"]


@dataclass(frozen=True)
class Exercise:
    """One graded exercise.

    metric:
        "answer": ``target`` is a value (or a function of no inputs) checked against
        ``expected``; "time": ``target`` is a function timed against ``baseline``;
        "peak_memory": same, but peak memory is compared instead of time.
    make_input(rng, small) -> tuple of positional arguments, plain data only. Called
        afresh for every call that is timed, with a new generator each time.
    baseline: the course's slow code, the one timed against the student's.
    reference: the course's fast, trusted code that gives the expected outputs, or
        "module:function" naming a module beside checks.py that is NOT released to
        students (nbgrader ignores ``_reference.py``). Where it is absent (a student's
        copy of the lab), the self-check falls back to the baseline, then to examples.
    spot_check: for elementwise array results too big to recompute on the CPU for every
        call (GPU exercises), verify this many random positions of each output instead.
    examples: fixed (args, expected) pairs for the self-check of exercises whose only
        reference is private; grading always uses the reference on fresh inputs.
    min_speedup: the bar (time ratio, or memory ratio for peak_memory). None means
        correctness only.
    parallel_workers: for parallel code, the worker count the bar is written for; the
        bar then scales with usable cores and CPU-time evidence is required.
    needs: hardware or backends without which the speed part is skipped.
    fallback: what runs instead when a need is missing (said in the skip message).
    resource: a Dask client, SparkSession or ipyparallel client the grader creates and
        passes first (embedded LocalCluster / local[*] / local engines unless configured).
    launcher: "mpiexec" runs the target on every rank of ``mpiexec -n mpi_ranks``,
        called as target(comm, *args); rank 0's return value is graded.
    """

    name: str
    title: str
    metric: Metric = "time"
    make_input: Callable[[np.random.Generator, bool], tuple] | None = None
    baseline: Callable[..., Any] | None = None
    reference: Callable[..., Any] | str | None = None
    examples: tuple[tuple[tuple, Any], ...] = ()
    spot_check: int = 0
    expected: Any = None
    verify: Verifier = field(default_factory=exact)
    min_speedup: float | None = None
    parallel_workers: int | None = None
    needs: tuple[str, ...] = ()
    fallback: str = ""
    resource: Resource = "none"
    launcher: Literal["call", "mpiexec"] = "call"
    mpi_ranks: int = 2
    hint: str = ""
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        unknown = [n for n in self.needs if n not in NEEDS]
        if unknown:
            raise ValueError(f"exercise {self.name!r}: unknown needs {unknown}; use {NEEDS}")
        if self.metric != "answer" and self.make_input is None and not self.examples:
            raise ValueError(f"exercise {self.name!r}: a {self.metric} check needs make_input")
        if (self.resource != "none" or self.launcher == "mpiexec") and self.reference is None:
            # The baseline gets the client or communicator; expected outputs are computed
            # in the grader's own process, which has neither.
            raise ValueError(f"exercise {self.name!r}: give a plain reference(*args) for expected outputs")
        if self.min_speedup is not None and self.baseline is None:
            raise ValueError(f"exercise {self.name!r}: a speed bar needs a baseline to time against")

    def reference_fn(self) -> Callable[..., Any] | None:
        """The trusted function that gives the right output (load_lab resolves strings)."""
        return self.reference if callable(self.reference) else self.baseline

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
        if isinstance(ex.reference, str):
            ex = dataclasses.replace(ex, reference=_private_reference(directory, ex.reference))
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


def _private_reference(directory: Path, ref: str) -> Callable[..., Any] | None:
    """ "module:function" from a file beside checks.py; None where it is not shipped."""
    stem, _, attr = ref.partition(":")
    path = directory / f"{stem}.py"
    if not path.is_file():
        return None
    return getattr(_import_file(path, stem), attr)
