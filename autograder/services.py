"""A real HTTP service for the threading unit: loopback sockets, a set latency, counted concurrency.

Each instance is its own process (this file run as a script, or ``python -m
autograder.services``): an HTTP/1.1 server
whose ``/item/<id>`` answers, after ``latency_s``, a JSON record derived from the id and a
seed (``record``), so the grader knows every right answer without asking the service.
The service counts the requests it is handling at once and keeps, per request, how many
were in flight when it arrived; ``/stats`` reads those counters (read-only: nothing resets
them, so a client can only look at what happened since a request number it remembers).

Fault modes, chosen by the id alone (``fault_of``), each hitting an id once per instance:
"error" answers HTTP 500, "garbage" answers 200 with a truncated body, "slow" holds the
answer back for ``stall_s`` (not counted in flight meanwhile) and records when it answered,
so a report shows whether the client waited all of it or got the item sooner by a retry.
The lab's inputs choose which ids carry which fault.

Who starts what: ``service_pool`` starts instances as child processes on free loopback
ports and stops them; the grader opens it as the "services" resource inside the worker
that runs the code (so a confined worker's services live on the box's own loopback,
reachable by the student's function and by nothing else). Each instance makes itself
non-dumpable, so other processes of the same uid cannot ptrace it or read its memory.
``AUTOGRADER_SERVICE_URLS`` (comma-separated) points the resource at running hosts instead.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import hashlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SEED = 2026  # the course's records; a pool started with another seed serves other values
CATEGORIES = ("books", "games", "music", "tools", "toys")
FAULTS = ("error", "garbage", "slow")
STALL_S = 2.0  # how long a "slow" id is held back: far above any sensible client timeout
URLS_ENV = "AUTOGRADER_SERVICE_URLS"
CLONE_NEWNET = 0x40000000


def _digest(tag: str, item_id: int, seed: int = SEED) -> int:
    data = f"{tag}:{seed}:{item_id}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def record(item_id: int, seed: int = SEED) -> dict[str, Any]:
    """What ``/item/<item_id>`` answers: the same record on every instance, every time."""
    h = _digest("record", item_id, seed)
    return {"id": item_id, "category": CATEGORIES[h % len(CATEGORIES)], "value": (h >> 8) % 1000}


def fault_of(item_id: int) -> str | None:
    """The fault an id shows on its first request at an instance, or None (about 1 in 8 has one)."""
    h = _digest("fault", item_id, 0) % 24
    return FAULTS[h] if h < len(FAULTS) else None


# ---------------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many clients connect at once; a short backlog would drop SYNs
    allow_reuse_address = True

    def __init__(self, port: int, latency_s: float, seed: int, stall_s: float, faults: bool) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency_s, self.seed, self.stall_s, self.faults = latency_s, seed, stall_s, faults
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        # One entry per item request, in arrival order: [in flight when it arrived, id, outcome].
        self.log: list[list[Any]] = []
        self.faulted: set[int] = set()


def _stats_of(s: _Server, since: int) -> dict[str, Any]:
    """The counters since request number ``since``: what ``/stats`` and the grader's socket answer."""
    since = max(0, since)
    with s.lock:
        window = [list(entry) for entry in s.log[since:]]
        return {
            "requests": len(s.log),
            "in_flight": s.in_flight,
            "max_in_flight": s.max_in_flight,
            "since": since,
            "max_in_flight_since": max((e[0] for e in window), default=0),
            # [id, when it was answered (time.time())], for whole answers only
            "ok": [[e[1], e[3]] for e in window if e[2] == "ok"],
            "after_stall": [[e[1], e[3]] for e in window if e[2] == "after stall"],
            "latency_s": s.latency_s,
            "stall_s": s.stall_s,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled clients reuse connections
    # Headers and body go out in two writes: with Nagle's algorithm on, a kept-alive connection
    # would hold the second back until the client's delayed ACK (40 ms) came.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would flood the worker's log

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        if parts.path == "/stats":
            self._send(200, json.dumps(self._stats(parse_qs(parts.query))).encode())
            return
        head, _, tail = parts.path.rpartition("/")
        if head != "/item" or not tail.lstrip("-").isdigit():
            self._send(404, b'{"error": "unknown path: use /item/<id> or /stats"}')
            return
        self._item(int(tail))

    def _stats(self, query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            since = int(query.get("since", ["0"])[0])
        except ValueError:
            since = 0
        return _stats_of(self.server, since)

    def _item(self, item_id: int) -> None:
        s = self.server
        with s.lock:
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
            entry = [s.in_flight, item_id, "pending", 0.0]
            s.log.append(entry)
            fault = fault_of(item_id) if s.faults and item_id not in s.faulted else None
            if fault:
                s.faulted.add(item_id)
        counted = [True]

        def done(outcome: str) -> None:
            # A request leaves the count before its answer is written: a client that sends its
            # next request the moment it has read an answer must never see the two overlap.
            with s.lock:
                if counted[0]:
                    s.in_flight -= 1
                    counted[0] = False
                if entry[2] == "pending":
                    entry[2], entry[3] = outcome, time.time()

        try:
            time.sleep(s.latency_s)
            body = json.dumps(record(item_id, s.seed)).encode()
            if fault == "error":
                done("error")
                self._send(500, b'{"error": "internal error, try again"}')
            elif fault == "garbage":
                done("garbage")
                self._send(200, body[: len(body) // 2])
            elif fault == "slow":
                # Held back, but not counted in flight: a client that timed out and retried is
                # not holding this request any more, even where its socket stays open a while.
                with s.lock:
                    s.in_flight -= 1
                    counted[0] = False
                if self._client_left_within(s.stall_s):
                    done("abandoned")
                    self.close_connection = True
                    return
                done("after stall")
                self._send(200, body)
            else:
                done("ok")
                self._send(200, body)
        except OSError:
            done("abandoned")
            self.close_connection = True
        finally:
            done("abandoned")

    def _client_left_within(self, seconds: float) -> bool:
        """Wait ``seconds``, but say True as soon as the client closes its end (it timed out)."""
        conn = self.connection
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([conn], [], [], left)
            if readable:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
                time.sleep(min(0.01, max(0.0, end - time.monotonic())))  # a pipelined request: keep waiting
        return False


def _harden() -> None:
    """Not dumpable: processes of the same uid can neither ptrace it nor read /proc/PID/mem."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def _enter_network_namespace(path: str) -> None:
    """Join the network namespace at ``path`` (a student's box): its loopback is the one the
    student's code can reach; this process stays the grader's (root, outside the box's PIDs)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path) as ns:
        if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({path})")


def _bind(port: int, latency_s: float, seed: int, stall_s: float, faults: bool) -> _Server:
    """The server, once the loopback it binds to exists (a new box brings its loopback up a moment
    after its namespace is made)."""
    deadline = time.monotonic() + 10.0
    while True:
        try:
            return _Server(port, latency_s, seed, stall_s, faults)
        except OSError as exc:
            if exc.errno not in (errno.EADDRNOTAVAIL, errno.ENETUNREACH) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _serve_stats_socket(server: _Server, path: str) -> None:
    """Answer ``since N`` lines on a Unix socket only the grader can open, outside the box."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(4)

    def loop() -> None:
        while True:
            conn, _ = listener.accept()
            with conn, contextlib.suppress(OSError, ValueError):
                line = conn.makefile("r").readline().split()
                since = int(line[1]) if len(line) == 2 and line[0] == "since" else 0
                conn.sendall(json.dumps(_stats_of(server, since)).encode() + b"\n")

    threading.Thread(target=loop, daemon=True).start()


def serve(
    port: int,
    latency_s: float,
    seed: int,
    stall_s: float,
    faults: bool,
    netns: str | None = None,
    stats_socket: str | None = None,
) -> None:
    """Run one instance until stdin closes (the parent went away) or it is killed."""
    _harden()
    if netns:
        _enter_network_namespace(netns)
    server = _bind(port, latency_s, seed, stall_s, faults)
    if stats_socket:
        _serve_stats_socket(server, stats_socket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(OSError, ValueError):
        while sys.stdin.buffer.read(1):
            pass
    server.shutdown()


# ---------------------------------------------------------------------- the client side


def get_json(url: str, timeout: float = 5.0) -> Any:
    """One GET, decoded; errors as they come (HTTPError, URLError, TimeoutError, ValueError)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class ServicePool:
    """Running instances: their base URLs, and their counters read over HTTP."""

    urls: tuple[str, ...]
    procs: list[subprocess.Popen] = field(default_factory=list, repr=False)
    _cursor: dict[str, int] = field(default_factory=dict, repr=False)

    def stats(self) -> list[dict[str, Any]]:
        """Every instance's counters since it started."""
        return [get_json(f"{url}/stats") for url in self.urls]

    def report(self) -> dict[str, Any]:
        """What every instance saw since the previous report (or since it started): the most
        requests in flight at once, and the ids it answered in full, each with the time
        (``time.time()``) of its answer: "ok" at once, "after_stall" at the end of a stall."""
        instances = []
        for url in self.urls:
            stats = self._stats_since(url, self._cursor.get(url, 0))
            self._cursor[url] = stats["requests"]
            instances.append(
                {
                    "url": url,
                    "requests": stats["requests"] - stats["since"],
                    "max_in_flight": stats["max_in_flight_since"],
                    "ok": stats["ok"],
                    "after_stall": stats["after_stall"],
                }
            )
        return {"instances": instances}

    def _stats_since(self, url: str, since: int) -> dict[str, Any]:
        return get_json(f"{url}/stats?since={since}")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    if stream:
                        stream.close()
        self.procs.clear()


def _ready_line(proc: subprocess.Popen, deadline: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
    line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
    if not line.startswith("READY "):
        raise RuntimeError(
            f"a service instance did not start (exit code {proc.poll()}): {line or 'no answer'}"
        )
    return line.split(" ", 1)[1]


@contextlib.contextmanager
def service_pool(
    n: int = 1,
    latency_s: float = 0.02,
    *,
    seed: int = SEED,
    stall_s: float = STALL_S,
    faults: bool = True,
    start_timeout_s: float = 30.0,
) -> Iterator[ServicePool]:
    """Start ``n`` instances on free loopback ports, wait until each answers, stop them after."""
    # The file itself, isolated (-I): only the standard library loads, so an instance starts in
    # tens of milliseconds, and nothing in the caller's folder or PYTHONPATH can shadow it.
    cmd = [sys.executable, "-I", os.path.abspath(__file__), "--latency", repr(latency_s), "--seed", str(seed)]
    cmd += ["--stall", repr(stall_s)] + ([] if faults else ["--no-faults"])
    pool = ServicePool(urls=())
    try:
        for _ in range(n):
            pool.procs.append(
                subprocess.Popen(
                    cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
                )
            )
        deadline = time.monotonic() + start_timeout_s
        pool.urls = tuple(_ready_line(proc, deadline) for proc in pool.procs)
        for url in pool.urls:
            get_json(f"{url}/stats", timeout=max(1.0, deadline - time.monotonic()))
        yield pool
    finally:
        pool.close()


@dataclass
class OwnedPool(ServicePool):
    """Instances the grader runs in a student's network namespace: the student's code reaches
    them over the box's loopback, but cannot see, signal or trace them (another uid, another
    PID namespace), and the grader reads their counters over Unix sockets outside the box, so
    a report cannot be forged from inside the student's process."""

    sockets: dict[str, str] = field(default_factory=dict, repr=False)
    folder: str = ""

    def _stats_since(self, url: str, since: int) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5.0)
            conn.connect(self.sockets[url])
            conn.sendall(f"since {since}\n".encode())
            return json.loads(conn.makefile("rb").readline())

    def close(self) -> None:
        super().close()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


FIRST_OWNED_PORT = 8101  # a box's namespace is new and empty: any port is free there


def start_in_namespace(
    pid: int,
    n: int,
    latency_s: float,
    *,
    seed: int = SEED,
    stall_s: float = STALL_S,
    faults: bool = True,
    start_timeout_s: float = 30.0,
) -> OwnedPool:
    """Start ``n`` instances in the network namespace of process ``pid`` (a box being entered),
    on ports FIRST_OWNED_PORT and up. Needs the right to join it (root)."""
    mine = os.readlink("/proc/self/ns/net")
    path = f"/proc/{pid}/ns/net"
    deadline = time.monotonic() + start_timeout_s
    while os.readlink(path) == mine:  # the box makes its namespace just after it starts
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} never entered a network namespace of its own")
        time.sleep(0.005)
    folder = tempfile.mkdtemp(prefix="autograder-services-")
    os.chmod(folder, 0o700)
    pool = OwnedPool(urls=(), folder=folder)
    try:
        for k in range(n):
            port = FIRST_OWNED_PORT + k
            sock = os.path.join(folder, f"{k}.sock")
            cmd = [sys.executable, "-I", os.path.abspath(__file__), "--port", str(port)]
            cmd += ["--latency", repr(latency_s), "--seed", str(seed), "--stall", repr(stall_s)]
            cmd += ["--netns", path, "--stats-socket", sock] + ([] if faults else ["--no-faults"])
            pool.procs.append(
                subprocess.Popen(
                    cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
                )
            )
        urls = tuple(_ready_line(proc, deadline) for proc in pool.procs)
        pool.urls = urls
        pool.sockets = {url: os.path.join(folder, f"{k}.sock") for k, url in enumerate(urls)}
        pool.report()  # the window starts now
        return pool
    except BaseException:
        pool.close()
        raise


def connect(urls: str) -> ServicePool:
    """A pool of instances already running elsewhere (``AUTOGRADER_SERVICE_URLS``): nothing to stop."""
    found = tuple(u.strip().rstrip("/") for u in urls.split(",") if u.strip())
    if not found:
        raise ValueError(f"{URLS_ENV} names no URL")
    pool = ServicePool(urls=found)
    for url in found:
        try:
            get_json(f"{url}/stats", timeout=5.0)
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"the service at {url} does not answer /stats: {exc}") from None
    return pool


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One instance of the course's HTTP item service.")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed when ready)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds before each item answer")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--stall", type=float, default=STALL_S, help="how long a slow id is held back")
    parser.add_argument("--no-faults", action="store_true", help="every id answers right the first time")
    parser.add_argument("--netns", help="serve in this network namespace (/proc/PID/ns/net; needs root)")
    parser.add_argument("--stats-socket", help="also answer 'since N' lines with the counters here")
    args = parser.parse_args(argv)
    serve(args.port, args.latency, args.seed, args.stall, not args.no_faults, args.netns, args.stats_socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
