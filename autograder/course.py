"""The course's nbgrader pipeline: release labs/ from solutions/, validate, autograde.

Everything runs real nbgrader as a subprocess in a scratch copy of the course (its own
gradebook), so that `make labs` never touches the instructor's gradebook and its
output is the same bytes every time.
"""

from __future__ import annotations

import copy
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBGRADER = [sys.executable, "-m", "autograder.nbgrader_main"]  # `nbgrader`, about 2 s quicker to start
_SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def reference_submission(solution_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution notebook with nbgrader's markers removed: what a perfect student submits."""
    nb = copy.deepcopy(solution_nb)
    for cell in nb.cells:
        cell.source = _SOLUTION_MARKERS.sub("", cell.source)
    return nb


def nbgrader_env(root: Path) -> dict[str, str]:
    """nbgrader shells out to `alembic`, so the venv's bin must be on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["AUTOGRADER_GRADEBOOK"] = "sqlite:///" + str(root / "gradebook.db")
    return env


def nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*NBGRADER, *args],
        cwd=root,
        env=nbgrader_env(root),
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def assignments(root: Path = ROOT) -> list[str]:
    """Every solutions/ folder that holds a notebook is an assignment."""
    return sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def scratch_course(root: Path = ROOT) -> Path:
    """A private copy of the course (config + solutions) for nbgrader to work in."""
    tmp = Path(tempfile.mkdtemp(prefix="course-"))
    shutil.copy2(root / "nbgrader_config.py", tmp / "nbgrader_config.py")
    shutil.copytree(
        root / "solutions",
        tmp / "solutions",
        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc"),
    )
    return tmp


def normalise_notebook(path: Path) -> None:
    """No outputs, no execution counts, stable JSON: regenerating gives the same bytes."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def release(root: Path = ROOT, out: Path | None = None) -> Path:
    """Generate every lab into ``out`` (default: a scratch folder); returns the labs folder."""
    course = scratch_course(root)
    for name in assignments(course):
        nbgrader(course, "generate_assignment", name, "--force")
    labs = course / "labs"
    for nb_path in labs.rglob("*.ipynb"):
        normalise_notebook(nb_path)
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(labs, out)
        shutil.rmtree(course, ignore_errors=True)
        return out
    return labs


@dataclass(frozen=True)
class Drift:
    missing: list[str]
    extra: list[str]
    changed: list[str]

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.changed)

    def summary(self) -> str:
        if self.clean:
            return "labs/ matches what `make labs` generates from solutions/"
        parts = [
            f"{k}: {', '.join(v)}"
            for k, v in (("missing", self.missing), ("extra", self.extra), ("changed", self.changed))
            if v
        ]
        return "labs/ drifted from solutions/ (run `make labs`): " + "; ".join(parts)


def _files(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def drift(root: Path = ROOT) -> Drift:
    fresh = release(root)
    try:
        want, have = _files(fresh), _files(root / "labs") if (root / "labs").exists() else set()
        changed = sorted(
            f for f in want & have if not filecmp.cmp(fresh / f, root / "labs" / f, shallow=False)
        )
        return Drift(sorted(want - have), sorted(have - want), changed)
    finally:
        shutil.rmtree(fresh.parent, ignore_errors=True)
