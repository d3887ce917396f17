"""What a right answer is: the inputs a check draws, the outputs it expects, and how they are compared.

Inputs are fresh for every call (a root seed drawn at check time), joined by the
exercise's edge cases and worked examples. Expected outputs come from the course's
trusted code, computed in the checking process, never in the student's. Every output
the student's code returns is compared here, as plain data, so a lying ``__eq__``
never gets a say. measure.py uses this for every timed call; judge.py for the
correctness part.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import WrongOutput
from .spec import Exercise
from .wire import plain

# Elementwise results are wrong first at their ends (a launch one block short, an
# off-by-one loop bound), so spot checks always look at this many positions at each end.
SPOT_EDGE = 256


INPUT_DIR_ENV = "AUTOGRADER_INPUT_DIR"
_input_folders: dict[tuple[str, str], str] = {}


def point_inputs_at(folder: str | None) -> str | None:
    """Draw file inputs into ``folder`` from now on (None: the temp folder); returns the folder
    named before, to put back."""
    before = os.environ.get(INPUT_DIR_ENV)
    if folder is None:
        os.environ.pop(INPUT_DIR_ENV, None)
    else:
        os.environ[INPUT_DIR_ENV] = folder
    return before


def input_folder(prefix: str) -> str:
    """A folder for inputs that are files. While a submission is graded, it lies inside that
    submission's box (``AUTOGRADER_INPUT_DIR``), where confined code can read it and the
    baseline reads the same bytes; otherwise it is a temporary folder. Removed at exit."""
    base = os.environ.get(INPUT_DIR_ENV) or tempfile.gettempdir()
    key = (base, prefix)
    if key not in _input_folders or not os.path.isdir(_input_folders[key]):
        folder = tempfile.mkdtemp(prefix=prefix, dir=base)
        os.chmod(folder, 0o755)
        atexit.register(shutil.rmtree, folder, True)
        _input_folders[key] = folder
    return _input_folders[key]


class Inputs:
    """Fresh inputs for every call: one child generator per call, from a random root seed.

    The root seed is drawn at check time (and recorded), so nobody can precompute
    answers; a result cached from one call never matches the next call's input.
    """

    def __init__(self, exercise: Exercise, small: bool, seed: int | None = None) -> None:
        self.exercise, self.small = exercise, small
        self.seed = int(seed if seed is not None else np.random.SeedSequence().entropy % 2**63)
        self._seq = np.random.SeedSequence(self.seed)

    def draw(self, n: int) -> list[tuple]:
        assert self.exercise.make_input is not None
        return [
            tuple(self.exercise.make_input(np.random.default_rng(child), self.small))
            for child in self._seq.spawn(n)
        ]

    def edges(self) -> list[tuple]:
        """The exercise's edge cases, drawn afresh like the random inputs."""
        make = self.exercise.edge_inputs
        if not callable(make):
            return []
        (child,) = self._seq.spawn(1)
        return [tuple(args) for args in make(np.random.default_rng(child), self.small)]


@dataclass(frozen=True)
class Expected:
    """The right output for one call: whole, or at ``positions`` of an elementwise array result."""

    value: Any
    positions: np.ndarray | None = None
    length: int = 0


def expect(exercise: Exercise, reference: Any, args: tuple) -> Expected:
    """Compute what ``args`` must give. With ``spot_check=k`` and array inputs of length n > k,
    only k positions are computed: both ends, and the rest drawn at random after the inputs,
    unseen by the candidate. A CPU reference cannot afford every element of every GPU call,
    but a wrong kernel cannot guess which elements will be looked at."""
    k = exercise.spot_check
    arrays = [a for a in args if isinstance(a, np.ndarray) and a.ndim >= 1]
    n = len(arrays[0]) if arrays else 0
    if not k or n <= k:
        return Expected(plain(reference(*args)))
    edge = min(SPOT_EDGE, k // 4)
    ends = np.r_[0:edge, n - edge : n]
    middle = np.random.default_rng().choice(np.arange(edge, n - edge), k - 2 * edge, replace=False)
    positions = np.sort(np.concatenate([ends, middle]))
    sliced = tuple(
        a[positions] if isinstance(a, np.ndarray) and a.ndim >= 1 and len(a) == n else a for a in args
    )
    return Expected(plain(reference(*sliced)), positions, n)


@dataclass(frozen=True)
class Case:
    """One call of a correctness check: its arguments, what it must give, and where it came from."""

    args: tuple
    expected: Expected | None  # None: a measurement, judged by check_measurements
    origin: str  # "worked example", "edge case" or "fresh random input"


def expected_answer(exercise: Exercise) -> Any:
    """The right value of an answer exercise: given, or measured now by trusted code."""
    if callable(exercise.reference):
        return plain(exercise.reference())
    return exercise.expected


def cases(exercise: Exercise, small: bool, n_random: int) -> tuple[list[Case], str]:
    """The calls a correctness check makes, and a phrase saying what they were.

    Worked examples always; edge cases and fresh random inputs when the course's
    reference is here to say what they must give (or when the outputs are measurements).
    """
    found = [Case(tuple(args), Expected(plain(value)), "worked example") for args, value in exercise.examples]
    reference = exercise.reference_fn()
    measured = reference is None and exercise.check_measurements is not None
    if (reference is not None or measured) and exercise.make_input is not None:
        inputs = Inputs(exercise, small)
        for origin, drawn in (("edge case", inputs.edges()), ("fresh random input", inputs.draw(n_random))):
            found += [Case(a, None if measured else expect(exercise, reference, a), origin) for a in drawn]
    counts = Counter(case.origin for case in found)
    phrase = ", ".join(f"{n} {origin}{'s' if n > 1 else ''}" for origin, n in counts.items())
    if reference is None and not measured and exercise.make_input is not None:
        phrase += " (grading adds edge cases and fresh random inputs)"
    return found, phrase


def verify_outputs(
    exercise: Exercise, checked: list[Case], outputs: list[Any], reports: list[Any] | None = None
) -> None:
    """Raise WrongOutput at the first wrong output, with the exercise's diagnosis of it; then,
    for the student's calls (``reports`` given, one per call, as the runner's Batch has them), at
    the first call whose resource report ``exercise.after_call`` finds a problem with."""
    for i, (case, got) in enumerate(zip(checked, outputs)):
        _verify_one(exercise, case, got, f"input {i + 1} of {len(checked)} ({case.origin})", i)
    if exercise.after_call is None or reports is None:
        return
    if len(reports) != len(checked) or any(r is None for r in reports):
        # Nothing was read from the resource: what the exercise limits cannot be verified.
        raise WrongOutput("the grader could not read what the resource saw during your calls", 0)
    for i, (case, report) in enumerate(zip(checked, reports)):
        problem = exercise.after_call(case.args, report)
        if problem:
            raise WrongOutput(f"on input {i + 1} of {len(checked)} ({case.origin}): {problem}", i)


def _verify_one(exercise: Exercise, case: Case, got: Any, where: str, i: int) -> None:
    """Raise WrongOutput when ``got`` is not what ``case`` expects."""
    exp = case.expected
    if exp is None:
        return
    whole = got
    if exp.positions is not None:
        if not isinstance(got, np.ndarray) or got.shape[:1] != (exp.length,):
            what = f"an array of shape {got.shape}" if isinstance(got, np.ndarray) else type(got).__name__
            problem = f"the result should be an array of length {exp.length}, got {what}"
            raise WrongOutput(f"wrong result on {where}: {problem}", i)
        got = got[exp.positions]
    problem = exercise.verify(exp.value, got)
    if problem:
        full = exp.value if exp.positions is None else None
        hint = exercise.diagnose(case.args, full, whole) if exercise.diagnose else None
        raise WrongOutput(f"wrong result on {where}: {problem}", i, hint or "")
