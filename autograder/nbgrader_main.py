"""``python -m nbgrader`` for the course's own runs: the same app, without an import it never uses.

When ``rfc3987_syntax`` is installed (jupyter_events asks for it), jsonschema imports it
eagerly through nbformat, and that import builds a grammar: 1.5 s of every nbgrader process
on a 2-core grader, about a tenth of grading a short lab (jsonschema issue 1428). Notebook
validation checks no IRI formats, so the module is marked absent before anything imports
nbformat: ``None`` in ``sys.modules`` makes the import fail, which jsonschema allows for.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)

if __name__ == "__main__":
    from nbgrader.apps.nbgraderapp import main

    sys.exit(main())
