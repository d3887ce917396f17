"""A real JupyterHub on loopback for the tests, and a class of throwaway Unix users in it.

``ClassUsers`` creates the users (root only) and removes them, their homes and every
process they own. ``Hub`` runs `jupyterhub` from docs/hub/jupyterhub_config.py through
a short overlay (test authenticator, loopback ports, scratch folders) and talks to its
REST API with the course-admin token. ``Server`` is one user's own server, reached
through the hub's proxy with that user's token; ``Kernel`` runs code in a kernel of that
server over its websocket, as the user, which is how the tests act as each user.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import websocket

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_PARENT = Path("/var/tmp")  # not /tmp: the grader refuses box folders under /tmp
SCRATCH_PREFIX = "hubtest-"
HUB_CONFIG = ROOT / "docs" / "hub" / "jupyterhub_config.py"
NBGRADER_HUB_CONFIG = ROOT / "docs" / "hub" / "nbgrader_config.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(
    method: str, url: str, body=None, headers: dict | None = None, timeout: float = 60
) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scratch_base() -> Path:
    """A fresh folder for one test's hub, users' homes and exchange, after sweeping what an
    earlier run killed before its clean-up left behind."""
    sweep_stale()
    base = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=SCRATCH_PARENT))
    os.chmod(base, 0o755)
    (base / ".owner").write_text(str(os.getpid()))
    return base


def sweep_stale() -> None:
    """Remove the scratch folders of runs whose test process is gone: their hub and proxy
    (by the pids they wrote), their users and everything those users still run."""
    for base in SCRATCH_PARENT.glob(f"{SCRATCH_PREFIX}*"):
        with contextlib.suppress(OSError, ValueError):
            if psutil.pid_exists(int((base / ".owner").read_text())):
                continue
        for pid_file in (base / "hub" / "jupyterhub.pid", base / "hub" / "proxy.pid"):
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                proc = psutil.Process(int(pid_file.read_text()))
                command = " ".join(proc.cmdline())
                if "jupyterhub" in command or "configurable-http-proxy" in command:
                    proc.kill()
        users = ClassUsers(base / "home")
        users.names = [u.pw_name for u in pwd.getpwall() if u.pw_dir.startswith(f"{base}/")]
        users.remove()
        shutil.rmtree(base, ignore_errors=True)


class ClassUsers:
    """Throwaway Unix users with private homes (mode 0700) under ``homes``."""

    def __init__(self, homes: Path) -> None:
        self.homes = homes
        self.names: list[str] = []

    def add(self, name: str) -> pwd.struct_passwd:
        subprocess.run(
            ["useradd", "--create-home", "--home-dir", str(self.homes / name), "--shell", "/bin/bash",
             "--user-group", "-K", "HOME_MODE=0700", name],
            check=True, capture_output=True,
        )  # fmt: skip
        self.names.append(name)
        mode = (self.homes / name).stat().st_mode & 0o777
        assert mode == 0o700, f"useradd made {name}'s home {oct(mode)}, not private (HOME_MODE 0700)"
        return pwd.getpwnam(name)

    def processes(self) -> list[psutil.Process]:
        uids = set()
        for name in self.names:
            with contextlib.suppress(KeyError):
                uids.add(pwd.getpwnam(name).pw_uid)
        found = []
        for proc in psutil.process_iter(["uids"]):
            with contextlib.suppress(psutil.Error, TypeError):
                if proc.info["uids"].real in uids:
                    found.append(proc)
        return found

    def remove(self) -> list[str]:
        """Kill what the users still run (by pid), delete them and their homes; returns
        the leftovers that had to be killed, for the report."""
        leftovers = [f"{p.pid} {p.info['uids'].real} {' '.join(p.cmdline()[:3])}" for p in self._alive()]
        for _ in range(3):
            procs = self.processes()
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(procs, timeout=5)
        for name in self.names:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
            subprocess.run(["groupdel", name], capture_output=True)
        return leftovers

    def _alive(self) -> list[psutil.Process]:
        alive = []
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                proc.cmdline()
                alive.append(proc)
        return alive


@dataclass
class Execution:
    """What one cell printed in a user's kernel."""

    status: str  # "ok" or "error"
    stdout: str
    error: str

    def summary(self) -> str:
        return f"[{self.status}] {self.stdout[-1500:]}{self.error[-1500:]}"


class Kernel:
    """A kernel in a user's server, driven over its websocket through the hub's proxy."""

    def __init__(self, server: Server) -> None:
        self.server = server
        status, body = server.request("POST", "api/kernels", {"name": "python3"})
        assert status == 201, f"{server.user}: starting a kernel gave {status}: {body[:300]!r}"
        self.id = json.loads(body)["id"]
        self.session = uuid.uuid4().hex

    def run(self, code: str, timeout: float = 300) -> Execution:
        """Execute ``code``; a websocket per call (an idle one would miss the server's pings)."""
        url = self.server.url(f"api/kernels/{self.id}/channels").replace("http://", "ws://")
        ws = websocket.create_connection(
            url, header=[f"Authorization: token {self.server.token}"], suppress_origin=True, timeout=60
        )
        try:
            return self._run(ws, code, timeout)
        finally:
            ws.close()

    def _run(self, ws: websocket.WebSocket, code: str, timeout: float) -> Execution:
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": self.server.user,
                        "session": self.session,
                        "version": "5.3",
                        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        out, err, status, idle = [], [], None, False
        deadline = time.monotonic() + timeout
        while status is None or not idle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.server.user}: no answer in {timeout:.0f} s to:\n{code}")
            ws.settimeout(max(1.0, deadline - time.monotonic()))
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else err).append(content["text"])
            elif kind == "error":
                err.append("\n".join(content["traceback"]))
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return Execution(status, "".join(out), "".join(err))

    def sh(self, *argv: str, cwd: str = "~", timeout: float = 300) -> tuple[int, str]:
        """Run a command as the user, from their server's kernel: (exit status, output)."""
        code = (
            "import json, os, subprocess\n"
            f"_p = subprocess.run({list(argv)!r}, cwd=os.path.expanduser({cwd!r}), capture_output=True, "
            "text=True)\n"
            "print('\\n@@' + json.dumps([_p.returncode, _p.stdout + _p.stderr]))\n"
        )
        result = self.run(code, timeout=timeout)
        assert result.status == "ok", f"{self.server.user}: {' '.join(argv)}: {result.summary()}"
        rc, output = json.loads(result.stdout.rsplit("\n@@", 1)[1])
        return rc, output

    def close(self) -> None:
        self.server.request("DELETE", f"api/kernels/{self.id}")


class Server:
    """One user's single-user server, through the hub's proxy, with that user's own token."""

    def __init__(self, hub: Hub, user: str, token: str) -> None:
        self.hub, self.user, self.token = hub, user, token

    def url(self, path: str) -> str:
        return f"{self.hub.url}/user/{self.user}/{path}"

    def request(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, bytes]:
        return http(method, self.url(path), body, {"Authorization": f"token {token or self.token}"})

    def kernel(self) -> Kernel:
        return Kernel(self)


class Hub:
    """`jupyterhub` as root on loopback, configured by docs/hub/jupyterhub_config.py."""

    def __init__(self, base: Path, *, chp: Path, user_env: Path, exchange: Path, env: dict[str, str]) -> None:
        self.base = base
        self.dir = base / "hub"
        self.dir.mkdir(mode=0o700)
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(32)
        self.log_path = self.dir / "jupyterhub.log"
        overlay = self.dir / "test_config.py"
        overlay.write_text(
            "c = get_config()  # noqa: F821\n"
            f"load_subconfig({str(HUB_CONFIG)!r})  # noqa: F821\n"
            "# What the test changes: its authenticator, loopback ports, scratch files.\n"
            "c.JupyterHub.authenticator_class = 'dummy'\n"
            f"c.JupyterHub.bind_url = 'http://127.0.0.1:{self.port}'\n"
            f"c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{self.hub_port}'\n"
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{self.api_port}'\n"
            f"c.ConfigurableHTTPProxy.pid_file = {str(self.dir / 'proxy.pid')!r}\n"
            f"c.JupyterHub.db_url = 'sqlite:///{self.dir / 'jupyterhub.sqlite'}'\n"
            f"c.JupyterHub.cookie_secret_file = {str(self.dir / 'cookie_secret')!r}\n"
            f"c.JupyterHub.pid_file = {str(self.dir / 'jupyterhub.pid')!r}\n"
            "# The shared nbgrader_config.py lives in a scratch stand-in for /etc/jupyter.\n"
            "c.Spawner.env_keep = ['LANG', 'LC_ALL', 'JUPYTER_CONFIG_PATH', 'COURSE_SMALL']\n"
        )
        self.env = {
            **os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "COURSE_HUB_ENV": str(user_env.parent),
            "COURSE_HUB_EXCHANGE": str(exchange),
            "COURSE_HUB_ADMIN_TOKEN": self.token,
            "COURSE_HUB_PROXY": str(chp),
            **env,
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        jupyterhub = Path(sys.executable).with_name("jupyterhub")
        self.proc = subprocess.Popen(
            [str(jupyterhub), "-f", str(self.dir / "test_config.py")],
            cwd=self.dir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "w"),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"jupyterhub exited:\n{self.log()}"
            with contextlib.suppress(OSError):
                if http("GET", f"{self.url}/hub/api/", timeout=5)[0] == 200:
                    return
            time.sleep(0.5)
        raise AssertionError(f"jupyterhub did not answer in {timeout:.0f} s:\n{self.log()}")

    def log(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def api(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, object]:
        status, raw = http(
            method, f"{self.url}/hub/api/{path}", body, {"Authorization": f"token {token or self.token}"}
        )
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def spawn_all(self, options: dict[str, dict], timeout: float = 180) -> dict[str, Server]:
        """Start each user's server through the REST API (the JSON body is the user's
        options: their profile); returns the servers, each with a fresh token of its user's."""
        for user, opts in options.items():
            status, body = self.api("POST", f"users/{user}/server", opts)
            assert status in (201, 202), f"spawning {user}: {status} {body}\n{self.log()}"
        deadline = time.monotonic() + timeout
        waiting = set(options)
        while waiting:
            assert time.monotonic() < deadline, f"not ready in {timeout:.0f} s: {waiting}\n{self.log()}"
            for user in sorted(waiting):
                _, model = self.api("GET", f"users/{user}")
                server = (model or {}).get("servers", {}).get("", {})
                assert server, f"{user}'s server stopped while starting:\n{self.log()}"
                if server.get("ready"):
                    waiting.discard(user)
            time.sleep(0.5)
        servers = {}
        for user in options:
            status, token = self.api("POST", f"users/{user}/tokens", {"note": "test", "expires_in": 3600})
            assert status == 201, f"token for {user}: {status} {token}"
            servers[user] = Server(self, user, token["token"])
        return servers

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the hub stops every server, then the proxy
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
