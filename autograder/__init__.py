"""Scale Up & Out autograder: hardware detection, honest measurement, verdicts, grading.

Notebook API: ``from autograder import check``; ``check("exercise-name", my_function)``.
Exercise specs: ``from autograder import Exercise, verify`` in a lab's checks.py.
"""

from . import verify
from .progress_page import progress
from .selfcheck import check
from .spec import Exercise
from .verdict import Verdict

__all__ = ["Exercise", "Verdict", "check", "progress", "verify"]
