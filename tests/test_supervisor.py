"""The grading path: student cells rebuilt in a worker process, timed from outside."""

import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import supervisor
from autograder.supervisor import find_check_calls, grade_notebook


def notebook(solution: str, *tests: tuple[str, int]) -> nbformat.NotebookNode:
    cells = [new_code_cell("import numpy as np\nfrom autograder import check")]
    sol = new_code_cell(solution)
    sol.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "sol"}
    cells.append(sol)
    for i, (src, points) in enumerate(tests):
        cell = new_code_cell(src)
        cell.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": f"t{i}", "points": points}
        cells.append(cell)
    return new_notebook(cells=cells)


def grade(nb, toy_lab, tmp_path):
    """Grade as nbgrader would: the submission folder holds the lab's released files."""
    submission = tmp_path / "submission"
    shutil.copytree(
        toy_lab, submission, dirs_exist_ok=True, ignore=shutil.ignore_patterns("_reference.py", "__pycache__")
    )
    return grade_notebook(nb, toy_lab, submission, small=True)


def statuses(result):
    return [(v.part, v.status) for vs in result.values() for v in vs]


def test_check_calls_are_read_from_test_cells_only():
    nb = notebook(
        "check('answer', x)  # in a solution cell: not a grading call",
        ("check('sort', my_sort, part='speed')", 2),
        ("print('no check here')", 1),
    )
    assert [(c.exercise, c.target, c.part) for c in find_check_calls(nb)] == [("sort", "my_sort", "speed")]


def test_reference_passes_and_tampering_earns_nothing(toy_lab, tmp_path, no_requirements):
    honest = notebook("def my_sort(v):\n    return sorted(v)", ("check('sort', my_sort)", 3))
    assert statuses(grade(honest, toy_lab, tmp_path)) == [("correct", "pass"), ("speed", "pass")]
    # A frozen clock, a sabotaged baseline and a memo cache all live in the student's
    # process; the supervisor's clock and baseline are elsewhere.
    cheat = notebook(
        "import time, itertools, work\n"
        "_t = itertools.count()\n"
        "time.perf_counter = lambda: next(_t) * 1e-9\n"
        "_slow = work.insertion_sort\n"
        "work.insertion_sort = lambda v: (time.sleep(1), _slow(v))[1]\n"
        "_memo = {}\n"
        "def my_sort(v):\n"
        "    return _memo.setdefault(tuple(v), _slow(v))",
        ("check('sort', my_sort)", 3),
    )
    result = grade(cheat, toy_lab, tmp_path)
    assert statuses(result) == [("correct", "pass"), ("speed", "fail")]
    speed = result[2][1]
    assert speed.measured < 2 and "needed 5x" in speed.message


def test_notebook_magics_run_in_the_worker(toy_lab, tmp_path, no_requirements):
    nb = notebook(
        "%%writefile mysort.py\ndef my_sort(v):\n    return sorted(v)\n",
        ("from mysort import my_sort\ncheck('sort', my_sort, part='correct')", 1),
    )
    nb.cells.insert(2, new_code_cell("from mysort import my_sort"))
    result = grade(nb, toy_lab, tmp_path)
    assert statuses(result) == [("correct", "pass")], [v.message for vs in result.values() for v in vs]


def test_a_cython_cell_must_compile(toy_lab, tmp_path, no_requirements):
    good = notebook("%load_ext Cython", ("check('sort', my_sort, part='correct')", 1))
    good.cells.insert(2, new_code_cell("%%cython\ndef my_sort(list v):\n    return sorted(v)\n"))
    assert statuses(grade(good, toy_lab, tmp_path)) == [("correct", "pass")]
    bad = notebook("%load_ext Cython", ("check('sort', my_sort, part='correct')", 1))
    bad.cells.insert(2, new_code_cell("%%cython\ndef my_sort(list v)\n    return sorted(v)\n"))
    [(_, v)] = [(i, v) for i, vs in grade(bad, toy_lab, tmp_path).items() for v in vs]
    assert v.status == "fail" and "cython" in v.message.lower()


def test_exits_crashes_and_endless_loops_are_failures_not_hangs(toy_lab, tmp_path, no_requirements):
    nb = notebook(
        "import os, sys\ndef quits(v):\n    sys.exit(3)\ndef dies(v):\n    os._exit(1)\n",
        ("check('sort', quits, part='correct')", 1),
        ("check('sort', dies, part='correct')", 1),
        ("check('answer', missing_name)", 1),
        ("check('no-such-exercise', quits)", 1),
    )
    result = grade(nb, toy_lab, tmp_path)
    messages = [v.message for vs in result.values() for v in vs]
    assert all(v.status == "fail" for vs in result.values() for v in vs)
    assert "sys.exit(3)" in messages[0]
    assert "ended unexpectedly" in messages[1]
    assert "defines no 'missing_name'" in messages[2]
    assert "no exercise named 'no-such-exercise'" in messages[3]


def test_a_function_given_for_an_answer_gets_a_sentence_not_a_call(toy_lab, tmp_path, no_requirements):
    """HOTSPOT = count_visitors: the grader must never call an answer, whatever it is."""
    nb = notebook(
        "calls = []\ndef forty_two():\n    calls.append(1)\n    return 42\nANSWER = forty_two",
        ("check('answer', ANSWER)", 1),
    )
    [[v]] = grade(nb, toy_lab, tmp_path).values()
    assert v.status == "fail"
    assert "ANSWER is the function forty_two, but this exercise asks for a value" in v.message
    assert "Traceback" not in v.summary() and "judge.py" not in v.summary()


def test_mpi_function_runs_under_mpiexec(toy_lab, tmp_path, no_requirements):
    nb = notebook(
        "%%writefile mpisum.py\nimport numpy as np\n"
        "def total(comm, values):\n"
        "    part = np.array_split(values, comm.Get_size())[comm.Get_rank()]\n"
        "    s = comm.reduce(float(part.sum()), root=0)\n"
        "    return (s, comm.Get_size())[0] if comm.Get_size() == 2 else -1.0\n",
        ("check('mpi-total', total, part='correct')", 1),
    )
    nb.cells.insert(2, new_code_cell("from mpisum import total"))
    result = grade(nb, toy_lab, tmp_path)
    assert statuses(result) == [("correct", "pass")], [v.message for vs in result.values() for v in vs]


def test_endless_loop_times_out(toy_lab, tmp_path, no_requirements, monkeypatch):
    import dataclasses

    from autograder import spec

    real = spec.load_lab

    def short_timeouts(directory):
        lab = real(directory)
        fast = {k: dataclasses.replace(v, timeout_s=3) for k, v in lab.exercises.items()}
        return dataclasses.replace(lab, exercises=fast)

    monkeypatch.setattr("autograder.supervisor.load_lab", short_timeouts)
    # Its speed part is not run into the timeout again: the same 0, for the same reason.
    started = []
    real_candidate = supervisor.Supervisor._candidate

    def counted(sup, ex, target):
        started.append(target)
        return real_candidate(sup, ex, target)

    monkeypatch.setattr(supervisor.Supervisor, "_candidate", counted)
    spin = "def spin(v):\n    while True:\n        pass"
    nb = notebook(spin, ("check('sort', spin, part='correct')", 1), ("check('sort', spin, part='speed')", 1))
    [[correct], [speed]] = grade(nb, toy_lab, tmp_path).values()
    assert correct.status == "fail" and "did not finish within 3 s" in correct.message
    assert speed.status == "fail" and speed.message == f"no speed points: {correct.message}"
    assert started == ["spin"], "the stuck function was run again for its speed part"


@pytest.mark.parametrize("exercise", ["dask-total", "spark-total", "ipp-total"])
def test_cluster_clients_come_from_the_grader(toy_lab, tmp_path, no_requirements, exercise):
    """The student's function gets a real Dask client, SparkSession or ipyparallel client."""
    function = {"dask-total": "dask_total", "spark-total": "spark_total", "ipp-total": "ipp_total"}[exercise]
    nb = notebook(f"from work import {function} as total", (f"check('{exercise}', total, part='correct')", 1))
    result = grade(nb, toy_lab, tmp_path)
    assert statuses(result) == [("correct", "pass")], [v.message for vs in result.values() for v in vs]
