"""Runners: how a batch of calls is made and timed.

Both runners present the same interface to measure.py:
``run(args_list, metric) -> Batch``. The InProcessRunner serves the self-check in the
student's own kernel (fast feedback; trusts the kernel). The WorkerRunner serves
grading: the code runs in another process (or under mpiexec), and the time, CPU
evidence and peak memory are all read from here, outside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil

from . import capacity, channel, monitor_service, wire
from .capacity import Capacity
from .cpu_monitor import CpuEvidence, CpuMonitor
from .errors import BackendMissing, BadSubmission, CellCrashed, GradingFault
from .invoke import answer_value, call, call_reported
from .sandbox.box import status_kib

if TYPE_CHECKING:
    from .sandbox import Box, Confined


@dataclass(frozen=True)
class Batch:
    outputs: list[Any]
    wall_s: float
    cpu: CpuEvidence | None = None
    peak_bytes: int | None = None
    cpu_s: float | None = None  # the worker's CPU time over the batch, children included
    reports: list[Any] | None = None  # per call, what the resource saw (Exercise.after_call)


def _cpu_seconds(pid: int) -> float | None:
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return t.user + t.system + t.children_user + t.children_system


class PeakMemory:
    """Peak resident memory of one process during a window, via the kernel's high-water mark.

    Writing 5 to /proc/PID/clear_refs resets VmHWM to the current RSS (Linux >= 4.0), so
    the peak is read by the kernel, not by code the student could replace.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_bytes = 0

    def __enter__(self) -> PeakMemory:
        with open(f"/proc/{self.pid}/clear_refs", "w") as fh:
            fh.write("5")
        self._before = status_kib(self.pid, "VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_bytes = max(0, status_kib(self.pid, "VmHWM") - self._before) * 1024


class _ConfinedPeak:
    """Peak memory of a confined worker's whole process tree, from its cgroup: the
    student's code can neither reset it nor hide allocations in a child process."""

    def __init__(self, confined: Confined) -> None:
        self.confined = confined
        self.peak_bytes = 0

    def __enter__(self) -> _ConfinedPeak:
        self.confined.start_peak()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_bytes = self.confined.peak_bytes()


class InProcessRunner:
    """Calls ``fn`` here, in this process: the self-check inside the student's kernel."""

    def __init__(self, fn: Callable[..., Any], label: str, prefix: tuple = ()) -> None:
        self.fn, self.label, self.prefix = fn, label, prefix

    def run(self, args_list: list[tuple], metric: str = "time", monitor: bool = False) -> Batch:
        if metric == "peak_memory":
            # A kernel is full of freed memory that a call may reuse, so its RSS says
            # little; Python's own allocation tracing is the better self-check.
            (args,) = args_list
            was_tracing = tracemalloc.is_tracing()
            if not was_tracing:
                tracemalloc.start()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            try:
                out = call(self.fn, self.prefix + tuple(args), self.label)
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                if not was_tracing:
                    tracemalloc.stop()
            return Batch([wire.plain(out)], 0.0, peak_bytes=max(0, peak))
        outs, reports = [], []
        resource = self.prefix[0] if self.prefix else None
        mon = CpuMonitor(os.getpid()) if monitor else contextlib.nullcontext()
        with mon:
            t0 = time.perf_counter()
            for args in args_list:
                out, report = call_reported(self.fn, self.prefix + tuple(args), self.label, resource)
                outs.append(out)
                reports.append(wire.plain(report))
            wall = time.perf_counter() - t0
        return Batch(
            [wire.plain(o) for o in outs],
            wall,
            mon.evidence if monitor else None,
            reports=reports if any(r is not None for r in reports) else None,
        )

    def value(self) -> Any:
        return wire.plain(answer_value(self.fn, self.label))

    def probe(self, workers: int, seconds: float) -> Capacity:
        return capacity.probe(workers, seconds)

    def fresh(self) -> InProcessRunner:
        return self

    def close(self) -> None:
        pass


def _mpiexec() -> str:
    from .hardware import mpiexec_path

    found = mpiexec_path()
    if not found:
        raise BackendMissing(
            "no mpiexec found: run `make setup` (it installs the mpich wheel) or install MPICH"
        )
    return found


class WorkerRunner:
    """Runs code in a separate process and times it from here.

    setup: the first message, e.g. {"kind": "cells", "cells": [...], "cwd": ...} for a
    student's notebook, or {"kind": "lab", "lab_dir": ..., "exercise": ..., "role":
    "baseline"} for the course's code.
    box: student code runs confined in this box (sandbox/), its peak memory read from
    its cgroup. quiet: a context manager factory held around every call: the supervisor
    freezes the student's box while the course's baseline is timed. network: the box keeps
    the host's network (only for a backend the instructor configured on other hosts).
    companion(pid): started beside a confined worker once its box exists (the services a
    lab's code talks to); its ``report()``, read from here around each batch, replaces the
    reports the worker sends, and it is closed with the worker.
    """

    def __init__(
        self,
        setup: dict[str, Any],
        target: str,
        label: str,
        *,
        env: dict[str, str] | None = None,
        mpi_ranks: int | None = None,
        timeout_s: float = 300.0,
        box: Box | None = None,
        quiet: Callable[[], contextlib.AbstractContextManager] | None = None,
        network: bool = False,
        companion: Callable[[int], Any] | None = None,
    ) -> None:
        self.target, self.label, self.timeout_s = target, label, timeout_s
        self._args = (setup, env, mpi_ranks, box, quiet, network, companion)
        self.box, self.quiet, self.confined = box, quiet, None
        self.companion: Any = None  # what the grader runs beside a confined worker (its services)
        # The grader's end of the channel: a folder only root (or this user) can enter,
        # except for a confined worker, whose socket must be inside its own box.
        self._dir = tempfile.mkdtemp(prefix="autograder-")
        os.chmod(self._dir, 0o700)
        sock_dir = tempfile.mkdtemp(prefix="w", dir=box.run) if box else self._dir
        path = os.path.join(sock_dir, "sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        cmd = [sys.executable, "-m", "autograder.worker", path]
        if mpi_ranks:
            cmd = [_mpiexec(), "-n", str(mpi_ranks), *cmd, "--mpi"]
        self._log = open(os.path.join(self._dir, "log"), "w+b")  # noqa: SIM115 - lives with self
        popen = dict(stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        if box is not None:
            box.give(sock_dir)
            self.confined = box.spawn(cmd, env=env, cwd=setup.get("cwd"), network=network, **popen)
            self.proc = self.confined.proc
            if companion is not None:
                try:
                    self.companion = companion(self.proc.pid)
                except (OSError, RuntimeError) as exc:
                    self.close()
                    raise GradingFault(f"the grader's services for {label} did not start: {exc}") from None
        else:
            self.proc = subprocess.Popen(
                cmd,
                **popen,
                env={**os.environ, **(env or {})},
                cwd=setup.get("cwd") or None,
                start_new_session=True,  # so a timeout can end the whole process group
            )
        listener.settimeout(min(timeout_s, 120.0))
        try:
            self.sock, _ = listener.accept()
        except OSError:
            self.close()
            raise BadSubmission(f"the worker for {label} did not start: {self.log_tail()}") from None
        finally:
            listener.close()
        try:
            reply = self._exchange(setup)
        except BadSubmission as exc:
            cell = self._last_cell() if setup.get("kind") == "cells" else None
            if cell is None:
                raise
            raise CellCrashed(str(exc), cell) from None
        if not reply.get("ok"):
            self.close()
            raise BadSubmission(reply.get("error", "setup failed"))

    def _log_text(self) -> str:
        if self._log.closed:
            return getattr(self, "_final_log", "")
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def _last_cell(self) -> int | None:
        """The cell the worker was running when it died or stalled (see worker.CELL_MARK)."""
        from .worker import CELL_MARK

        marks = [line for line in self._log_text().splitlines() if line.startswith(CELL_MARK)]
        return int(marks[-1][len(CELL_MARK) :]) if marks else None

    def log_tail(self, chars: int = 600) -> str:
        lines = self._log_text().splitlines()
        text = "\n".join(line for line in lines if not line.startswith("\x00")).strip()
        return text[-chars:] or "(no output)"

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        """Turn a silent or vanished worker into one sentence for the student."""
        self.sock.settimeout(self.timeout_s)
        try:
            yield
        except TimeoutError:
            self.close()
            raise BadSubmission(
                f"{self.label} did not finish within {self.timeout_s:.0f} s; look for an endless loop"
            ) from None
        except (EOFError, ConnectionError):
            raise self._died() from None

    def _exchange(self, msg: dict[str, Any]) -> dict[str, Any]:
        with self._talking():
            channel.send(self.sock, msg)
            return channel.recv(self.sock)

    def _died(self) -> BadSubmission:
        tail = self.log_tail()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=2)
        why = self.confined.death_reason() if self.confined else ""
        self.close()
        if why:
            return BadSubmission(
                f"the process running {self.label} was stopped: {why}. Its last output: {tail}"
            )
        return BadSubmission(
            f"the process running {self.label} ended unexpectedly (did the code call os._exit, "
            f"crash, or run out of memory?). Its last output: {tail}"
        )

    def _checked(self, reply: dict[str, Any]) -> Any:
        if not reply.get("ok"):
            raise BadSubmission(reply.get("error", "unknown error"))
        return reply["result"]

    def _quiet(self) -> contextlib.AbstractContextManager:
        return self.quiet() if self.quiet else contextlib.nullcontext()

    def run(self, args_list: list[tuple], metric: str = "time", monitor: bool = False) -> Batch:
        if self.sock.fileno() == -1:
            raise BadSubmission(f"the process running {self.label} was already stopped by an earlier call")
        request = wire.encode(
            {"op": "call", "target": self.target, "label": self.label, "args": [list(a) for a in args_list]}
        )
        if metric != "peak_memory":
            mem = contextlib.nullcontext()
        elif self.confined is not None:
            mem = _ConfinedPeak(self.confined)
        else:
            mem = PeakMemory(self.proc.pid)
        # Threads busy before the call are left out of its evidence; not under MPI, whose
        # waiting ranks spin between calls by design.
        background = not self._args[2]
        mon = monitor_service.watching(self.proc.pid, background) if monitor else None
        if self.companion is not None:
            self._companion_report()  # the window of this batch starts here
        with self._quiet(), self._talking(), mem, mon or contextlib.nullcontext() as watch:
            cpu0 = _cpu_seconds(self.proc.pid)
            # The clock runs from sending the inputs to receiving the outputs, so
            # nothing the worker does can start early or be left out.
            t0 = time.perf_counter()
            channel.send_bytes(self.sock, request)
            raw = channel.recv_bytes(self.sock)
            wall = time.perf_counter() - t0
            cpu1 = _cpu_seconds(self.proc.pid)
        reply = wire.decode(raw)
        outputs = self._checked(reply)
        if not isinstance(outputs, list) or len(outputs) != len(args_list):
            raise BadSubmission(f"the worker for {self.label} sent a malformed reply")
        if self.companion is not None:
            # What the grader's own services saw over the whole batch, for every call in it; what
            # the student's process says it saw is never used.
            reply["reports"] = [self._companion_report()] * len(args_list)
        return Batch(
            outputs,
            wall,
            watch.evidence if monitor else None,
            mem.peak_bytes if metric == "peak_memory" else None,
            cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None,
            reply.get("reports") if isinstance(reply.get("reports"), list) else None,
        )

    def _companion_report(self) -> Any:
        try:
            return wire.plain(self.companion.report())
        except (OSError, ValueError) as exc:
            raise GradingFault(f"the grader could not read its services' counters: {exc}") from None

    def value(self) -> Any:
        return self._checked(self._exchange({"op": "value", "target": self.target}))

    def probe(self, workers: int, seconds: float) -> Capacity:
        """The capacity probe, run by this worker (the baseline's), while the box is quiet."""
        with self._quiet():
            reply = self._checked(self._exchange({"op": "probe", "workers": workers, "seconds": seconds}))
        return Capacity(**reply)

    def fresh(self) -> WorkerRunner:
        """A new process with the same setup: peak memory is read from fresh processes,
        because a process that already freed memory can reuse it without the kernel
        seeing a new peak."""
        setup, env, ranks, box, quiet, network, companion = self._args
        return WorkerRunner(
            setup,
            self.target,
            self.label,
            env=env,
            mpi_ranks=ranks,
            timeout_s=self.timeout_s,
            box=box,
            quiet=quiet,
            network=network,
            companion=companion,
        )

    def close(self) -> None:
        if self.companion is not None:
            with contextlib.suppress(Exception):
                self.companion.close()
            self.companion = None
        if self.confined is not None:
            with contextlib.suppress(Exception):
                channel.send(self.sock, {"op": "exit"})
                self.proc.wait(timeout=5)
            self.confined.kill()  # and everything the student's code started
        elif getattr(self, "proc", None) is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                channel.send(self.sock, {"op": "exit"})
                self.proc.wait(timeout=10)
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(Exception):
            self.sock.close()
        if not self._log.closed:
            self._final_log = self._log_text()  # kept: a death's explanation is read after
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> WorkerRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
