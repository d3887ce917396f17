"""The CPU monitor, run in a process and session of its own, at the measured code's priority.

Timed sessions go ahead of the machine's others (``reserve.timing_priority``: autogroup nice
-10). A sampler thread left in the grader's session, at nice 0, then waited 70-170 ms for a
core between its 10 ms samples while a 2-worker pool kept both cores busy: the pool's last
0.1 s before its workers exited was seen by no sample, and unseen CPU counts as the busiest
thread's, so an honest pool read a CPU ratio under 1.2 in about 1 sample of 10. In a session
of its own, at the timed sessions' nice, the sampler waits at most about 30 ms.

The service is started on first use and lives as long as the grader: it reads one request
per line on stdin, and ends when stdin closes (the grader exited, however it exited).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict

import psutil

from .cpu_monitor import CpuEvidence, CpuMonitor
from .errors import GradingFault
from .reserve import TIMING_NICE


def _python_path() -> str:
    """Where this `autograder` imports from, ahead of the grader's own path (no empty entry:
    that would put the working directory on a root process's path)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.pathsep.join(p for p in [here, *os.environ.get("PYTHONPATH", "").split(os.pathsep)] if p)


class Watch:
    """What ``watching`` yields: the evidence, once the window has closed."""

    evidence: CpuEvidence | None = None


class MonitorService:
    """One monitor process, serving one window at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None

    def _started(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from autograder.monitor_service import serve; serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own autogroup, whose nice it may set
                env={**os.environ, "PYTHONPATH": _python_path()},
            )
        return self._proc

    def _ask(self, request: dict) -> dict:
        # A monitor process that died between windows is replaced; one that dies within a
        # window took the window's evidence with it.
        proc = self._started() if request["op"] == "start" else self._proc
        line = ""
        with contextlib.suppress(OSError, AttributeError):  # a broken pipe; no process
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        if not line:
            self.close()
            raise GradingFault("the grader's CPU monitor process ended: this call's CPU evidence is lost")
        reply = json.loads(line)
        if reply.get("gone"):
            raise psutil.NoSuchProcess(request.get("pid", 0))
        if "error" in reply:
            raise GradingFault(f"the grader's CPU monitor failed: {reply['error']}")
        return reply

    @contextlib.contextmanager
    def watching(self, pid: int, leave_out_background: bool = False) -> Iterator[Watch]:
        """Sample ``pid``'s process tree for the duration of the block, as CpuMonitor does."""
        with self._lock:
            self._ask({"op": "start", "pid": pid, "leave_out_background": leave_out_background})
            watch = Watch()
            try:
                yield watch
            finally:
                watch.evidence = CpuEvidence(**self._ask({"op": "stop"})["evidence"])

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_SERVICE = MonitorService()
atexit.register(_SERVICE.close)


def watching(pid: int, leave_out_background: bool = False) -> contextlib.AbstractContextManager[Watch]:
    """The shared monitor process's window on ``pid`` (see MonitorService.watching)."""
    return _SERVICE.watching(pid, leave_out_background)


def serve() -> None:
    """The monitor process's loop: start and stop requests in, one JSON reply line each."""
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as f:
        f.write(str(TIMING_NICE))  # needs CAP_SYS_NICE, as the timed sessions' nice does
    monitor: CpuMonitor | None = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "start":
                monitor = CpuMonitor(request["pid"], leave_out_background=request["leave_out_background"])
                monitor.__enter__()
                reply: dict = {"ok": True}
            elif monitor is None:
                reply = {"error": "a stop with no window started"}
            else:
                monitor.__exit__(None, None, None)
                reply = {"evidence": asdict(monitor.evidence)}
                monitor = None
        except psutil.NoSuchProcess:
            reply, monitor = {"gone": True}, None
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the grader in words
            reply, monitor = {"error": f"{type(exc).__name__}: {exc}"}, None
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
