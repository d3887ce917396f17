"""Errors a student or instructor can read: each says what went wrong and what to do."""


class AutograderError(Exception):
    """Base class: the message alone must be enough to act on."""


class UnknownExercise(AutograderError):
    """The exercise name is not declared in the lab's checks.py."""


class BadSubmission(AutograderError):
    """The student's function or value cannot be graded as submitted."""


class BackendMissing(AutograderError, RuntimeError):
    """A backend (GPU, MPI, Java, a cluster) is not available here."""


class WrongOutput(BadSubmission):
    """A result differs from the course's reference: which call, and a hint naming the likely
    mistake when the exercise can diagnose it."""

    def __init__(self, message: str, index: int, hint: str = "") -> None:
        super().__init__(message)
        self.index, self.hint = index, hint


class WireError(BadSubmission):
    """A value cannot cross the data-only channel between processes."""


class GradingFault(AutograderError):
    """The grader could not measure fairly (the course's baseline was slowed or gave a wrong
    answer): not the student's fault; the check is graded again on the next run."""


class CellCrashed(BadSubmission):
    """A notebook cell ended or stalled the worker that ran the student's cells: ``cell``
    is its 1-based index among them, so the worker can be started again without it."""

    def __init__(self, message: str, cell: int) -> None:
        super().__init__(message)
        self.cell = cell
