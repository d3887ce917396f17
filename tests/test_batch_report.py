"""The grading reports: CSV content and byte-determinism, escaped and safe HTML, the ratio
chart, the class statistics, and student ids that cannot write outside the report folder."""

import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from autograder.batch.report import (
    csv_text,
    feedback_html,
    file_stem,
    ratio_chart,
    summary_html,
    summary_text,
    write_csv,
    write_reports,
)
from autograder.batch.results import CheckResult, SubmissionResult

EVIL = "<script>alert('pwned')</script>"


def speed(ex: str, measured: float | None, required: float = 4.0, **kw) -> CheckResult:
    status = kw.pop("status", "pass" if measured is not None and measured >= required else "fail")
    points = kw.pop("points", 2.0 if status == "pass" else 0.0)
    message = kw.pop("message", "timed")
    return CheckResult(ex, "speed", status, message, points, 2.0, measured, required, **kw)


def correct(ex: str, ok: bool = True, **kw) -> CheckResult:
    return CheckResult(
        ex, "correct", "pass" if ok else "fail", "ok" if ok else "wrong", 1.0 if ok else 0.0, 1.0, **kw
    )


def klass() -> list[SubmissionResult]:
    """A hand-made class of four, given out of order on purpose."""
    return [
        SubmissionResult(
            "carol", "lab01", 3, 6, seconds=41.7, checks=[correct("ex1"), speed("ex1", 4.5), correct("ex2")]
        ),
        SubmissionResult(
            "alice", "lab01", 6, 6, seconds=12.2, checks=[correct("ex1"), speed("ex1", 60.0), correct("ex2")]
        ),
        SubmissionResult(
            "dave", "lab01", 1, 6, "fault", "notebook ran past its 600 s budget", 600.0, [correct("ex1")]
        ),
        SubmissionResult(
            "bob",
            "lab01",
            2,
            6,
            seconds=30.0,
            checks=[correct("ex1"), speed("ex1", 1.5, hint="vectorise the loop"), correct("ex2", ok=False)],
        ),
    ]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------- CSV


def test_csv_has_one_row_per_student_sorted_with_points_per_check():
    table = rows(csv_text(klass()))
    assert [r["student"] for r in table] == ["alice", "bob", "carol", "dave"]
    header = list(table[0])
    assert header == [
        "student",
        "lab",
        "score",
        "max_score",
        "outcome",
        "reason",
        "ex1 (correct)",
        "ex1 (speed)",
        "ex2 (correct)",
    ]
    assert "seconds" not in header  # it changes between runs; the HTML keeps it
    bob, dave = table[1], table[3]
    assert (bob["score"], bob["ex1 (speed)"], bob["ex2 (correct)"]) == ("2", "0", "0")
    assert table[0]["ex1 (speed)"] == "2"
    assert (dave["outcome"], dave["reason"]) == ("fault", "notebook ran past its 600 s budget")
    assert dave["ex1 (speed)"] == "" and dave["ex2 (correct)"] == ""  # absent, not zero


def test_csv_bytes_do_not_depend_on_input_order_or_timing(tmp_path):
    first = write_csv(klass(), tmp_path / "a.csv").read_bytes()
    rerun = [replace(r, seconds=r.seconds + 3.3) for r in reversed(klass())]
    assert write_csv(rerun, tmp_path / "b.csv").read_bytes() == first
    assert b"\r" not in first


def test_csv_keeps_a_formula_like_reason_as_text():
    bad = SubmissionResult("eve", "lab01", 0, 6, "fault", '=HYPERLINK("http://x")')
    assert rows(csv_text([bad]))[0]["reason"].startswith("'=")


# ---------------------------------------------------------------- feedback page


def test_feedback_escapes_everything_the_student_controls():
    check = speed("ex1", 1.0, message=EVIL, hint=EVIL)
    student = SubmissionResult("<b>mallory</b>", "lab01", 0, 2, "fault", EVIL, checks=[check])
    page = feedback_html(student)
    assert "<script" not in page.lower()
    assert "<b>mallory" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;mallory&lt;/b&gt;" in page
    assert "script-src" not in page and "default-src 'none'" in page  # scripts forbidden anyway


def test_feedback_shows_fault_banner_with_reason_only_on_faults():
    dave = next(r for r in klass() if r.student == "dave")
    page = feedback_html(dave)
    assert 'class="fault"' in page and "notebook ran past its 600 s budget" in page
    alice = next(r for r in klass() if r.student == "alice")
    assert 'class="fault"' not in feedback_html(alice)


def test_feedback_page_contents():
    bob = next(r for r in klass() if r.student == "bob")
    page = feedback_html(bob)
    assert "lab01" in page and "bob" in page and "Score: 2 / 6" in page
    assert "clean, separate process" in page and "grader&#x27;s machine" in page
    assert "vectorise the loop" in page  # hint shown for the failed check
    assert "1.5x" in page and "4.0x" in page
    # self-contained: nothing to fetch, no script
    assert not re.search(r"<link|<script|\bsrc=|url\(|@import", page)
    assert set(re.findall(r"https?://[^\"']*", page)) == {"http://www.w3.org/2000/svg"}


def test_hint_is_shown_only_for_failures():
    check = speed("ex1", 9.0, hint="you passed; no hint needed")
    page = feedback_html(SubmissionResult("zoe", "lab01", 2, 2, checks=[check]))
    assert "no hint needed" not in page


def test_chart_has_one_bar_per_check_with_both_ratios():
    checks = [
        correct("ex1"),  # no ratios
        speed("ex1", 60.0),  # clipped, but still one bar
        speed("ex2", 1.2),  # fail
        CheckResult("ex3", "memory", "pass", "ok", 1, 1, measured=3.0, required=2.0),
        CheckResult("ex4", "speed", "skipped", "no GPU", 0, 2, measured=None, required=4.0),
    ]
    chart = ratio_chart(checks)
    bars = re.findall(r'<rect class="bar (\w+)"[^>]*width="([\d.]+)"', chart)
    assert [status for status, _ in bars] == ["pass", "fail", "pass"]
    assert chart.count('class="required"') == 3
    assert "ex1 (speed)" in chart and "ex3 (memory)" in chart and "ex4" not in chart
    widths = [float(w) for _, w in bars]
    assert widths[0] == max(widths) and widths[1] > 0  # 60x clipped to the row, 1.2x still visible
    assert "&gt; 60.0x" in chart  # the clipped value is labelled exactly
    ET.fromstring(chart)  # well-formed SVG, so browsers draw it the same way
    assert ratio_chart([correct("ex1")]) == ""


# ---------------------------------------------------------------- class summary


def test_summary_statistics_for_a_small_class():
    page = summary_html(klass())
    assert "4 submissions; 1 faults" in page
    assert "mean 3, median 2.5, min 1, max 6" in page
    for student in ("alice", "bob", "carol", "dave"):
        assert f'href="feedback/{student}.html"' in page
    # ex1 (speed): 3 students have it, 2 passed; ratios 1.5, 4.5, 60
    row = re.search(r"<td>ex1 \(speed\)</td>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[:6] == ["3", "2", "4.0x", "1.5x", "4.5x", "60.0x"]
    assert cells[6].count('class="dot"') == 3 and cells[6].count('class="required"') == 1


def test_summary_text_lists_counts_faults_and_speed_checks():
    text = summary_text(klass())
    lines = text.splitlines()
    assert lines[0] == "4 submissions, 3 graded, 1 faults; mean score 3"
    assert "  fault dave: notebook ran past its 600 s budget" in lines
    assert "ex1 (speed): median 4.5x, 2/3 passed (bar 4.0x)" in lines


def test_summaries_handle_an_empty_class():
    assert "0 submissions" in summary_html([])
    assert summary_text([]).startswith("0 submissions")


def test_summary_escapes_reasons_and_ids():
    bad = SubmissionResult("x<y", "lab01", 0, 1, "fault", EVIL)
    page = summary_html([bad])
    assert "<script" not in page.lower() and "x&lt;y" in page


# ---------------------------------------------------------------- files


def test_write_reports_writes_every_page(tmp_path):
    paths = write_reports(klass(), tmp_path)
    assert paths["csv"] == tmp_path / "grades.csv" and paths["summary"] == tmp_path / "summary.html"
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == [
        "alice.html",
        "bob.html",
        "carol.html",
        "dave.html",
    ]
    assert "vectorise the loop" in paths["feedback/bob"].read_text()
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("student", ["../../escape", "..", "a/b", "a\\b", "/etc/passwd", ".hidden", ""])
def test_student_ids_cannot_write_outside_the_folder(tmp_path, student):
    out = tmp_path / "reports"
    paths = write_reports([SubmissionResult(student, "lab01", 0, 1)], out)
    page = paths[f"feedback/{student}"]
    assert page.parent == out / "feedback"
    assert page.resolve().is_relative_to((out / "feedback").resolve())
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == {out / "grades.csv", out / "summary.html", page}
    assert f'href="feedback/{page.name}"' in (out / "summary.html").read_text()


def test_sanitised_ids_do_not_collide():
    assert file_stem("alice") == "alice" and file_stem("jane.doe-2") == "jane.doe-2"
    assert file_stem("a/b") != file_stem("a_b") and file_stem("a/b") != file_stem("a\\b")
    assert "/" not in file_stem("../x") and not file_stem("..").startswith(".")


def test_ids_that_would_share_a_page_are_refused(tmp_path):
    same = [SubmissionResult("Alice", "lab01", 0, 1), SubmissionResult("alice", "lab01", 0, 1)]
    with pytest.raises(ValueError, match="share"):
        write_reports(same, tmp_path)
    assert not (tmp_path / "grades.csv").exists()  # nothing written before the check


def test_the_bench_reads_the_cost_of_confinement_outside_the_speed_checks():
    """A speed check measured in 3 rounds instead of 1 swings a grading by 10-20 s: the totals
    say confinement cost 12 s, the gradings less their timed checks say 0.5 s."""
    from autograder.batch.bench import Throughput

    confined, confined_timed = [50.0, 40.0, 52.0], (29.5, 19.5, 31.5)
    plain, plain_timed = [30.0, 40.0, 38.0], (10.0, 20.0, 18.0)
    t = Throughput("lab", confined, plain, 30.0, confined_timed, plain_timed)
    assert t.overhead_s == 12.0 and t.untimed_overhead_s == 0.5
    assert "+12.0 s; +0.5 s outside the speed checks" in t.summary()
    assert Throughput("lab", [50.0], [40.0], 30.0).untimed_overhead_s is None
