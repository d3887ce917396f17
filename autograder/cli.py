"""The `autograder` command: doctor, labs, validate, grade, stability."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import course


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import main as doctor_main

    return doctor_main([])


def _labs(args: argparse.Namespace) -> int:
    if args.check:
        result = course.drift(args.course)
        print(result.summary())
        return 0 if result.clean else 1
    course.release(args.course, args.course / "labs")
    print(f"released {', '.join(course.assignments(args.course))} into {args.course / 'labs'}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """Solutions must pass their own tests; released labs must fail them."""
    failures = 0
    for name in course.assignments(args.course):
        for nb in sorted((args.course / "solutions" / name).glob("*.ipynb")):
            proc = course.nbgrader(args.course, "validate", str(nb), check=False)
            ok = proc.returncode == 0 and "Success! Your notebook passes all the tests." in proc.stdout
            print(f"{'ok  ' if ok else 'FAIL'} solutions/{name}/{nb.name} passes its tests")
            failures += not ok
        for nb in sorted((args.course / "labs" / name).glob("*.ipynb")):
            proc = course.nbgrader(args.course, "validate", "--invert", str(nb), check=False)
            ok = proc.returncode == 0 and "Success!" in proc.stdout
            print(f"{'ok  ' if ok else 'FAIL'} labs/{name}/{nb.name} fails its tests until answered")
            failures += not ok
    return 1 if failures else 0


def _grade(args: argparse.Namespace) -> int:
    from .batch import report
    from .batch.run import grade_class
    from .errors import AutograderError

    try:
        run = grade_class(
            args.course,
            args.assignment,
            export=args.source,
            students=args.student or None,
            force=args.force,
            unsafe=args.unsafe,
            jobs=args.jobs,
        )
    except AutograderError as exc:
        print(f"autograder grade: {exc}", file=sys.stderr)
        return 2
    print(report.summary_text(run.results))
    print(run.summary())
    return 1 if any(r.outcome == "fault" for r in run.results) else 0


def _stability(args: argparse.Namespace) -> int:
    from .stability import main as stability_main

    return stability_main(args.rest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__)
    parser.add_argument("--course", type=Path, default=course.ROOT, help="the course folder")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="what this machine has, and where each lab will run").set_defaults(
        fn=_doctor
    )
    labs = sub.add_parser("labs", help="generate labs/ from solutions/ with nbgrader")
    labs.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    labs.set_defaults(fn=_labs)
    sub.add_parser("validate", help="solutions pass, released labs fail").set_defaults(fn=_validate)
    grade = sub.add_parser(
        "grade",
        help="grade a class: confined nbgrader autograde per submission, gradebook, CSV, feedback, summary",
    )
    grade.add_argument("assignment", help="the lab, e.g. 01-profiling")
    grade.add_argument(
        "--from", dest="source", type=Path, help="a folder or zip of notebooks exported by an LMS"
    )
    grade.add_argument("--student", action="append", help="only this student (repeatable)")
    grade.add_argument("--force", action="store_true", help="grade again what is already graded")
    grade.add_argument("--jobs", type=int, help="submissions at once (default: what the cores allow)")
    grade.add_argument(
        "--unsafe", action="store_true", help="grade even where nothing can isolate student code"
    )
    grade.set_defaults(fn=_grade)
    stab = sub.add_parser(
        "stability",
        help="false-fail / false-pass rates of every speed check "
        "(--trials N, --only LAB/EXERCISE, --condition NAME, --bench)",
    )
    stab.set_defaults(fn=_stability)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "stability":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    args.course = args.course.resolve()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
