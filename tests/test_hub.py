"""A class on a real JupyterHub: one instructor, two students, lab 01, end to end.

The hub runs on loopback from docs/hub/jupyterhub_config.py (JupyterHub's test
authenticator instead of PAM, ports and folders in a scratch place) with
configurable-http-proxy from npm, and spawns each user's server as that user's own
throwaway Unix account. Everything a user does goes through the hub: the admin's REST
API creates the users, enrols them (hub groups) and starts their servers; each user then
acts in a kernel of their own server, reached through the hub's proxy with their own
token. The exchange flow: release, fetch, the students' work (saved the way JupyterLab
saves it), submit, collect, `autograder grade`, feedback, fetch_feedback. Then what a
class needs: nobody reads anyone else's work, the gradebook holds the expected scores,
the lab opens in the student's JupyterLab, profiles reach the grader, limits hold.

Needs root (to create the users and to switch to them); without it the module skips
and says what went unchecked. Timings and the hub's log go to test-artifacts/hub/.
"""

from __future__ import annotations

import csv
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import lab01_submissions as lab01
import nbformat
import provision
import pytest
from conftest import ROOT
from grading import fill, graded_cells, measured_speed_cells, reference
from hubclient import NBGRADER_HUB_CONFIG, ClassUsers, Hub, Kernel, Server, free_port, scratch_base

pytestmark = [pytest.mark.full, pytest.mark.skipif(sys.platform != "linux", reason="Linux only")]

COURSE = "scale-up-out"
IN_COURSE = ("--course", COURSE)  # students name the course: the hub may run several
LAB, NOTEBOOK = lab01.LAB, lab01.NOTEBOOK
ARTIFACTS = ROOT / "test-artifacts" / "hub"
NOT_ROOT = (
    "not root: this test creates throwaway Unix users (an instructor, two students) and a hub "
    "that starts their servers as them. Unchecked here: the nbgrader exchange between users "
    "(release, fetch, submit, collect, feedback), that students cannot read each other's work, "
    "the gradebook scores of `autograder grade` on the hub, hub profiles and per-user limits."
)


@dataclass
class Klass:
    """The running hub, its users and what each step of the exchange said."""

    hub: Hub
    base: Path
    exchange: Path
    teacher: str
    ada: str
    bea: str
    servers: dict[str, Server]
    kernels: dict[str, Kernel]
    scheduler: str
    steps: dict[str, tuple[int, str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    saved: dict[str, nbformat.NotebookNode] = field(default_factory=dict)

    def home(self, user: str) -> Path:
        return self.base / "home" / user

    def course_dir(self) -> Path:
        return self.home(self.teacher) / COURSE

    def step(self, name: str, user: str, *argv: str, cwd: str = "~", timeout: float = 300) -> str:
        """Run one command as ``user`` in their server; it must succeed."""
        start = time.perf_counter()
        rc, out = self.kernels[user].sh(*argv, cwd=cwd, timeout=timeout)
        self.seconds[name] = time.perf_counter() - start
        self.steps[name] = (rc, out)
        assert rc == 0, f"{name} ({user}: {' '.join(argv)}) exited {rc}:\n{out[-3000:]}\n{self.hub.log(2000)}"
        return out


@pytest.fixture(scope="module")
def tools():
    try:
        return provision.ensure_jupyterhub(), provision.ensure_chp(), provision.ensure_user_env()
    except provision.Missing as exc:
        pytest.skip(str(exc))


def _start_scheduler(port: int) -> subprocess.Popen:
    """A Dask scheduler on loopback: the 'department cluster' the cluster profile points at."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    return proc


@pytest.fixture(scope="module")
def klass(tools):
    if os.geteuid() != 0:
        pytest.skip(NOT_ROOT)
    _, chp, user_env = tools
    started = time.perf_counter()
    base = scratch_base()
    (base / "home").mkdir(mode=0o755)
    exchange = base / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o1777)  # as docs/jupyterhub.md says: world-writable, sticky
    etc = base / "etc-jupyter"  # stands in for /etc/jupyter
    etc.mkdir(mode=0o755)
    shutil.copy2(NBGRADER_HUB_CONFIG, etc / "nbgrader_config.py")
    os.chmod(etc / "nbgrader_config.py", 0o644)

    tag = secrets.token_hex(2)
    teacher, ada, bea = f"sx{tag}-teacher", f"sx{tag}-ada", f"sx{tag}-bea"
    users = ClassUsers(base / "home")
    scheduler_port = free_port()
    scheduler_url = f"tcp://127.0.0.1:{scheduler_port}"
    scheduler = _start_scheduler(scheduler_port)
    hub = Hub(
        base,
        chp=chp,
        user_env=user_env,
        exchange=exchange,
        env={
            "JUPYTER_CONFIG_PATH": str(etc),
            "COURSE_SMALL": os.environ.get("COURSE_SMALL", "1"),
            "COURSE_HUB_MEM_LIMIT": "2G",
            "AUTOGRADER_DASK_SCHEDULER": scheduler_url,
        },
    )
    k = None
    try:
        for name in (teacher, ada, bea):
            users.add(name)
        hub.start()
        status, body = hub.api("POST", "users", {"usernames": [teacher, ada, bea]})
        assert status == 201, f"creating users: {status} {body}"
        for group, members in ((f"formgrade-{COURSE}", [teacher]), (f"nbgrader-{COURSE}", [ada])):
            status, body = hub.api("POST", f"groups/{group}", {"users": members})
            assert status == 201, f"creating group {group}: {status} {body}"
        t0 = time.perf_counter()
        profiles = {teacher: {}, ada: {"profile": "cluster"}, bea: {"profile": "gpu"}}
        servers = hub.spawn_all(profiles)
        kernels = {user: server.kernel() for user, server in servers.items()}
        k = Klass(hub, base, exchange, teacher, ada, bea, servers, kernels, scheduler_url)
        k.seconds["spawn three servers"] = time.perf_counter() - t0
        _exchange_flow(k)
        k.seconds["whole flow"] = time.perf_counter() - started
        yield k
    finally:
        leftovers = _teardown(hub, users, scheduler, base, k, started)
    assert not leftovers, f"processes the users still ran after the hub stopped: {leftovers}"


def _teardown(hub: Hub, users: ClassUsers, scheduler, base: Path, k: Klass | None, started: float) -> list:
    if k is not None:
        for kernel in k.kernels.values():
            kernel.close()
    hub.stop()
    time.sleep(1)
    leftovers = users.remove()
    scheduler.terminate()
    scheduler.wait(timeout=30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if hub.log_path.exists():
        shutil.copy2(hub.log_path, ARTIFACTS / "jupyterhub.log")
    if k is not None:
        k.seconds["with teardown"] = time.perf_counter() - started
        lines = [f"{name}: {s:.1f} s" for name, s in k.seconds.items()]
        lines += [f"{name}: exit {rc}\n{out.strip()}\n" for name, (rc, out) in k.steps.items()]
        (ARTIFACTS / "steps.txt").write_text("\n".join(lines) + "\n")
    shutil.rmtree(base, ignore_errors=True)
    return leftovers


def _exchange_flow(k: Klass) -> None:
    course = f"~/{COURSE}"
    # The instructor takes the course from the repository (readable by every user) and releases lab 01.
    copy = (
        "import shutil, os\n"
        f"dst = os.path.expanduser({course!r})\n"
        f"shutil.copytree({str(ROOT / 'solutions')!r}, dst + '/solutions', "
        "ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '*.pyc'))\n"
        f"shutil.copy({str(ROOT / 'nbgrader_config.py')!r}, dst)\n"
    )
    assert k.kernels[k.teacher].run(copy).status == "ok"
    k.step("generate_assignment", k.teacher, "nbgrader", "generate_assignment", LAB, "--force", cwd=course)
    k.step("1 release_assignment", k.teacher, "nbgrader", "release_assignment", LAB, cwd=course)

    # Bea is not enrolled yet: the course is closed to her.
    rc, out = k.kernels[k.bea].sh("nbgrader", "fetch_assignment", LAB, *IN_COURSE)
    k.steps["fetch before enrolment (bea)"] = (rc, out)
    status, body = k.hub.api("POST", f"groups/nbgrader-{COURSE}/users", {"users": [k.bea]})
    assert status == 200, f"enrolling {k.bea}: {status} {body}"

    for student in (k.ada, k.bea):
        k.step(f"2 fetch_assignment ({student})", student, "nbgrader", "fetch_assignment", LAB, *IN_COURSE)

    # The students' work, saved through their own server's contents API as JupyterLab saves it.
    path = f"api/contents/{COURSE}/{LAB}/{NOTEBOOK}"
    solution = nbformat.read(ROOT / "solutions" / LAB / NOTEBOOK, as_version=4)
    for student in (k.ada, k.bea):
        server = k.servers[student]
        status, raw = server.request("GET", path)
        assert status == 200, f"{student} cannot open the fetched lab: {status} {raw[:300]!r}"
        released = nbformat.from_dict(json.loads(raw)["content"])
        work = reference(solution) if student == k.ada else fill(released, lab01.SLOW_BUT_CORRECT)
        status, raw = server.request("PUT", path, {"type": "notebook", "format": "json", "content": work})
        assert status == 200, f"{student} could not save the lab: {status} {raw[:300]!r}"
        k.saved[student] = work
        k.step(f"4 submit ({student})", student, "nbgrader", "submit", LAB, *IN_COURSE)

    k.step("5 collect", k.teacher, "nbgrader", "collect", LAB, cwd=course)
    _grade(k)
    k.step("gradebook export", k.teacher, "nbgrader", "export", "--to", "grades.csv", cwd=course)
    k.step("7 generate_feedback", k.teacher, "nbgrader", "generate_feedback", LAB, cwd=course)
    k.step("7 release_feedback", k.teacher, "nbgrader", "release_feedback", LAB, cwd=course)
    for student in (k.ada, k.bea):
        k.step(f"8 fetch_feedback ({student})", student, "nbgrader", "fetch_feedback", LAB, *IN_COURSE)


def _grade(k: Klass, attempts: int = 3) -> None:
    """`autograder grade` as the instructor. A submission whose timing the grader judged
    unfair (a busy neighbour slowed the course's baseline) is a fault, and a second run
    grades exactly those again: what an instructor does, up to ``attempts`` runs."""
    argv = ("autograder", "--course", str(k.course_dir()), "grade", LAB)
    for attempt in range(1, attempts + 1):
        start = time.perf_counter()
        rc, out = k.kernels[k.teacher].sh(*argv, timeout=900)
        k.seconds[f"6 autograder grade, run {attempt}"] = time.perf_counter() - start
        k.steps[f"6 autograder grade, run {attempt}"] = (rc, out)
        k.steps["6 autograder grade"] = (rc, out)
        if rc == 0 or "fault" not in out:
            break
    if rc != 0:  # nbgrader's own logs say why, for whoever reads the failure
        logs = sorted((k.course_dir() / "grading" / LAB / "logs").glob("*.log"))
        out += "".join(f"\n--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs[:1])
    assert rc == 0, f"autograder grade exited {rc} after {attempt} runs:\n{out[-5000:]}"


# --- the hub itself ---------------------------------------------------------------------------


def _login(hub: Hub, username: str) -> urllib.request.OpenerDirector | int:
    """Log in through the hub's login form; the opener carries the session cookies, or the
    HTTP status when the hub refused."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{hub.url}/hub/login", timeout=30).read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page)
    form = {"username": username, "password": "any"}
    if xsrf:
        form["_xsrf"] = xsrf.group(1)
    try:
        opener.open(f"{hub.url}/hub/login", urllib.parse.urlencode(form).encode(), timeout=60)
    except urllib.error.HTTPError as exc:
        return exc.code
    return opener


def test_the_hub_lets_in_its_class_only(klass):
    assert _login(klass.hub, f"{klass.ada}x") == 403, "a user the hub does not know logged in"
    assert not isinstance(_login(klass.hub, klass.ada), int)
    # A student's own token opens her server, not a classmate's.
    ada, bea = klass.servers[klass.ada], klass.servers[klass.bea]
    assert ada.request("GET", "api/status")[0] == 200
    status, _ = bea.request("GET", "api/status", token=ada.token)
    assert status == 403, f"{klass.ada}'s token opened {klass.bea}'s server ({status})"


def test_the_students_jupyterlab_opens_the_fetched_lab(klass):
    opener = _login(klass.hub, klass.ada)
    assert not isinstance(opener, int), f"{klass.ada} could not log in ({opener})"
    tree = f"{COURSE}/{LAB}/{NOTEBOOK}"
    with opener.open(f"{klass.hub.url}/user/{klass.ada}/lab/tree/{tree}", timeout=60) as resp:
        page, final = resp.read().decode(), resp.geturl()
    assert final.endswith(f"/user/{klass.ada}/lab/tree/{tree}"), final
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))  # fmt: skip
    assert config["baseUrl"] == f"/user/{klass.ada}/" and config["treePath"] == tree, config
    with opener.open(f"{klass.hub.url}/user/{klass.ada}/api/contents/{tree}", timeout=60) as resp:
        model = json.load(resp)
    assert model["type"] == "notebook" and model["writable"], model["path"]
    sources = [c["source"] for c in model["content"]["cells"]]
    assert sources == [c.source for c in klass.saved[klass.ada].cells], "not the lab Ada fetched and saved"


def test_the_lab_renders_through_the_hub_in_chromium(klass, tmp_path):
    """The same lab in a real browser: login form, the hub's proxy, the kernel's websocket."""
    try:
        chromium = provision.ensure_chromium()
        provision.ensure_playwright()
    except provision.Missing as exc:
        pytest.skip(f"no browser here, so the lab was checked over HTTP only: {exc}")
    from playwright.sync_api import expect, sync_playwright

    release = nbformat.read(ROOT / "labs" / LAB / NOTEBOOK, as_version=4)
    title = re.match(r"#\s+(.+)", release.cells[0].source).group(1).strip()
    shot = ARTIFACTS / "student-lab-through-the-hub.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot.unlink(missing_ok=True)
    with sync_playwright() as pw:
        browser = provision.chromium_context(pw, chromium, tmp_path / "chromium-profile")
        try:
            page = browser.new_page()
            page.goto(f"{klass.hub.url}/hub/login?next=/user/{klass.ada}/lab/tree/{COURSE}/{LAB}/{NOTEBOOK}")
            page.fill("#username_input", klass.ada)
            page.fill("#password_input", "any")
            page.click("#login_submit")
            notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
            expect(notebook.locator("h1", has_text=title)).to_be_visible(timeout=90_000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first).to_be_attached(
                timeout=90_000
            )
            assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
            assert f"/user/{klass.ada}/lab/tree/" in page.url, page.url
            page.screenshot(path=str(shot))
        finally:
            browser.close()


def test_unknown_profiles_are_refused_and_profiles_reach_the_grader(klass):
    hub = klass.hub
    status, _ = hub.api("POST", "users", {"usernames": [f"{klass.ada}-np"]})
    assert status == 201
    status, body = hub.api("POST", f"users/{klass.ada}-np/server", {"profile": "quantum"})
    assert status == 400 and "unknown profile" in str(body), (status, body)
    hub.api("DELETE", f"users/{klass.ada}-np")

    rc, out = klass.kernels[klass.ada].sh("autograder", "doctor", timeout=180)
    assert rc == 0, out
    assert re.search(rf"08-dask\s+real\s+Dask scheduler at {re.escape(klass.scheduler)}", out), out
    assert "AUTOGRADER_REQUIRE=cluster" in out and "Grading isolation: userns" in out, out

    rc, out = klass.kernels[klass.bea].sh("autograder", "doctor", timeout=180)
    assert "AUTOGRADER_REQUIRE=gpu" in out, out
    from autograder import hardware

    if hardware.gpu_present():
        assert rc == 0, out
    else:
        assert rc == 1 and "gpu required but this machine has no NVIDIA GPU" in out, out


# --- the exchange ------------------------------------------------------------------------------


def test_only_enrolled_students_fetch(klass):
    rc, out = klass.steps["fetch before enrolment (bea)"]
    assert rc != 0 and "You do not have access to this course" in out, (
        f"{klass.bea} fetched a lab of a course she does not take:\n{out}"
    )
    for student in (klass.ada, klass.bea):
        assert (klass.home(student) / COURSE / LAB / NOTEBOOK).is_file()


def test_collected_submissions_are_each_students_own(klass):
    assert "cheating attempt" not in klass.steps["5 collect"][1]
    for student in (klass.ada, klass.bea):
        got = nbformat.read(klass.course_dir() / "submitted" / student / LAB / NOTEBOOK, as_version=4)
        assert [c.source for c in got.cells] == [c.source for c in klass.saved[student].cells], student


def test_no_student_can_read_another_students_work(klass):
    """Bea, in her own kernel, tries what a curious student would try on Ada's work."""
    course = klass.exchange / COURSE
    ada_home = klass.home(klass.ada)
    attempts = {
        "list inbound": f"os.listdir({str(course / 'inbound')!r})",
        "glob inbound": f"glob.glob({str(course / 'inbound' / (klass.ada + '+*'))!r})",
        "list feedback": f"os.listdir({str(course / 'feedback')!r})",
        "list home": f"os.listdir({str(ada_home)!r})",
        "read fetched lab": f"open({str(ada_home / COURSE / LAB / NOTEBOOK)!r}).read(9)",
        "move course": f"os.rename({str(course)!r}, {str(course) + '-x'!r})",
        "move release": f"os.rename({str(course / 'outbound')!r}, {str(course / 'x')!r})",
    }
    probe = (
        "import glob, json, os\n"
        "def attempt(expr):\n"
        "    try:\n"
        "        return repr(eval(expr))\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        f"print(json.dumps({{name: attempt(expr) for name, expr in {attempts!r}.items()}}))\n"
    )
    result = klass.kernels[klass.bea].run(probe)
    assert result.status == "ok", result.summary()
    seen = json.loads(result.stdout)
    assert seen == {
        "list inbound": "PermissionError",
        "glob inbound": "[]",
        "list feedback": "PermissionError",
        "list home": "PermissionError",
        "read fetched lab": "PermissionError",
        "move course": "PermissionError",
        "move release": "PermissionError",
    }, seen
    # Both submissions and both feedback files are there: the refusals are not emptiness.
    assert len(list((course / "inbound").iterdir())) == 2
    assert len(list((course / "feedback").iterdir())) == 2
    # The modes docs/jupyterhub.md lists, as nbgrader made them.
    modes = {
        str(p.relative_to(klass.exchange)): (oct(p.stat().st_mode & 0o7777), p.owner())
        for p in (klass.exchange, course, course / "outbound", course / "inbound", course / "feedback")
    }
    assert modes == {
        ".": ("0o1777", "root"),
        COURSE: ("0o755", klass.teacher),
        f"{COURSE}/outbound": ("0o755", klass.teacher),
        f"{COURSE}/inbound": ("0o2733", klass.teacher),
        f"{COURSE}/feedback": ("0o711", klass.teacher),
    }, modes


# --- grades and feedback -----------------------------------------------------------------------


def _scores(klass) -> dict[str, tuple[float, float]]:
    with open(klass.course_dir() / "grades.csv") as fh:
        return {
            row["student_id"]: (float(row["score"]), float(row["max_score"]))
            for row in csv.DictReader(fh)
            if row["assignment"] == LAB
        }


def test_the_gradebook_holds_the_expected_scores(klass):
    release = nbformat.read(klass.course_dir() / "labs" / LAB / NOTEBOOK, as_version=4)
    points = graded_cells(release)
    total = sum(points.values())
    speed = measured_speed_cells(ROOT / "solutions" / LAB, release)
    scores = _scores(klass)
    assert scores[klass.ada] == (total, total), (scores, klass.steps["6 autograder grade"][1][-2000:])
    assert scores[klass.bea] == (total - sum(points[c] for c in speed), total), (
        scores, sorted(speed), klass.steps["6 autograder grade"][1][-2000:])  # fmt: skip
    assert "Isolation: student code runs in its own user" in klass.steps["6 autograder grade"][1]


def _feedback(klass, student: str) -> str:
    found = sorted((klass.home(student) / COURSE / LAB / "feedback").glob(f"*/{Path(NOTEBOOK).stem}.html"))
    assert len(found) == 1, found
    return found[0].read_text()


def test_each_student_fetches_their_own_feedback(klass):
    scores = _scores(klass)
    pages = {s: _feedback(klass, s) for s in (klass.ada, klass.bea)}
    for student, page in pages.items():
        score, total = scores[student]
        assert re.search(rf"Score:\s*{score:g}(\.0+)?\s*/\s*{total:g}", page), (student, page[:2000])
    assert "[FAIL]" not in pages[klass.ada] and "[FAIL]" in pages[klass.bea]


# --- what each user's server runs under ----------------------------------------------------------


def test_each_server_runs_in_a_cgroup_that_caps_memory_and_processes(klass):
    """Bea's server, her kernel and what it starts share one cgroup: 2 GiB, 512 processes.
    A child that touches 4 GiB is killed by the kernel's OOM killer; the kernel lives on."""
    probe = (
        "import json, os, subprocess, sys\n"
        "groups = dict(l.split(':', 2)[1:] for l in open('/proc/self/cgroup').read().splitlines())\n"
        "v1 = 'memory' in groups\n"
        "mem = '/sys/fs/cgroup/memory' + groups['memory'] if v1 else '/sys/fs/cgroup' + groups['']\n"
        "pids = '/sys/fs/cgroup/pids' + groups['pids'] if v1 else mem\n"
        "limit = open(mem + ('/memory.limit_in_bytes' if v1 else '/memory.max')).read().strip()\n"
        "most = open(pids + '/pids.max').read().strip()\n"
        "hog = subprocess.run([sys.executable, '-c', 'keep = [b\"x\" * (256 << 20) for _ in range(16)]'])\n"
        "print(json.dumps({'path': mem, 'limit': limit, 'pids': most, 'hog': hog.returncode,\n"
        "                  'MEM_LIMIT': os.environ.get('MEM_LIMIT')}))\n"
    )
    result = klass.kernels[klass.bea].run(probe, timeout=120)
    assert result.status == "ok", result.summary()
    seen = json.loads(result.stdout)
    assert seen["path"].endswith(f"/hub-{klass.bea}"), seen
    two_gib = str(2 * 1024**3)
    assert (seen["limit"], seen["pids"], seen["MEM_LIMIT"]) == (two_gib, "512", two_gib), seen
    assert seen["hog"] == -9, f"4 GiB in a 2 GiB cgroup was not killed: {seen}"
    assert klass.kernels[klass.bea].run("print(1 + 1)").stdout.strip() == "2"


def test_dask_dashboard_opens_through_the_hub(klass):
    code = (
        "from distributed import Client, LocalCluster\n"
        "cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, "
        "dashboard_address='127.0.0.1:0')\n"
        "client = Client(cluster)\n"
        "print(client.dashboard_link)\n"
    )
    kernel = klass.kernels[klass.ada]
    result = kernel.run(code, timeout=120)
    assert result.status == "ok", result.summary()
    link = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"/user/{klass.ada}/proxy/\d+/status", link), link
    try:
        status, page = klass.servers[klass.ada].request("GET", link.split(f"/user/{klass.ada}/", 1)[1])
        assert status == 200 and b"Dask" in page, (status, page[:500])
    finally:
        kernel.run("client.close(); cluster.close()")
