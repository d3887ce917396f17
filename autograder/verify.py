"""Verifiers: compare a student's result with the course's reference, value by value.

Each verifier is called as ``verify(expected, got)`` on *plain* data (see wire.plain)
and returns None when the result is right, or one sentence saying what is wrong.
Comparisons are structural: types and shapes are checked before values, so a
result cannot pass by overriding ``__eq__``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

Verifier = Callable[[Any, Any], "str | None"]


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple, set, dict)):
        return f"{type(value).__name__} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _compare(expected: Any, got: Any, rtol: float, atol: float, path: str) -> str | None:
    where = path or "the result"
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            try:
                got = np.asarray(got, dtype=expected.dtype)
            except (TypeError, ValueError):
                return f"{where} should be an array like {_describe(expected)}, got {_describe(got)}"
        if got.shape != expected.shape:
            return f"{where} has shape {got.shape}, expected {expected.shape}"
        if expected.dtype.kind in "fc" or got.dtype.kind in "fc":
            if got.dtype.kind not in "biufc":
                return f"{where} has dtype {got.dtype}, expected numbers"
            bad = ~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        else:
            bad = got != expected
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            return (
                f"{where} differs at {int(np.count_nonzero(bad))} of {expected.size} positions, "
                f"first at index {idx}: got {got[idx].item()!r}, expected {expected[idx].item()!r}"
            )
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, (str, bytes)):
        if type(got) is not type(expected) or got != expected:
            return f"{where} is {_describe(got)}, expected {_describe(expected)}"
        return None
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"{where} is {_describe(got)}, expected the number {_describe(expected)}"
        if isinstance(expected, int) and isinstance(got, int):
            return None if got == expected else f"{where} is {got}, expected {expected}"
        if math.isnan(expected) and math.isnan(got):
            return None
        if not math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return f"{where} is {got!r}, expected {expected!r} (rtol={rtol:g}, atol={atol:g})"
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f"{where} is {_describe(got)}, expected a {type(expected).__name__}"
        if len(got) != len(expected):
            return f"{where} has {len(got)} items, expected {len(expected)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = _compare(e, g, rtol, atol, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, set):
        if not isinstance(got, set):
            return f"{where} is {_describe(got)}, expected a set"
        missing, extra = expected - got, got - expected
        if missing or extra:
            return f"{where}: {len(missing)} expected items missing, {len(extra)} unexpected items"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{where} is {_describe(got)}, expected a dict"
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            sample = (missing or extra)[0]
            return (
                f"{where} has {len(missing)} missing and {len(extra)} unexpected keys "
                f"(for example {sample!r})"
            )
        for key, value in expected.items():
            problem = _compare(value, got[key], rtol, atol, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    return f"cannot compare {type(expected).__name__} values"


def exact() -> Verifier:
    """Same structure, same values; floats must match exactly."""
    return lambda expected, got: _compare(expected, got, 0.0, 0.0, "")


def close(rtol: float = 1e-7, atol: float = 0.0) -> Verifier:
    """Same structure; numbers within rtol/atol (NumPy's isclose rule)."""
    return lambda expected, got: _compare(expected, got, rtol, atol, "")


def one_of(*choices: Any) -> Verifier:
    """For answers that several spellings satisfy: got must equal one of the choices."""

    def verify(expected: Any, got: Any) -> str | None:
        for choice in (expected, *choices):
            if _compare(choice, got, 0.0, 0.0, "") is None:
                return None
        return f"{_describe(got)} is not the right answer"

    return verify


def salted_digest(salt: str, text: str) -> str:
    """What a released checks.py stores instead of a literal answer."""
    return hashlib.sha256(f"{salt}:{text}".encode()).hexdigest()


def function_name(salt: str, digest: str, what: str) -> Verifier:
    """A "which function ...?" answer, checked without the answer in the released file:
    the name ('name', 'module.name' or 'name()') must hash to ``digest`` with ``salt``.
    ``what`` describes the function asked for, for the failure sentence."""

    def verify(expected: Any, got: Any) -> str | None:
        if not isinstance(got, str):
            return f"the answer should be a function's name as a string, got {_describe(got)}"
        name = got.strip().removesuffix("()").split(".")[-1]
        if salted_digest(salt, name) == digest:
            return None
        return f"{got!r} is not {what}"

    return verify


def measured_fraction(abs_tol: float, what: str) -> Verifier:
    """A fraction the student measured (``expected`` is measured again by the checker):
    right within ``abs_tol``. The sentence never shows the checker's value, so the
    answer still has to be measured."""

    def verify(expected: Any, got: Any) -> str | None:
        if isinstance(got, bool) or not isinstance(got, (int, float)) or math.isnan(got):
            return f"the answer should be a number between 0 and 1 ({what}), got {_describe(got)}"
        if 1 < got <= 100:
            return f"{got:g} looks like a percentage; give {what} as a fraction between 0 and 1"
        if not 0 <= got <= 1:
            return f"{got:g} is not between 0 and 1; {what} is a fraction of the run time"
        if abs(got - expected) <= abs_tol:
            return None
        return f"{got:.3f} is more than {abs_tol:g} away from {what} as this check measured it"

    return verify
