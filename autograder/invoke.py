"""Calling a student's function: signature checked first, errors turned into plain sentences."""

from __future__ import annotations

import inspect
import os
import re
import sysconfig
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


# Frames in these folders are Python's or a library's, never the student's line.
_LIBRARY_DIRS = tuple(
    os.path.normpath(p) + os.sep
    for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# A worker's traceback as a pool re-raises it in the parent (the text of the exception's cause).
_REMOTE_FRAME = re.compile(r'File "([^"]+)", line (\d+), in [^\n]+\n\s+([^\n]+)')


def _is_students(filename: str) -> bool:
    path = os.path.normpath(os.path.abspath(filename))
    if filename.startswith("<frozen"):
        return False
    return not (path.startswith(_LIBRARY_DIRS) or path.startswith(_PACKAGE_DIR))


def _student_line(exc: BaseException) -> str:
    """The last line of student code in the traceback; for an error raised in a pool's worker,
    the worker's line (the parent's traceback ends inside the pool's own code)."""
    cause = exc.__cause__
    if cause is not None and "Traceback" in str(cause):  # concurrent.futures and multiprocessing.pool
        for path, lineno, text in reversed(_REMOTE_FRAME.findall(str(cause))):
            if _is_students(path):
                return f" (in a worker, {os.path.basename(path)} line {lineno}: {text.strip()[:80]})"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if _is_students(frame.filename):
            return f" (line {frame.lineno}: {(frame.line or '').strip()[:80]})"
    return ""


def describe_exception(exc: BaseException, name: str) -> str:
    """One line naming the exception and the line of student code it came from."""
    return f"{name} raised {type(exc).__name__}: {exc}{_student_line(exc)}"


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


def call_reported(fn: Callable[..., Any], args: tuple, name: str, resource: Any = None) -> tuple[Any, Any]:
    """``call``, and what ``resource`` saw during it: a resource with a ``report()`` (a service
    pool) is read just before the call, which starts its window, and just after; else None."""
    report = getattr(resource, "report", None)
    if not callable(report):
        return call(fn, args, name), None
    report()
    out = call(fn, args, name)
    return out, report()


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
