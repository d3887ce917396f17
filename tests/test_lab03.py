"""Lab 03's checks and the course's HTTP service on their own: nothing released gives an answer
away; the service is real, deterministic, read-only and leaves no process behind; bad services
(down, stalled, garbage) give a sentence, never a hang; a race without a lock is caught on every
draw; and the cluster exercise runs against instances started apart from the grader, through
AUTOGRADER_SERVICE_URLS, as an instructor would point it at real hosts."""

import ast
import contextlib
import ctypes
import importlib
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import nbformat
import psutil
import pytest
from conftest import ROOT

from autograder import check, services
from autograder.correctness import Inputs
from autograder.selfcheck import CheckFailed

SOLUTION = ROOT / "solutions" / "03-threading"
RELEASED = ROOT / "labs" / "03-threading"
NOTEBOOK = "03-threading-lab.ipynb"


@pytest.fixture(scope="module")
def lab03():
    sys.path.insert(0, str(SOLUTION))
    from autograder.spec import load_lab

    lab = load_lab(SOLUTION)
    return lab, importlib.import_module("threadwork")


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


# ------------------------------------------------------------ nothing given away


def test_private_files_stay_private():
    assert {p.name for p in RELEASED.iterdir()} == {NOTEBOOK, "checks.py", "threadwork.py"}


def test_the_released_stubs_hold_no_threaded_code():
    nb = nbformat.read(RELEASED / NOTEBOOK, as_version=4)
    stubs = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(stubs) == 4
    for source in stubs:
        assert "raise NotImplementedError()" in source
        for tell in ("ThreadPoolExecutor(", "Semaphore(", "Lock(", ".map(", "timeout="):
            assert tell not in source, f"a released stub contains {tell!r}:\n{source}"


def test_released_helpers_run_nothing_on_threads():
    """threadwork.py is the serial oracle; checks.py holds inputs, bars and hints."""
    for name in ("threadwork.py", "checks.py"):
        tree = ast.parse((RELEASED / name).read_text())
        called = {
            getattr(node.func, "attr", getattr(node.func, "id", None))
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        for api in ("ThreadPoolExecutor", "Thread", "Semaphore", "Lock", "submit"):
            assert api not in called, f"{name} calls {api}"


# ------------------------------------------------------------------ the service


def test_service_answers_deterministic_records_counts_what_is_in_flight_and_stops():
    before = _children()
    with services.service_pool(2, latency_s=0.05, faults=False) as pool:
        assert len(pool.urls) == 2 and all(u.startswith("http://127.0.0.1:") for u in pool.urls)
        pids = _children() - before
        assert len(pids) == 2
        url = pool.urls[0]
        assert services.get_json(f"{url}/item/42") == services.record(42) == services.record(42)
        pool.report()  # a window starts here
        with ThreadPoolExecutor(6) as ex:
            got = list(ex.map(lambda i: services.get_json(f"{url}/item/{i}"), range(6)))
        assert got == [services.record(i) for i in range(6)]
        (first, second) = pool.report()["instances"]
        assert first["max_in_flight"] == 6 and first["requests"] == 6, first
        assert sorted(i for i, _ in first["ok"]) == list(range(6))
        assert second["requests"] == 0 and second["max_in_flight"] == 0
        # The next window starts empty; the counters since the start are still there.
        assert pool.report()["instances"][0]["requests"] == 0
        assert pool.stats()[0]["max_in_flight"] == 6 and pool.stats()[0]["requests"] == 7
    deadline = time.monotonic() + 5
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids):
        assert time.monotonic() < deadline, "a service instance outlived its pool"
        time.sleep(0.05)


def test_service_has_no_endpoint_that_resets_or_writes():
    with services.service_pool(1, faults=False) as pool:
        url = pool.urls[0]
        services.get_json(f"{url}/item/1")
        for path in ("/reset", "/stats/reset", "/item/1/reset"):
            with pytest.raises(urllib.error.HTTPError) as err:
                services.get_json(url + path)
            assert err.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(
                urllib.request.Request(f"{url}/stats", data=b"{}", method="POST"), timeout=5
            )
        assert err.value.code == 501
        assert pool.stats()[0]["requests"] == 1


def test_service_instances_are_not_dumpable():
    code = (
        "import ctypes; from autograder import services; services._harden(); "
        "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))"  # PR_GET_DUMPABLE
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 1  # this process is untouched


def test_each_fault_shows_once_per_instance_and_is_chosen_by_the_id():
    kinds = {k: next(i for i in range(1, 500) if services.fault_of(i) == k) for k in services.FAULTS}
    with services.service_pool(1, stall_s=1.0) as pool:
        url = pool.urls[0]
        with pytest.raises(urllib.error.HTTPError):
            services.get_json(f"{url}/item/{kinds['error']}")
        with pytest.raises(ValueError):
            services.get_json(f"{url}/item/{kinds['garbage']}")
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError):
            services.get_json(f"{url}/item/{kinds['slow']}", timeout=0.2)
        assert time.perf_counter() - t0 < 0.6
        for i in kinds.values():  # the second request of each answers right away
            assert services.get_json(f"{url}/item/{i}", timeout=0.5) == services.record(i)
        time.sleep(0.1)
        window = pool.report()["instances"][0]
        assert window["after_stall"] == []  # the stall was abandoned, not waited out
        assert window["max_in_flight"] == 1


# ----------------------------------------------- bad services: a sentence, never a hang


def test_a_service_that_is_down_fails_fast_with_a_sentence(lab03, monkeypatch, no_requirements):
    with socket_free_port() as port:
        monkeypatch.setenv("AUTOGRADER_SERVICE_URLS", f"http://127.0.0.1:{port}")
        t0 = time.perf_counter()
        with pytest.raises(CheckFailed) as failed:
            check("fetch-items", lambda services, ids: [], part="correct", lab=SOLUTION)
    assert time.perf_counter() - t0 < 10
    (line,) = failed.value.lines
    assert "AUTOGRADER_SERVICE_URLS" in line and "does not answer" in line and "Traceback" not in line, line


@contextlib.contextmanager
def socket_free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port  # nothing listens there any more


def test_garbage_from_a_service_is_named_with_the_students_line(lab03, no_requirements):
    _, threadwork = lab03

    def category_totals(services, ids):  # no retry: the first fault raises
        totals = {}
        for i in ids:
            rec = threadwork.get_item(services.urls[0], i, timeout=threadwork.TIMEOUT_S)
            totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]
        return totals

    with pytest.raises(CheckFailed) as failed:
        check("category-totals", category_totals, part="correct", lab=SOLUTION)
    (line,) = failed.value.lines
    assert "category_totals raised" in line and "Traceback" not in line, line
    assert "Hint:" in line


def test_a_stalled_answer_costs_its_stall_not_a_hang(lab03, no_requirements):
    lab, threadwork = lab03

    def category_totals(services, ids):  # right, polite, retrying, but with no timeout
        totals = {}
        for k, i in enumerate(ids):
            rec = None
            while rec is None:
                with contextlib.suppress(OSError, ValueError):
                    rec = threadwork.get_item(services.urls[k % len(services.urls)], i)
            totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]
        return totals

    t0 = time.perf_counter()
    with pytest.raises(CheckFailed) as failed:
        check("category-totals", category_totals, part="correct", lab=SOLUTION)
    assert time.perf_counter() - t0 < 30
    (line,) = failed.value.lines
    assert "your code waited for all of it" in line and "edge case" in line, line


# ------------------------------------------------------ the race: caught every time


def _unlocked(threadwork, balances, transfers):
    ledger = threadwork.Ledger(balances)

    def one(t):
        if threadwork.check_transfer(t):
            ledger.transfer(*t)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, transfers))
    return ledger.balances


def test_the_unlocked_ledger_loses_updates_on_every_random_input_and_is_named(lab03):
    lab, threadwork = lab03
    ex = lab.get("settle")
    for args in Inputs(ex, small=True).draw(15):
        expected = ex.reference(*args)
        got = _unlocked(threadwork, *args)
        assert ex.verify(expected, got), "an unlocked ledger gave the right balances"
        said = ex.diagnose(args, expected, got)
        assert said is None or "some updates were lost" in said
    # Money is conserved, so a lost update nearly always shows in the sum; name it when it does.
    args = Inputs(ex, small=True).draw(1)[0]
    expected = ex.reference(*args)
    wrong = dict(expected)
    first = next(iter(wrong))
    wrong[first] += 5
    assert "some updates were lost" in ex.diagnose(args, expected, wrong)


def test_every_exercise_input_is_long_enough_to_time(lab03):
    """A serial call lasts a quarter of a second or more in small mode."""
    lab, threadwork = lab03
    ex = lab.get("derive-keys")
    (args,) = Inputs(ex, small=True).draw(1)
    t0 = time.perf_counter()
    ex.baseline(*args)
    assert time.perf_counter() - t0 > 0.2
    for name, least in (("fetch-items", 30), ("category-totals", 40)):
        (args,) = Inputs(lab.get(name), small=True).draw(1)
        assert len(args[0]) >= least  # 20 ms each, one after another


# ------------------------------------------------ what the services saw, judged


def test_after_totals_names_each_breach(lab03):
    lab, threadwork = lab03
    ex = lab.get("category-totals")
    url = "http://127.0.0.1:5000"
    ok = {"url": url, "requests": 2, "max_in_flight": 2, "ok": [[1, 10.0], [2, 10.0]], "after_stall": []}
    assert ex.after_call(([1, 2],), {"instances": [ok]}) is None
    crowded = {**ok, "max_in_flight": 5}
    assert "had 5 of your requests in flight at once; the limit is 2" in ex.after_call(
        ([1, 2],), {"instances": [crowded]}
    )
    waited = {**ok, "ok": [[1, 10.0]], "after_stall": [[2, 12.0]]}
    assert "waited for all of it" in ex.after_call(([1, 2],), {"instances": [waited]})
    retried = {**ok, "ok": [[1, 10.0], [2, 10.3]], "after_stall": [[2, 12.0]]}
    assert ex.after_call(([1, 2],), {"instances": [retried]}) is None
    missing = {**ok, "ok": [[1, 10.0]]}
    assert "item 2 was never answered" in ex.after_call(([1, 2],), {"instances": [missing]})


# --------------------------------------------- instances started apart, reached by URL


def test_the_cluster_exercise_runs_on_services_started_apart(tmp_path, monkeypatch, lab03, no_requirements):
    """The instructor's way: instances already running (here, on this host), named by
    AUTOGRADER_SERVICE_URLS; self-checked, then graded in a box that keeps the network."""
    import _reference

    from autograder.supervisor import grade_notebook

    with services.service_pool(4, latency_s=0.02) as pool:
        monkeypatch.setenv("AUTOGRADER_SERVICE_URLS", ",".join(pool.urls))
        before = pool.stats()
        (verdict,) = check("category-totals", _reference.category_totals, part="correct", lab=SOLUTION)
        assert verdict.status == "pass", verdict.summary()
        assert sum(s["requests"] for s in pool.stats()) > sum(s["requests"] for s in before)
        with pytest.raises(CheckFailed) as failed:  # and the limit is read from those instances
            check("category-totals", _too_many(lab03[1]), part="correct", lab=SOLUTION)
        assert "the limit is 2 per instance" in failed.value.lines[0]

        from grading import reference

        nb = reference(nbformat.read(SOLUTION / NOTEBOOK, as_version=4))
        tests = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata["nbgrader"].get("grade")}
        nb.cells = [c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] not in tests - {"ex4-correct"}]
        folder = tmp_path / "submission"
        folder.mkdir()
        nbformat.write(nb, folder / NOTEBOOK)
        shutil.copy2(RELEASED / "threadwork.py", folder / "threadwork.py")
        served = sum(s["requests"] for s in pool.stats())
        graded = grade_notebook(nb, SOLUTION, folder, small=True)
        verdicts = [v for vs in graded.values() for v in vs]
        assert [v.status for v in verdicts] == ["pass"], [v.summary() for v in verdicts]
        assert sum(s["requests"] for s in pool.stats()) > served, (
            "the graded code did not use these instances"
        )


def _too_many(threadwork):
    def category_totals(services, ids):
        urls = services.urls
        with ThreadPoolExecutor(32) as pool:
            recs = list(pool.map(lambda k: _retry(threadwork, urls[k % len(urls)], ids[k]), range(len(ids))))
        totals = {}
        for r in recs:
            totals[r["category"]] = totals.get(r["category"], 0) + r["value"]
        return totals

    return category_totals


def _retry(threadwork, url, item_id):
    for _ in range(threadwork.ATTEMPTS):
        with contextlib.suppress(OSError, ValueError):
            return threadwork.get_item(url, item_id, timeout=threadwork.TIMEOUT_S)
    raise RuntimeError(f"item {item_id} failed {threadwork.ATTEMPTS} times")


def test_threads_left_running_do_not_leak_into_the_next_window(lab03):
    """A window starts just before each call: requests of a previous call do not count."""
    with services.service_pool(1, faults=False) as pool:
        url = pool.urls[0]
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                services.get_json(f"{url}/item/7")

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        pool.report()
        services.get_json(f"{url}/item/8")
        (window,) = pool.report()["instances"]
        assert window["max_in_flight"] == 1 and window["requests"] == 1


# A student's category_totals with no limit at all, which also replaces the pool's report with
# a clean one made up from the ids it was given.
_FORGER = '''
from autograder import services as _services

def category_totals(services, ids):
    seen = list(ids)
    def clean_report(self):
        ok = [[i, 0.0] for i in seen]
        return {"instances": [{"url": u, "requests": len(ok), "max_in_flight": 1, "ok": ok,
                               "after_stall": []} for u in self.urls]}
    type(services).report = clean_report
    urls = services.urls

    def fetch(k):
        for attempt in range(threadwork.ATTEMPTS):
            try:
                return threadwork.get_item(urls[k % len(urls)], ids[k], timeout=threadwork.TIMEOUT_S)
            except (OSError, ValueError):
                if attempt == threadwork.ATTEMPTS - 1:
                    raise

    with ThreadPoolExecutor(max_workers=max(1, len(ids))) as pool:  # every request at once
        records = list(pool.map(fetch, range(len(ids))))
    totals = {}
    for rec in records:
        totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]
    return totals
'''


@pytest.mark.skipif(
    __import__("autograder.sandbox", fromlist=["isolation_mode"]).isolation_mode() != "root",
    reason="the grader runs the services itself only as root",
)
def test_a_forged_service_report_earns_nothing_when_graded(tmp_path, no_requirements):
    """Graded, the services run as the grader's, in the box's network namespace, and their
    counters are read outside the box: a report patched inside the student's process is not used."""
    from grading import reference

    from autograder.supervisor import grade_notebook

    nb = reference(nbformat.read(SOLUTION / NOTEBOOK, as_version=4))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex4-solution":
            cell.source = _FORGER
    other = ("fetch-items", "derive-keys", "settle")
    nb.cells = [c for c in nb.cells if not any(f'check("{name}"' in c.source for name in other)]
    folder = tmp_path / "submission"
    folder.mkdir()
    nbformat.write(nb, folder / NOTEBOOK)
    shutil.copy2(RELEASED / "threadwork.py", folder / "threadwork.py")
    verdicts = [v for vs in grade_notebook(nb, SOLUTION, folder).values() for v in vs]
    correct = next(v for v in verdicts if v.part == "correct")
    assert correct.status == "fail", correct.summary()
    assert "in flight at once" in correct.message and "the limit is 2 per instance" in correct.message
