"""The process that runs code for the supervisor: the student's cells, or the course's baseline.

Started as ``python -m autograder.worker SOCKET [--mpi]``. It connects to the
supervisor's socket, receives one setup message, then answers call requests until told
to exit. Every message is plain data (wire.py). The worker never times anything: the
supervisor's clock is the only one that counts, so replacing ``time.perf_counter``
here changes nothing.

Under ``mpiexec`` (``--mpi``) only rank 0 talks to the supervisor; it broadcasts each
request to the other ranks, every rank calls ``target(comm, *args)``, and rank 0's
result is returned.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
from typing import Any

from . import capacity, channel, wire
from .errors import AutograderError, BadSubmission
from .invoke import answer_value, call_reported
from .resources import open_resource

CELL_MARK = "\x00autograder-cell "


def _run_cells(cells: list[str], cwd: str) -> tuple[dict[str, Any], list[str]]:
    """Execute notebook cells (magics included: %%cython, %%writefile) in a fresh shell.

    A failing cell does not stop the rest, as in the notebook: exercise 2 can still be
    graded when exercise 1 was left unanswered. The failures are kept for messages.
    """
    from IPython.core.interactiveshell import InteractiveShell

    os.chdir(cwd)
    sys.path.insert(0, cwd)
    shell = InteractiveShell.instance()
    failures = []
    for index, source in enumerate(cells, 1):
        if not source.strip():
            continue
        first = source.strip().splitlines()[0][:60]
        # A cell that kills or hangs this process is named by the last of these lines in
        # the log, so the supervisor can start again without it.
        os.write(1, f"{CELL_MARK}{index}\n".encode())
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors):
            result = shell.run_cell(source, store_history=False, silent=True)
        sys.stderr.write(errors.getvalue())
        err = result.error_before_exec or result.error_in_exec
        if err is not None:
            failures.append(f"cell {index} ({first!r}) raised {type(err).__name__}: {err}")
        elif "Error compiling Cython file" in errors.getvalue():
            # The %%cython magic prints compile errors instead of raising them.
            detail = errors.getvalue().strip().splitlines()[-1].split(": ", 1)[-1]
            failures.append(f"cell {index} ({first!r}) did not compile with Cython: {detail}")
    return shell.user_ns, failures


def _import_module(cwd: str, module: str, attr: str) -> dict[str, Any]:
    import importlib

    os.chdir(cwd)
    sys.path.insert(0, cwd)
    try:
        return {attr: getattr(importlib.import_module(module), attr)}
    except Exception as exc:  # noqa: BLE001 - reported to the student as a sentence
        raise BadSubmission(
            f"could not import {attr} from {module}.py: {type(exc).__name__}: {exc}"
        ) from None


def _setup(msg: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return (namespace of callables by name, failures met while building it)."""
    if msg["kind"] == "cells":
        namespace, failures = _run_cells(msg["cells"], msg["cwd"])
        return namespace, [*msg.get("notes", []), *failures]
    if msg["kind"] == "module":
        return _import_module(msg["cwd"], msg["module"], msg["attr"]), []
    from .spec import load_lab

    exercise = load_lab(msg["lab_dir"]).get(msg["exercise"])
    fn = exercise.baseline if msg["role"] == "baseline" else exercise.reference_fn()
    return {"__target__": fn}, []


class _Serve:
    def __init__(
        self, namespace: dict[str, Any], failures: list[str], resource: Any, comm: Any = None
    ) -> None:
        self.ns, self.failures, self.resource, self.comm = namespace, failures, resource, comm
        self.reports: list[Any] = []  # what the resource saw during each call of the last batch

    def target(self, name: str) -> Any:
        if name not in self.ns:
            why = f" ({'; '.join(self.failures)})" if self.failures else ""
            raise BadSubmission(f"your notebook defines no {name!r}{why}; define it in its solution cell")
        return self.ns[name]

    def handle(self, msg: dict[str, Any]) -> Any:
        if msg["op"] == "probe":
            return capacity.probe(int(msg["workers"]), float(msg["seconds"])).to_dict()
        name = msg["target"]
        obj = self.target(name)
        if msg["op"] == "value":
            return wire.plain(answer_value(obj, name))
        prefix: tuple = ()
        if self.comm is not None:
            prefix = (self.comm,)
        elif self.resource is not None:
            prefix = (self.resource,)
        label = msg.get("label") or name
        outputs, self.reports = [], []
        for args in msg["args"]:
            out, report = call_reported(obj, prefix + tuple(args), label, self.resource)
            outputs.append(wire.plain(out))
            self.reports.append(wire.plain(report))
        return outputs


WORKER_PID = os.getpid()


def _answer(msg: dict[str, Any], serve: _Serve) -> dict[str, Any]:
    try:
        serve.reports = []
        reply = {"ok": True, "result": serve.handle(msg)}
        if any(r is not None for r in serve.reports):
            reply["reports"] = serve.reports
    except AutograderError as exc:
        reply = {"ok": False, "error": str(exc)}
    if os.getpid() != WORKER_PID:
        # A process the student's code forked came back out of it: it must not answer on
        # the worker's channel or read its requests.
        os._exit(0)
    return reply


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path, use_mpi = args[0], "--mpi" in args
    comm = None
    rank = 0
    if use_mpi:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        rank = comm.Get_rank()
    sock = None
    if rank == 0:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)

    def receive() -> Any:
        msg = channel.recv(sock) if rank == 0 else None
        return comm.bcast(msg, root=0) if comm is not None else msg

    def reply(obj: Any) -> None:
        if rank == 0:
            try:
                channel.send(sock, obj)
            except AutograderError as exc:
                channel.send(sock, {"ok": False, "error": str(exc)})

    with contextlib.ExitStack() as stack:
        setup = receive()
        try:
            namespace, failures = _setup(setup)
            resource = open_resource(setup.get("resource", "none"), stack)
            serve = _Serve(namespace, failures, resource, comm)
            reply({"ok": True})
        except AutograderError as exc:
            reply({"ok": False, "error": str(exc)})
            return 1
        while True:
            msg = receive()
            if msg is None or msg.get("op") == "exit":
                break
            reply(_answer(msg, serve))
    return 0


if __name__ == "__main__":
    sys.exit(main())
