"""Turn saved grading results into what people read: a grades CSV, one feedback page per
student, a class summary page and a few terminal lines.

This module only formats ``SubmissionResult`` objects; it never grades, measures or reads
notebooks. Pages are single self-contained HTML files (inline CSS and SVG, no script, no
external fonts) so they open offline, and every piece of text that a student's code could
have influenced is escaped, because an error message can carry ``<script>``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from autograder.batch.results import CheckResult, SubmissionResult

BASE_COLUMNS = ["student", "lab", "score", "max_score", "outcome", "reason"]
COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "skipped": "#9e9e9e"}
# Each feedback bar is scaled to its own requirement: the marker sits at the same x on
# every row, and a 60x result cannot squash a 4x one (it is clipped, its label is exact).
AXIS_TIMES_REQUIRED = 2.5
CLEAN_RUN = (
    "Grading ran everything in a clean, separate process on the grader's machine: the "
    "numbers below were measured there, not taken from your notebook's own output."
)
# Pages forbid scripts outright, so they stay safe even if some escaping were ever missed.
HEAD = (
    '<meta charset="utf-8">\n'
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
)
CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.pass { color: #2e7d32; } .fail { color: #c62828; } .skipped { color: #757575; }
.fault { background: #fdecea; border: 2px solid #c62828; padding: 0.8em 1em; margin: 1em 0; }
.hint { color: #555; font-style: italic; }
.legend span { display: inline-block; margin-right: 1.5em; }
svg text { font-family: system-ui, sans-serif; font-size: 12px; }
"""


# ---------------------------------------------------------------- names and numbers


def file_stem(student: str) -> str:
    """A file name for ``student`` that cannot leave its folder.

    Ids that are already plain (letters, digits, ``._-``, no leading dot) are kept as they
    are; anything else is sanitised and tagged with a short hash of the real id, so two
    different unsafe ids never share a page and no sanitised id can pose as a plain one.
    """
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", student).lstrip(".")[:80]
    if plain and plain == student:
        return plain
    tag = hashlib.sha256(student.encode("utf-8")).hexdigest()[:10]
    return f"{plain or 'student'}-{tag}"


def _num(x: float) -> str:
    """Points as people write them: 2, 1.5, 0.25 (never 1.5000000001)."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if math.isfinite(x) else str(x)


def _ratio(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "\u221ex"
    return f"{x:.1f}x" if abs(x) >= 1 else f"{x:.2f}x"


def _label(check: CheckResult) -> str:
    return f"{check.exercise} ({check.part})"


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas: a reason starting with '=' must stay text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _ordered(results: Iterable[SubmissionResult]) -> list[SubmissionResult]:
    # Sorting first makes every derived order depend on the class, not on the input order.
    return sorted(results, key=lambda r: (r.student, r.lab))


# ---------------------------------------------------------------- CSV


def _check_columns(results: list[SubmissionResult]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for result in results:
        for check in result.checks:
            seen.setdefault((check.exercise, check.part), None)
    return list(seen)


def csv_text(results: list[SubmissionResult]) -> str:
    """The grades table as text. ``seconds`` is left out so that grading the same class
    twice gives the same bytes."""
    ordered = _ordered(results)
    columns = _check_columns(ordered)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BASE_COLUMNS + [f"{e} ({p})" for e, p in columns])
    for r in ordered:
        points = {(c.exercise, c.part): _num(c.points) for c in r.checks}
        base = [_cell(r.student), _cell(r.lab), _num(r.score), _num(r.max_score), r.outcome, _cell(r.reason)]
        writer.writerow(base + [points.get(key, "") for key in columns])
    return out.getvalue()


def write_csv(results: list[SubmissionResult], path: Path) -> Path:
    _write(path, csv_text(results))
    return path


# ---------------------------------------------------------------- SVG pieces


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _charted(checks: Iterable[CheckResult]) -> list[CheckResult]:
    return [c for c in checks if c.measured is not None and c.required is not None]


def _bar_fraction(measured: float, required: float) -> float:
    """Where ``measured`` falls on a row whose axis ends at 2.5x ``required``, in [0, 1]."""
    axis = required * AXIS_TIMES_REQUIRED if 0 < required < math.inf else max(measured, 1.0)
    frac = measured / axis
    return 0.0 if math.isnan(frac) else min(max(frac, 0.0), 1.0)  # nan/inf must not reach SVG


def ratio_chart(checks: Iterable[CheckResult]) -> str:
    """Horizontal bars of measured against required ratio, one row per check that has
    both; empty string when none has."""
    rows = _charted(checks)
    if not rows:
        return ""
    left, bar_w, row_h = 210, 330, 26
    width, height = left + bar_w + 120, row_h * len(rows) + 10
    marker_x = left + bar_w / AXIS_TIMES_REQUIRED
    body = []
    for i, c in enumerate(rows):
        y = 5 + i * row_h
        assert c.measured is not None and c.required is not None  # _charted kept only these
        frac = _bar_fraction(c.measured, c.required)
        clipped = frac >= 1.0 and c.measured > c.required * AXIS_TIMES_REQUIRED
        colour = COLOURS.get(c.status, COLOURS["skipped"])
        label = _label(c)
        shown = label if len(label) <= 32 else label[:31] + "\u2026"
        value = f"{_ratio(c.measured)} (needs {_ratio(c.required)}, {c.status})"
        body += [
            f'<text x="{left - 6}" y="{y + 16}" text-anchor="end"><title>{escape(label)}</title>'
            f"{escape(shown)}</text>",
            f'<rect class="bar {escape(c.status)}" x="{left}" y="{y + 4}" width="{frac * bar_w:.1f}" '
            f'height="{row_h - 10}" fill="{colour}"><title>{escape(label)}: {escape(value)}</title></rect>',
            f'<line class="required" x1="{marker_x:.1f}" x2="{marker_x:.1f}" y1="{y}" y2="{y + row_h - 2}" '
            'stroke="#000" stroke-width="2"/>',
            f'<text x="{left + bar_w + 6}" y="{y + 16}">{"&gt; " if clipped else ""}'
            f"{escape(_ratio(c.measured))} / {escape(_ratio(c.required))}</text>",
        ]
    return _svg(width, height, body, "measured against required ratio per check")


def _log_x(value: float, lo: float, hi: float, x0: float, span: float) -> float:
    return x0 + span * (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))


def ratio_strip(measured: list[tuple[float, str]], required: list[float]) -> str:
    """One dot per student on a log axis (ratios are multiplicative, and one 60x result
    must not squash the rest), with the required ratio(s) marked."""
    values = [v for v, _ in measured if v > 0 and math.isfinite(v)]
    bars = [r for r in required if r > 0 and math.isfinite(r)]
    if not values:
        return ""
    lo, hi = min(values + bars) / 1.25, max(values + bars) * 1.25
    x0, span, width, height = 40, 320, 400, 46
    body = [f'<line x1="{x0}" x2="{x0 + span}" y1="22" y2="22" stroke="#999"/>']
    for r in sorted(set(bars)):
        x = _log_x(r, lo, hi, x0, span)
        line = f'x1="{x:.1f}" x2="{x:.1f}" y1="6" y2="30" stroke="#000" stroke-width="2"'
        body.append(f'<line class="required" {line}/>')
        body.append(f'<text x="{x:.1f}" y="43" text-anchor="middle">bar {escape(_ratio(r))}</text>')
    for v, status in measured:
        if v > 0 and math.isfinite(v):
            x = _log_x(v, lo, hi, x0, span)
            colour = COLOURS.get(status, COLOURS["skipped"])
            dot = f'cx="{x:.1f}" cy="22" r="4" fill="{colour}" fill-opacity="0.7"'
            body.append(f'<circle class="dot" {dot}/>')
    body.append(f'<text x="{x0 - 4}" y="26" text-anchor="end">{escape(_ratio(lo))}</text>')
    body.append(f'<text x="{x0 + span + 4}" y="26">{escape(_ratio(hi))}</text>')
    return _svg(width, height, body, "measured ratios across the class, log scale")


# ---------------------------------------------------------------- pages


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{HEAD}<title>{escape(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Cells must already be escaped HTML: callers escape, so they may add markup."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>"


def _legend() -> str:
    items = "".join(f'<span><span class="{k}">\u25a0</span> {k}</span>' for k in ("pass", "fail", "skipped"))
    return f'<p class="legend">{items}<span>| black line: required ratio</span></p>'


def _check_row(c: CheckResult) -> list[str]:
    hint = f'<div class="hint">Hint: {escape(c.hint)}</div>' if c.status == "fail" and c.hint else ""
    return [
        escape(c.exercise),
        escape(c.part),
        f'<span class="{escape(c.status)}">{escape(c.status)}</span>',
        f"{_num(c.points)}/{_num(c.max_points)}",
        escape(c.message) + hint,
    ]


def feedback_html(result: SubmissionResult) -> str:
    """One student's feedback page."""
    title = f"{result.lab}: feedback for {result.student}"
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p><strong>Score: {_num(result.score)} / {_num(result.max_score)}</strong> "
        f"(graded in {result.seconds:.0f} s)</p>",
    ]
    if result.outcome == "fault":
        parts.append(
            '<div class="fault"><strong>The notebook could not be graded as a whole.</strong> '
            f"{escape(result.reason)}<br>Checks graded before this kept their points.</div>"
        )
    parts.append(f"<p>{escape(CLEAN_RUN)}</p>")
    header = ["Exercise", "Part", "Status", "Points", "Message"]
    parts.append(_table(header, [_check_row(c) for c in result.checks]))
    chart = ratio_chart(result.checks)
    if chart:
        parts += [
            "<h2>Measured against required</h2>",
            f"<p>Each row is scaled to its own requirement (the black line); a bar reaching past "
            f"{AXIS_TIMES_REQUIRED:g}x the requirement is clipped and marked &gt;, its number is exact.</p>",
            _legend(),
            chart,
        ]
    return _page(title, "\n".join(parts))


@dataclass(frozen=True)
class RatioStats:
    """One speed (or memory) check across the class."""

    exercise: str
    part: str
    count: int  # students who have this check at all
    passed: int
    measured: list[tuple[float, str]]  # (ratio, status) where a ratio was measured
    required: list[float]

    @property
    def values(self) -> list[float]:
        return sorted(v for v, _ in self.measured)

    def median(self) -> float | None:
        return statistics.median(self.values) if self.measured else None

    def bar(self) -> str:
        """The required ratio, or its range if it was not the same for everyone."""
        bars = sorted(set(self.required))
        if not bars:
            return "n/a"
        return _ratio(bars[0]) if len(bars) == 1 else f"{_ratio(bars[0])}-{_ratio(bars[-1])}"


def ratio_stats(results: list[SubmissionResult]) -> list[RatioStats]:
    """Per (exercise, part) that measured a ratio for anyone: who passed, what was measured."""
    ordered = _ordered(results)
    keys = [
        k
        for k in _check_columns(ordered)
        if any(c.measured is not None for r in ordered for c in r.checks if (c.exercise, c.part) == k)
    ]
    stats = []
    for exercise, part in keys:
        checks = [c for r in ordered for c in r.checks if (c.exercise, c.part) == (exercise, part)]
        stats.append(
            RatioStats(
                exercise,
                part,
                len(checks),
                sum(c.status == "pass" for c in checks),
                [(c.measured, c.status) for c in checks if c.measured is not None],
                [c.required for c in checks if c.required is not None],
            )
        )
    return stats


def score_stats(results: list[SubmissionResult]) -> dict[str, float]:
    """mean, median, min and max score; empty for an empty class."""
    scores = [r.score for r in results]
    if not scores:
        return {}
    return {
        "mean": statistics.fmean(scores),
        "median": statistics.median(scores),
        "min": min(scores),
        "max": max(scores),
    }


def _score_row(r: SubmissionResult) -> list[str]:
    link = f'<a href="feedback/{escape(file_stem(r.student))}.html">{escape(r.student)}</a>'
    outcome = '<span class="fail">fault</span>' if r.outcome == "fault" else "graded"
    return [link, f"{_num(r.score)}/{_num(r.max_score)}", outcome, escape(r.reason)]


def _ratio_row(s: RatioStats) -> list[str]:
    vals = s.values
    spread = [_ratio(vals[0]), _ratio(s.median()), _ratio(vals[-1])] if vals else ["n/a"] * 3
    return [
        escape(f"{s.exercise} ({s.part})"),
        str(s.count),
        str(s.passed),
        escape(s.bar()),
        *map(escape, spread),
        ratio_strip(s.measured, s.required),
    ]


def summary_html(results: list[SubmissionResult]) -> str:
    """The class summary page."""
    ordered = _ordered(results)
    labs = ", ".join(sorted({r.lab for r in ordered})) or "no lab"
    title = f"{labs}: class summary"
    stats = score_stats(ordered)
    faults = sum(r.outcome == "fault" for r in ordered)
    numbers = ", ".join(f"{k} {_num(v)}" for k, v in stats.items()) or "no scores"
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{len(ordered)} submissions; {faults} faults. Score: {numbers}.</p>",
        f"<p>{escape(CLEAN_RUN)}</p>",
        _table(["Student", "Score", "Outcome", "Reason"], [_score_row(r) for r in ordered]),
    ]
    ratio_rows = [_ratio_row(s) for s in ratio_stats(ordered)]
    if ratio_rows:
        header = ["Check", "Count", "Passed", "Required", "Min", "Median", "Max", "Measured (log scale)"]
        parts += ["<h2>Measured ratios</h2>", _legend(), _table(header, ratio_rows)]
    return _page(title, "\n".join(parts))


def summary_text(results: list[SubmissionResult]) -> str:
    """A few lines for the terminal after a grading run."""
    ordered = _ordered(results)
    stats = score_stats(ordered)
    faults = [r for r in ordered if r.outcome == "fault"]
    mean = _num(stats["mean"]) if stats else "n/a"
    lines = [
        f"{len(ordered)} submissions, {len(ordered) - len(faults)} graded, "
        f"{len(faults)} faults; mean score {mean}"
    ]
    lines += [f"  fault {r.student}: {r.reason}" for r in faults]
    for s in ratio_stats(ordered):
        line = f"{s.exercise} ({s.part}): median {_ratio(s.median())}, "
        line += f"{s.passed}/{s.count} passed (bar {s.bar()})"
        missing = s.count - len(s.measured)
        lines.append(line + (f", {missing} not measured" if missing else ""))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text.encode("utf-8"))  # bytes: no platform newline translation
    tmp.replace(path)


def _feedback_paths(results: list[SubmissionResult], folder: Path) -> dict[str, Path]:
    """student id -> page path, refusing two ids that would share a file (case-insensitive
    file systems included) and any path that would land outside ``folder``."""
    pages: dict[str, Path] = {}
    owners: dict[str, str] = {}
    base = (folder / "feedback").resolve()
    for r in results:
        stem = file_stem(r.student)
        other = owners.setdefault(stem.casefold(), r.student)
        if other != r.student:
            raise ValueError(f"students {other!r} and {r.student!r} would share feedback/{stem}.html")
        path = base / f"{stem}.html"
        if path.resolve().parent != base:
            raise ValueError(f"student id {r.student!r} would write outside {base}")
        pages[r.student] = path
    return pages


def write_reports(results: list[SubmissionResult], folder: Path) -> dict[str, Path]:
    """grades.csv, summary.html and feedback/<student>.html under ``folder``; returns the
    paths by name ("csv", "summary", and "feedback/<student id>" per student)."""
    ordered = _ordered(results)
    pages = _feedback_paths(ordered, folder)  # check every name before writing anything
    written = {"csv": write_csv(ordered, folder / "grades.csv")}
    summary = folder / "summary.html"
    _write(summary, summary_html(ordered))
    written["summary"] = summary
    for r in ordered:
        _write(pages[r.student], feedback_html(r))
        written[f"feedback/{r.student}"] = pages[r.student]
    return written
