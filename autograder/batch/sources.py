"""Where a class's submissions come from: an nbgrader course's ``submitted/`` folder, or a
folder or zip of notebooks as a learning-management system exports them.

An export is copied into ``submitted/STUDENT/LAB/`` with the released lab's support files
beside each notebook, so that from then on both kinds are graded the same way, by real
nbgrader. Student ids come from file names: the part before the first underscore
(Canvas and Moodle put the student's name or number there), else the whole stem, kept
to letters, digits, dots and dashes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import AutograderError

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: Path  # submitted/STUDENT/LAB/NAME.ipynb

    def digest(self) -> str:
        """What was submitted, as bytes: a changed submission is graded again."""
        return hashlib.sha256(self.notebook.read_bytes()).hexdigest()[:16]


def student_id(filename: str, lab_notebook: str) -> str:
    stem = Path(filename).stem
    stem = stem.replace(Path(lab_notebook).stem, "") if stem != Path(lab_notebook).stem else stem
    raw = stem.split("_", 1)[0] if "_" in stem.strip("_") else stem
    clean = _UNSAFE.sub("-", raw.strip("_- ")).strip(".-").lower()
    if not clean:
        raise AutograderError(f"cannot tell whose notebook {filename!r} is: name it STUDENT_anything.ipynb")
    return clean


def lab_notebook(course: Path, lab: str) -> str:
    found = sorted((course / "labs" / lab).glob("*.ipynb"))
    if not found:
        raise AutograderError(f"labs/{lab} has no notebook: run `make labs` (nbgrader generate_assignment)")
    return found[0].name


def from_course(course: Path, lab: str, students: list[str] | None = None) -> list[Submission]:
    """Every submission of ``lab`` under ``submitted/`` (or only ``students``')."""
    name = lab_notebook(course, lab)
    found = []
    for folder in sorted((course / "submitted").glob(f"*/{lab}")):
        student = folder.parent.name
        if students and student not in students:
            continue
        found.append(Submission(student, folder / name))
    return found


def import_export(export: Path, course: Path, lab: str) -> list[str]:
    """Copy an LMS export (folder or .zip of notebooks) into ``submitted/``; return the ids."""
    name = lab_notebook(course, lab)
    support = [p for p in (course / "labs" / lab).iterdir() if p.suffix != ".ipynb" and p.is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        if export.is_file() and zipfile.is_zipfile(export):
            with zipfile.ZipFile(export) as zf:
                for member in zf.infolist():
                    # Only notebooks, flattened: a crafted "../../x.ipynb" cannot escape.
                    if member.filename.endswith(".ipynb") and not member.is_dir():
                        target = Path(tmp) / Path(member.filename).name
                        target.write_bytes(zf.read(member))
            export = Path(tmp)
        if not export.is_dir():
            raise AutograderError(f"{export} is neither a folder nor a zip of notebooks")
        notebooks = sorted(p for p in export.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        if not notebooks:
            raise AutograderError(f"no .ipynb files in {export}")
        ids: dict[str, Path] = {}
        for nb in notebooks:
            sid = student_id(nb.name, name)
            if sid in ids:
                raise AutograderError(f"{nb.name} and {ids[sid].name} both look like student {sid!r}")
            ids[sid] = nb
        for sid, nb in ids.items():
            folder = course / "submitted" / sid / lab
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(nb, folder / name)
            for extra in support:
                shutil.copy2(extra, folder / extra.name)
    return sorted(ids)
