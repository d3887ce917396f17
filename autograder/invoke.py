"""Calling a student's function: signature checked first, errors turned into plain sentences."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from typing import Any

from .errors import BadSubmission


def check_signature(fn: Any, args: tuple, name: str) -> None:
    """Raise BadSubmission naming the expected call when ``fn(*args)`` cannot bind."""
    if not callable(fn):
        raise BadSubmission(f"{name} should be a function, but it is a {type(fn).__name__}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins and compiled functions: let the call itself decide
    try:
        sig.bind(*args)
    except TypeError as exc:
        kinds = ", ".join(type(a).__name__ for a in args)
        raise BadSubmission(
            f"{name}{sig} cannot be called the way the exercise calls it, with "
            f"{len(args)} argument(s) ({kinds}): {exc}"
        ) from None


def describe_exception(exc: BaseException, name: str) -> str:
    """One line naming the exception and the line of student code it came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "autograder" not in frame.filename.replace("\\", "/").split("/")[-2:][0]:
            where = f" (line {frame.lineno}: {(frame.line or '').strip()[:80]})"
            break
    return f"{name} raised {type(exc).__name__}: {exc}{where}"


def answer_value(obj: Any, name: str) -> Any:
    """An answer is a value and is never called: a function given where a value was asked
    for (``HOTSPOT = count_visitors``) gets a sentence, not a call."""
    if callable(obj):
        what = getattr(obj, "__name__", type(obj).__name__)
        raise BadSubmission(
            f"{name} is the function {what}, but this exercise asks for a value, not a function "
            f'(for a function\'s name, write the name as a string: {name} = "...")'
        )
    return obj


def call(fn: Callable[..., Any], args: tuple, name: str) -> Any:
    check_signature(fn, args, name)
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise BadSubmission(f"{name} called sys.exit({exc.code!r}); return a value instead") from None
    except BadSubmission:
        raise
    except Exception as exc:  # noqa: BLE001 - any error in student code is reported, not raised
        raise BadSubmission(describe_exception(exc, name)) from None
