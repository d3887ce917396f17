"""nbgrader configuration for Scale Up & Out. Paths are relative to this file's folder."""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.course_id = "scale-up-out"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
# Private reference solutions live beside checks.py and are never released.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "_reference.py"]
c.CourseDirectory.db_url = os.environ.get(
    "AUTOGRADER_GRADEBOOK", "sqlite:///" + os.path.join(here, "gradebook.db")
)

# A stuck notebook is stopped by its own budget, derived from its checks (ConfinedExecute,
# autograder/supervisor.py:kernel_budget_s), well before this per-cell ceiling.
c.Execute.timeout = 600

# Released labs are stripped of outputs so that `make labs` is byte-for-byte repeatable.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Grading: after the notebook has run, the supervisor re-runs the student's cells in
# a separate process, times them from outside, and its verdicts replace the outputs
# of every check() cell before nbgrader scores them.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from autograder.nbgrader_plugin import ConfinedExecute, SupervisedChecks  # noqa: E402

# Student code never runs as the grader: the kernel runs confined (see autograder/sandbox/),
# within a time budget derived from the notebook's checks.
c.Autograde.autograde_preprocessors = [
    ConfinedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SupervisedChecks,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
