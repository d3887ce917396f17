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

# The longest cell of a lab (a speed check measured five times, re-measured when
# borderline) takes about a minute on 2 cores; 10 minutes means a stuck cell, not a slow one.
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
    Execute,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from autograder.nbgrader_plugin import SupervisedChecks  # noqa: E402

c.Autograde.autograde_preprocessors = [
    Execute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SupervisedChecks,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
