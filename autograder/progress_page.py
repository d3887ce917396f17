"""The student's progress page: every check of a lab, in one table and one chart.

``progress()`` in a lab's last cell reads the lab notebook's test cells for their
``check(...)`` calls, finds each checked name in the kernel, and shows, per part, its
status, the measured and required ratio, and the reason for a skip or a failure. A part
already checked in this kernel, on the same object, is shown as it was measured; any
other is checked now. Nothing here counts for a grade: grading measures every part
again in a clean process, outside the student's kernel.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AutograderError
from .selfcheck import _self_check, find_lab, last_checks
from .supervisor import find_check_calls
from .verdict import Verdict

GRADING_NOTE = (
    "These are self-checks, run in your kernel. Grading runs every check again, in a clean "
    "process on the grader, with fresh inputs: a speedup measured here is a guide, not your grade."
)


@dataclass(frozen=True)
class Row:
    exercise: str
    part: str
    status: str  # "pass", "fail", "skipped" or "not done"
    measured: float | None
    required: float | None
    reason: str

    @classmethod
    def of(cls, v: Verdict) -> Row:
        reason = "" if v.status == "pass" else v.message
        return cls(v.exercise, v.part, v.status, v.measured, v.required, reason)


@dataclass(frozen=True, repr=False)
class Progress:
    rows: tuple[Row, ...]

    def __repr__(self) -> str:  # what a plain-text front end (or nbconvert) shows
        return f"{self.summary()}\n{self.table()}\n{GRADING_NOTE}"

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    def summary(self) -> str:
        text = f"{self.count('pass')} of {len(self.rows)} parts pass"
        others = [f"{self.count(s)} {s}" for s in ("fail", "skipped", "not done") if self.count(s)]
        return text + (f"; {', '.join(others)}" if others else "")

    def table(self) -> str:
        lines = [f"{'exercise':<22} {'part':<8} {'status':<9} {'measured':>9} {'needed':>7}  reason"]
        for r in self.rows:
            got = f"{r.measured:.2f}x" if r.measured is not None else "-"
            need = f"{r.required:g}x" if r.required else "-"
            lines.append(f"{r.exercise:<22} {r.part:<8} {r.status:<9} {got:>9} {need:>7}  {r.reason[:90]}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(x)}</td>"
                for x in (
                    r.exercise,
                    r.part,
                    r.status,
                    f"{r.measured:.2f}x" if r.measured is not None else "",
                    f"{r.required:g}x" if r.required else "",
                    r.reason,
                )
            )
            + "</tr>"
            for r in self.rows
        )
        head = "".join(
            f"<th>{h}</th>" for h in ("exercise", "part", "status", "measured", "needed", "reason")
        )
        return (
            f"<p><b>{html.escape(self.summary())}</b></p><table><tr>{head}</tr>{cells}</table>"
            f"<p><i>{html.escape(GRADING_NOTE)}</i></p>"
        )

    def plot(self) -> Any:
        """A bar chart of measured against required ratios, for the parts that have both."""
        import matplotlib.pyplot as plt

        rows = [r for r in self.rows if r.measured is not None and r.required]
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(rows))))
        if not rows:
            ax.text(0.5, 0.5, "no speed part measured yet", ha="center", va="center")
            ax.set_axis_off()
            return fig
        labels = [f"{r.exercise} ({r.part})" for r in rows]
        colours = ["tab:green" if r.status == "pass" else "tab:red" for r in rows]
        ax.barh(labels, [r.measured for r in rows], color=colours, label="measured")
        ax.scatter(
            [r.required for r in rows], labels, marker="|", s=400, color="black", label="needed", zorder=3
        )
        ax.set_xscale("log")
        ax.set_xlabel("ratio over the course's baseline (x, log scale)")
        ax.set_title("Your measured speedups against the bars (self-check, not the grade)")
        ax.invert_yaxis()
        ax.legend(loc="lower right")
        fig.tight_layout()
        return fig


def _notebook(lab_dir: Path, notebook: str | Path | None) -> Path:
    if notebook:
        return Path(notebook)
    # Jupyter tells a kernel which notebook it serves; otherwise the lab folder has one.
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb") and Path(session).is_file():
        return Path(session)
    found = sorted(lab_dir.glob("*-lab.ipynb")) or sorted(lab_dir.glob("*.ipynb"))
    if not found:
        raise AutograderError(f"no lab notebook in {lab_dir}: pass progress(notebook='...')")
    return found[0]


def _namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    import __main__

    return vars(__main__)


def collect(
    lab: str | Path | None = None, notebook: str | Path | None = None, namespace: dict | None = None
) -> Progress:
    """Every check call's verdicts: reused when already measured on the same object, else run now."""
    import nbformat

    the_lab = find_lab(lab)
    nb = nbformat.read(_notebook(the_lab.directory, notebook), as_version=4)
    ns = _namespace() if namespace is None else namespace
    rows: list[Row] = []
    for call in find_check_calls(nb):
        if call.target not in ns:
            rows.append(
                Row(
                    call.exercise,
                    call.part,
                    "not done",
                    None,
                    None,
                    f"run the cell that defines {call.target}",
                )
            )
            continue
        target = ns[call.target]
        known = last_checks.get((call.exercise, call.part))
        if known is not None and known[0] is target:
            verdicts = known[1]
        else:
            try:
                ex = the_lab.get(call.exercise)
                verdicts = list(_self_check(ex, the_lab, target, call.part))
            except AutograderError as exc:
                verdicts = [Verdict(call.exercise, call.part, "fail", str(exc))]
            last_checks[(call.exercise, call.part)] = (target, verdicts)
        rows.extend(Row.of(v) for v in verdicts)
    return Progress(tuple(rows))


def progress(lab: str | Path | None = None, notebook: str | Path | None = None) -> None:
    """Show the lab's progress page: a table, a chart, and what grading does differently."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print("[SKIPPED] progress: grading measures every part itself, outside this kernel.")
        return
    page = collect(lab, notebook)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        import matplotlib.pyplot as plt

        display(page)  # the HTML table and the note
        fig = page.plot()
        display(fig)
        plt.close(fig)
        return
    print(page.summary())
    print(page.table())
    print(GRADING_NOTE)
