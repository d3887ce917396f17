"""The box student code runs in: what it can see, reach and use, measured from outside."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import ROOT

from autograder.measure import _slowed_from_outside
from autograder.runners import Batch
from autograder.sandbox import Box, Limits, isolation_mode, sweep
from autograder.sandbox.box import FreezeBroken, box_parent

ROOT_MODE = pytest.mark.skipif(isolation_mode() != "root", reason="needs the root sandbox")


def run_in(box: Box, code: str, timeout: float = 60) -> tuple[int, str]:
    confined = box.spawn([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = confined.proc.communicate(timeout=timeout)
    return confined.proc.returncode, out.decode()


PROBE = f"""
import os, socket
print("uid", os.getuid())
hidden = [{str(ROOT / "solutions")!r}, {str(ROOT / "gradebook.db")!r},
          {str(ROOT / "tests")!r}, "/root/.cache"]
for path in hidden:
    print("sees", path, os.path.exists(path))
try:
    open({str(ROOT / "autograder" / "spec.py")!r}, "a")
    print("wrote the package")
except OSError as exc:
    print("package read-only", type(exc).__name__)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network on")
except OSError:
    print("network off")
server = socket.socket()
server.bind(("127.0.0.1", 0))
print("loopback", server.getsockname()[0])
print("processes", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
"""


@pytest.mark.parametrize("mode", ["root", "userns"])
def test_a_box_sees_only_its_own_files_and_processes(mode, monkeypatch):
    if mode == "root" and isolation_mode() != "root":
        pytest.skip("needs root")
    monkeypatch.setenv("AUTOGRADER_ISOLATION", mode)
    with Box() as box:
        code, out = run_in(box, PROBE)
    assert code == 0, out
    assert "sees" in out and " True" not in out, out
    assert "package read-only" in out and "network off" in out and "loopback 127.0.0.1" in out, out
    assert "processes [1, 2]" in out, out  # the box's init and the command, nothing else
    if mode == "root":
        assert "uid 0" not in out, out
    else:
        assert "uid 1000" in out, out


@ROOT_MODE
def test_memory_bomb_is_stopped_at_the_limit_and_said_so():
    with Box(limits=Limits(memory_bytes=256 * 2**20)) as box:
        code, out = run_in(box, "x = []\nwhile True:\n    x.append(bytearray(32 * 2**20))")
        confined = box._spawned[-1]
        assert code != 0
        assert "256 MiB memory limit" in confined.death_reason()


@ROOT_MODE
def test_fork_bomb_is_capped_and_killed():
    with Box(limits=Limits(processes=32)) as box:
        bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
        box.spawn([sys.executable, "-c", bomb], stdout=subprocess.PIPE)
        time.sleep(3)
        assert box.cgroup.usage().pids <= 32
        box.kill_all()
        assert box.cgroup.pids() == []


@ROOT_MODE
def test_peak_memory_sees_children_and_cannot_be_reset_by_the_code():
    hide = (
        "import os, sys, time\n"
        "sys.stdin.readline()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    x = bytearray(200 * 2**20)\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "try:\n"
        "    open('/proc/self/clear_refs', 'w').write('5')\n"
        "except OSError:\n"
        "    pass\n"
        "print('done', flush=True)\n"
    )
    with Box() as box:
        confined = box.spawn(
            [sys.executable, "-c", hide], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.5)  # interpreter started
        confined.start_peak()
        confined.proc.stdin.write("go\n")
        confined.proc.stdin.flush()
        assert confined.proc.stdout.readline().strip() == "done"
        assert confined.peak_bytes() >= 190 * 2**20


@ROOT_MODE
def test_frozen_box_gets_no_cpu():
    with Box() as box:
        confined = box.spawn([sys.executable, "-c", "while True: pass"])
        time.sleep(1)
        with box.frozen():
            pid = confined.command_pid()
            before = psutil.Process(pid).cpu_times().user
            time.sleep(0.5)
            during = psutil.Process(pid).cpu_times().user - before
        assert during < 0.02, f"burned {during:.3f} s of CPU while frozen"


# A CPU burner with eight children that wake every process they can see: what a student's
# daemon does to undo a freeze made of signals (the burner is stopped first, then woken by a
# child not yet stopped).
_WAKER = (
    "import os, signal\n"
    "for _ in range(8):\n"
    "    if os.fork() == 0:\n"
    "        while True:\n"
    "            for entry in os.listdir('/proc'):\n"
    "                if entry.isdigit() and int(entry) != os.getpid():\n"
    "                    try:\n"
    "                        os.kill(int(entry), signal.SIGCONT)\n"
    "                    except OSError:\n"
    "                        pass\n"
    "while True:\n"
    "    pass\n"
)


@contextlib.contextmanager
def _frozen_by(box, how):
    """Freeze by the box's cgroup, or by signals as a box without root does."""
    group = box.cgroup
    if how == "signals":
        box.cgroup = None
    try:
        with box.frozen():
            yield
    finally:
        box.cgroup = group


def _box_cpu(confined):
    root = psutil.Process(confined.command_pid())
    return sum(p.cpu_times().user + p.cpu_times().system for p in [root, *root.children(recursive=True)])


@ROOT_MODE
@pytest.mark.parametrize("how", ["cgroup", "signals"])
def test_a_freeze_holds_against_processes_that_wake_each_other(how):
    with Box() as box:
        confined = box.spawn([sys.executable, "-c", _WAKER])
        time.sleep(1)
        with _frozen_by(box, how):
            before = _box_cpu(confined)
            time.sleep(0.5)
            during = _box_cpu(confined) - before
        assert during < 0.03, f"the box burned {during:.3f} s of CPU while frozen ({how})"


@ROOT_MODE
def test_a_freeze_that_did_not_hold_is_reported_not_trusted():
    with Box() as box:
        confined = box.spawn([sys.executable, "-c", "while True: pass"])
        time.sleep(1)
        with pytest.raises(FreezeBroken, match="used .* s of CPU while they were meant to be stopped"):
            with _frozen_by(box, "signals"):
                for proc in psutil.Process(confined.pid).children(recursive=True):
                    proc.send_signal(signal.SIGCONT)  # as a waker the freeze missed would
                time.sleep(0.3)


@ROOT_MODE
def test_sweep_removes_a_box_its_grader_left_behind(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_BOX_DIR", f"/var/tmp/autograder-test-{os.getpid()}")
    box = Box()
    box.spawn(["sleep", "300"])
    time.sleep(0.5)
    assert box.cgroup.pids()
    assert sweep(box_parent()) == 1
    assert box.cgroup.pids() == [] and not box.dir.exists()


@ROOT_MODE
def test_a_new_box_sweeps_the_boxes_of_a_grader_that_was_killed(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_BOX_DIR", f"/var/tmp/autograder-test-{os.getpid()}-orphans")
    orphan = Box()
    orphan.spawn(["sleep", "300"])
    (orphan.dir / ".owner").write_text("999999999 0")  # as if its grader had died
    with Box() as fresh:
        assert not orphan.dir.exists() and orphan.cgroup.pids() == []
        assert fresh.dir.exists()


def test_a_baseline_kept_waiting_is_noticed():
    from autograder.measure import Policy
    from autograder.spec import Exercise

    ex = Exercise("e", "e", make_input=lambda rng, small: (1,), baseline=lambda x: x)
    assert _slowed_from_outside(ex, Batch([], wall_s=0.30, cpu_s=0.10), Policy())
    assert not _slowed_from_outside(ex, Batch([], wall_s=0.30, cpu_s=0.29), Policy())
    waits = Exercise(
        "w", "w", make_input=lambda rng, small: (1,), baseline=lambda x: x, baseline_cpu_bound=False
    )
    assert not _slowed_from_outside(waits, Batch([], wall_s=0.30, cpu_s=0.01), Policy())


def test_without_isolation_grading_refuses_unless_told(monkeypatch):
    from autograder.sandbox import SandboxUnavailable, require_isolation
    from autograder.sandbox import box as box_module

    monkeypatch.setattr(box_module, "isolation_mode", lambda: "none")
    monkeypatch.delenv("AUTOGRADER_ISOLATION", raising=False)
    with pytest.raises(SandboxUnavailable, match="refusing to grade"):
        require_isolation()
    assert require_isolation(unsafe=True) == "none"


def test_links_in_a_submission_do_not_bring_files_in(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the answer key")
    sub = tmp_path / "submission"
    (sub / "data").mkdir(parents=True)
    (sub / "key.txt").symlink_to(secret)
    (sub / "data" / "key.txt").symlink_to(secret)
    with Box(sorted(sub.iterdir())) as box:
        code, out = run_in(
            box,
            "import os\nfor p in ('key.txt', 'data/key.txt'):\n"
            "    try:\n        print(open(p).read())\n    except OSError as e:\n        print('no', p)\n",
        )
    assert "the answer key" not in out and "no key.txt" in out and "no data/key.txt" in out, out


def test_a_python_installation_under_tmp_stays_visible(tmp_path, monkeypatch):
    """A clone (and its venv) under /tmp: the box's own /tmp must not hide it."""
    from autograder.sandbox import box as box_module

    shared = tmp_path / "venv-like"
    shared.mkdir()
    (shared / "marker.txt").write_text("visible")
    paths = box_module._python_paths()
    monkeypatch.setattr(box_module, "_python_paths", lambda: [*paths, str(shared)])
    with Box() as box:
        code, out = run_in(box, f"print(open({str(shared / 'marker.txt')!r}).read())")
    assert code == 0 and "visible" in out, out


def test_a_box_folder_too_deep_for_unix_sockets_is_refused_up_front(monkeypatch):
    """The kernel's ZMQ sockets live in the box: a path over 107 bytes would fail every
    submission with 'File name too long', so the box says so before anything runs."""
    from autograder.sandbox import SandboxUnavailable

    deep = "/var/tmp/" + "/".join(["a-rather-long-folder-name"] * 4)
    monkeypatch.setenv("AUTOGRADER_BOX_DIR", deep)
    with pytest.raises(SandboxUnavailable, match="shorter path"):
        Box([])
    assert not os.path.exists("/var/tmp/a-rather-long-folder-name"), "nothing is made there"
