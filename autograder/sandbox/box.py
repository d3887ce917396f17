"""A box: where one submission's code runs, and the rules it runs under.

The grader makes one ``Box`` per submission: a scratch folder holding only that
student's files and the released lab's support files, a memory/process budget, and a
way to start commands inside (``spawn``). What a command in the box can see is an
allow-list: system folders, the Python installation and the autograder package, all
read-only, plus the box itself; the course checkout, ``solutions/``, ``_reference.py``,
the gradebook, other submissions and the grader's own sockets are simply not there.

Three modes, chosen by what the machine allows (``isolation_mode``):

- "root": the grader is root. Commands run as a dedicated unprivileged user, in fresh
  mount/PID/IPC/UTS/network namespaces, inside a cgroup with memory and process limits
  that the grader freezes, measures and kills from outside; the box is a size-limited
  tmpfs.
- "userns": no root, but user namespaces work. The same namespaces and allow-list; the
  code keeps the grader's uid outside the namespace (it can reach nothing of the grader's
  from inside), memory is capped by address space, processes by RLIMIT_NPROC, the box's
  disk use only per file, and the grader freezes by SIGSTOP.
- "none": nothing isolates. Refused unless the caller passes ``unsafe=True``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ..cpu_monitor import process_cpu_seconds
from ..errors import AutograderError, GradingFault
from . import cgroups

ENTER = str(Path(__file__).with_name("enter.py"))
BOX_DIR_ENV = "AUTOGRADER_BOX_DIR"
DEFAULT_BOX_PARENT = Path("/var/tmp/autograder-boxes")
SANDBOX_USER = "ag-sandbox"
OWNER_FILE = ".owner"  # pid and start time of the grader process that made the box
SYSTEM_READ_ONLY = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc", "/sys", "/opt")
# Variables a sandboxed command inherits: hardware and course settings, never the
# grader's paths (the gradebook's location, say) or credentials.
ENV_PREFIXES = (
    "AUTOGRADER_",
    "COURSE_",
    "NBGRADER_",
    "NUMBA_",
    "CUDA_",
    "NVIDIA_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
)
ENV_NAMES = ("JAVA_HOME", "PYSPARK_PYTHON", "SPARK_HOME", "LD_LIBRARY_PATH", "LANG", "TZ", "TERM")
ENV_PRIVATE = ("AUTOGRADER_GRADEBOOK", "AUTOGRADER_RESULTS")
MIB = 1024 * 1024


class SandboxUnavailable(AutograderError):
    """Nothing on this machine can isolate student code, and unsafe grading was not allowed."""


# CPU a frozen box may still show: the counters' own granularity (a tick is 10 ms).
FROZEN_CPU_SLACK_S = 0.03
_STOPPED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


class FreezeBroken(GradingFault):
    """The box could not be kept still while the course's baseline was timed."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use, all its processes together where the platform allows."""

    memory_bytes: int = 3 * 1024 * MIB
    processes: int = 256
    disk_bytes: int = 1024 * MIB
    file_bytes: int = 512 * MIB
    shm_bytes: int = 512 * MIB
    open_files: int = 1024
    cpu_s: int = 3600

    def summary(self) -> str:
        return (
            f"memory {self.memory_bytes // MIB} MiB, {self.processes} processes, disk "
            f"{self.disk_bytes // MIB} MiB, files up to {self.file_bytes // MIB} MiB, "
            f"{self.open_files} open files, {self.cpu_s} s of CPU per process"
        )


def isolation_mode() -> str:
    """One of "root", "userns", "none": the strongest confinement this machine allows,
    unless AUTOGRADER_ISOLATION asks for a weaker one."""
    if os.environ.get("AUTOGRADER_ISOLATION") in ("root", "userns", "none"):
        return os.environ["AUTOGRADER_ISOLATION"]
    return _detected_mode()


@functools.cache
def _detected_mode() -> str:
    if sys.platform != "linux":
        return "none"
    if os.geteuid() == 0 and cgroups.available():
        return "root"
    probe = subprocess.run([sys.executable, "-I", "-S", ENTER, "--probe"], capture_output=True)
    return "userns" if probe.returncode == 0 else "none"


def describe_mode(mode: str) -> str:
    """One sentence for the instructor: what holds, and what does not."""
    return {
        "root": "student code runs as the unprivileged user "
        f"{SANDBOX_USER!r} in its own namespaces and cgroup (memory, processes, freezing, "
        "tree-wide peak memory), with no network and only its own files.",
        "userns": "student code runs in its own user, mount, PID and network namespaces with "
        "only its own files, but keeps your uid outside them; memory is capped by address "
        "space, processes per user, disk per file; peak memory is the measured process's "
        "own, not its children's; a lab's HTTP services (unit 03) run inside the box, so "
        "their counters are read from the student's own process. Run the grader as root for "
        "the full sandbox.",
        "none": "nothing isolates student code here: it runs as you, can read solutions/ and "
        "the gradebook, and has no limits. Grade on Linux, as root or with user namespaces.",
    }[mode]


def require_isolation(unsafe: bool = False) -> str:
    mode = isolation_mode()
    explicit = os.environ.get("AUTOGRADER_ISOLATION") == "none"  # the instructor's own choice
    if mode == "none" and not (unsafe or explicit):
        raise SandboxUnavailable(
            "refusing to grade: " + describe_mode(mode) + " Pass --unsafe (or set "
            "AUTOGRADER_ISOLATION=none) only for your own trusted notebooks."
        )
    return mode


@functools.cache
def sandbox_ids() -> tuple[int, int]:
    """The dedicated user's (uid, gid), created on first use; nobody's when that fails."""
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(SANDBOX_USER)
        return entry.pw_uid, entry.pw_gid
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--user-group", SANDBOX_USER],
        capture_output=True,
    )  # fmt: skip
    try:
        entry = pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _python_paths() -> list[str]:
    """The interpreter, the venv and the autograder package: read-only inside."""
    import autograder

    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    paths.add(str(Path(autograder.__file__).resolve().parent))
    from ..hardware import java_homes

    # Every Java Spark could pick, found without starting one: a JVM start costs each
    # grading a second or two, and most labs never use Java.
    with contextlib.suppress(Exception):
        paths.update(os.path.realpath(home) for _, home in java_homes())
    return sorted(paths)


# A Unix socket's path has room for 107 bytes; the kernel's ZMQ sockets and the workers'
# sockets live in a box's run/ folder, with up to about 20 more characters of their own.
SOCKET_PATH_MAX = 107
SOCKET_NAME_ROOM = 20


def box_parent() -> Path:
    """Where boxes are made; the grade command gives each nbgrader run its own folder.
    Root's default is shared; any other user gets a folder of their own beside it."""
    default = DEFAULT_BOX_PARENT if os.geteuid() == 0 else Path(f"{DEFAULT_BOX_PARENT}-{os.geteuid()}")
    path = Path(os.environ.get(BOX_DIR_ENV) or default)
    if path.resolve().is_relative_to("/tmp"):
        # Inside a box, /tmp is the box's own: a box kept there would hide itself.
        raise SandboxUnavailable(f"{BOX_DIR_ENV}={path} is under /tmp; choose a folder outside it")
    return path


def _check_socket_room(run: Path) -> None:
    longest = len(os.fsencode(run)) + 1 + SOCKET_NAME_ROOM
    if longest > SOCKET_PATH_MAX:
        raise SandboxUnavailable(
            f"the box folder {run.parent} makes socket paths of up to {longest} bytes, and Unix "
            f"sockets allow {SOCKET_PATH_MAX}: set {BOX_DIR_ENV} to a folder with a shorter path"
        )


def _newroot_mountpoint() -> Path:
    """Where each sandbox mounts its fresh root. Shared: every sandbox mounts it in its own
    mount namespace, so none sees another's, and the host sees an empty folder."""
    path = box_parent() / ".root"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class Confined:
    """One command running in a box: its process, its cgroup, and the peak-memory window."""

    def __init__(self, box: Box, proc: subprocess.Popen, group: cgroups.Cgroup | None) -> None:
        self.box, self.proc, self.cgroup = box, proc, group
        self._floor = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def command_pid(self) -> int | None:
        """Host PID of the command itself (below the namespace's init), once it runs."""
        with contextlib.suppress(psutil.Error):
            init = psutil.Process(self.proc.pid).children()
            if init:
                command = init[0].children()
                return command[0].pid if command else None
        return None

    def start_peak(self) -> None:
        if self.cgroup is not None:
            self._floor = self.cgroup.reset_peak()
        else:
            pid = self.command_pid()
            if pid:
                # /proc is read-only inside the box, so only the grader can reset this.
                with open(f"/proc/{pid}/clear_refs", "w") as fh:
                    fh.write("5")
                self._floor = status_kib(pid, "VmRSS") * 1024

    def peak_bytes(self) -> int:
        """Peak memory since ``start_peak``: of every process in the command's cgroup."""
        if self.cgroup is not None:
            return max(0, self.cgroup.peak_bytes() - self._floor)
        pid = self.command_pid()
        return max(0, status_kib(pid, "VmHWM") * 1024 - self._floor) if pid else 0

    def death_reason(self) -> str:
        """Why the command ended, when the box knows better than its exit code."""
        if self.cgroup is not None and self.cgroup.oom_kills():
            return f"it used more than the {self.box.limits.memory_bytes // MIB} MiB memory limit"
        code = self.proc.poll()
        if code is not None and code > 128:
            return f"it was killed by signal {signal.Signals(code - 128).name}"
        return ""

    def kill(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        if self.cgroup is not None:
            self.cgroup.remove()


def status_kib(pid: int, field: str) -> int:
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM), read by the grader; 0 if absent."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _owner_alive(folder: Path) -> bool:
    """Whether the grader process that made this box still runs (pid and start time)."""
    try:
        pid, started = (folder / OWNER_FILE).read_text().split()
        return psutil.Process(int(pid)).create_time() == float(started)
    except (OSError, ValueError, psutil.Error):
        return False


def sweep(parent: Path, only_orphans: bool = False) -> int:
    """Remove the boxes left under ``parent`` by a grader that was killed before it could
    clean up (all of them, or ``only_orphans``: those whose grader is gone): kill their
    processes through their cgroups, unmount and delete them. Returns how many."""
    found = 0
    for folder in sorted(parent.glob("box-*")) if parent.is_dir() else []:
        if only_orphans and _owner_alive(folder):
            continue
        found += 1
        if cgroups.version() is not None and os.geteuid() == 0:
            with contextlib.suppress(OSError):
                cgroups.Cgroup(f"box-{folder.name[4:]}", existing=True).remove()
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    return found


class Box:
    """One submission's scratch folder and confinement. Use as a context manager."""

    def __init__(
        self, files: list[Path] | None = None, limits: Limits | None = None, *, unsafe: bool = False
    ) -> None:
        self.mode = require_isolation(unsafe)
        self.limits = limits or Limits()
        self.uid, self.gid = sandbox_ids() if self.mode == "root" else (os.getuid(), os.getgid())
        parent = box_parent()
        _check_socket_room(parent / "box-XXXXXXXX" / "run")
        parent.mkdir(parents=True, exist_ok=True)
        os.chmod(parent, 0o711)
        sweep(parent, only_orphans=True)  # a killed `nbgrader autograde` leaves its boxes
        self.dir = Path(tempfile.mkdtemp(prefix="box-", dir=parent))
        self._mounted = False
        if self.mode == "root":
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={self.limits.disk_bytes},mode=0711,nosuid,nodev",
                 "tmpfs", str(self.dir)],
                check=True, capture_output=True,
            )  # fmt: skip
            self._mounted = True
        me = psutil.Process()
        (self.dir / OWNER_FILE).write_text(f"{me.pid} {me.create_time()}")
        self.work, self.home, self.tmp, self.run = (self.dir / n for n in ("work", "home", "tmp", "run"))
        for path in (self.work, self.home, self.tmp, self.run):
            path.mkdir(mode=0o700)
        # Input files the grader writes (read by the student's code and by the baseline):
        # root's, so the student's processes can read them but not swap them.
        self.inputs = self.dir / "inputs"
        self.inputs.mkdir(mode=0o755)
        for path in (self.home, self.tmp, self.run):
            self._chown(path)
        self.add_files(files or [])
        # Named after the folder, so that sweep() finds it after a crash.
        self.cgroup = cgroups.Cgroup(f"box-{self.dir.name[4:]}") if self.mode == "root" else None
        if self.cgroup is not None:
            self.cgroup.limit(memory_bytes=self.limits.memory_bytes, pids=self.limits.processes)
        self._spawned: list[Confined] = []
        self._children = 0

    def _chown(self, top: Path) -> None:
        if self.mode != "root":
            return
        os.chmod(self.dir, 0o755)  # the box itself stays root's
        for root, dirs, files in os.walk(top):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(root, name), self.uid, self.gid)
        os.chown(top, self.uid, self.gid)

    def give(self, path: str | Path) -> None:
        """Hand a path the grader made inside the box (a socket's folder) to the sandbox user."""
        self._chown(Path(path))

    def add_files(self, files: list[Path]) -> None:
        """Copy more files into the work folder (the released lab's support files, say)."""
        for source in files:
            target = self.work / source.name
            if source.is_symlink():
                continue  # copied as root, a link would bring its target's bytes in
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target, follow_symlinks=False)
        self._chown(self.work)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A clean environment: course and hardware settings in, the grader's secrets out."""
        env = {
            k: v
            for k, v in os.environ.items()
            if (k.startswith(ENV_PREFIXES) or k in ENV_NAMES) and k not in ENV_PRIVATE
        }
        bindir = str(Path(sys.executable).parent)
        env.update(
            PATH=f"{bindir}:/usr/local/bin:/usr/bin:/bin",
            HOME=str(self.home),
            TMPDIR="/tmp",
            USER=SANDBOX_USER,
            LOGNAME=SANDBOX_USER,
            MPLCONFIGDIR=str(self.home / ".matplotlib"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.setdefault("LANG", "C.UTF-8")
        env.update(extra or {})
        return env

    def spec(self, argv: list[str], env: dict[str, str], cwd: str, network: bool) -> dict[str, Any]:
        limits = {
            "file_bytes": self.limits.file_bytes,
            "open_files": self.limits.open_files,
            "cpu_s": self.limits.cpu_s,
            "core": 0,
        }
        if self.mode != "root":  # no cgroup: per-process stand-ins
            limits.update(address_space=self.limits.memory_bytes, processes=self.limits.processes)
        return {
            "newroot": str(_newroot_mountpoint()),
            "read_only": [*SYSTEM_READ_ONLY, *_python_paths()],
            "writable": ["/dev", str(self.dir)],
            "writable_at": {"/tmp": str(self.tmp)},
            "shm_bytes": self.limits.shm_bytes,
            "proc_read_only": self.mode != "root",
            "new_network": not network,
            "user_namespace": self.mode == "userns",
            "uid": self.uid if self.mode == "root" else None,
            "gid": self.gid,
            "limits": limits,
            "cwd": cwd,
            "env": env,
            "argv": argv,
        }

    def wrap(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        network: bool = False,
    ) -> tuple[list[str], cgroups.Cgroup | None]:
        """The command line that runs ``argv`` in the box, and the cgroup it will join.

        ``network=False`` leaves only the sandbox's own loopback (enough for a Dask or
        Spark cluster inside it); True keeps the host's network."""
        argv = [shutil.which(argv[0], path=self.env(env)["PATH"]) or argv[0], *argv[1:]]
        if self.mode == "none":
            return argv, None
        group = None
        if self.cgroup is not None:
            self._children += 1
            group = cgroups.Cgroup(f"cmd{self._children}", parent=self.cgroup)
        spec = self.spec(argv, self.env(env), str(cwd or self.work), network)
        spec["cgroup_procs"] = group.procs_files() if group else []
        return [sys.executable, "-I", "-S", ENTER, json.dumps(spec)], group

    def spawn(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        network: bool = False,
        **popen: Any,
    ) -> Confined:
        """Start ``argv`` in the box (cwd defaults to the work folder)."""
        command, group = self.wrap(argv, env=env, cwd=cwd, network=network)
        if self.mode == "none":
            popen.update(env=self.env(env), cwd=str(cwd or self.work))
        proc = subprocess.Popen(command, start_new_session=True, **popen)
        return self.track(proc, group)

    def track(self, proc: subprocess.Popen, group: cgroups.Cgroup | None) -> Confined:
        """Count a process started from ``wrap`` as the box's, so that ``kill_all`` ends it."""
        confined = Confined(self, proc, group)
        self._spawned.append(confined)
        return confined

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """No process of this box runs inside the block (the baseline is timed here).

        Checked, not assumed: if the box's processes used CPU inside the block, the block
        raises ``FreezeBroken`` on leaving it, so what was timed there is not used."""
        if self.cgroup is not None:
            with self.cgroup.frozen():
                before = self.cgroup.cpu_seconds()
                yield
                after = self.cgroup.cpu_seconds()
        else:
            stopped = self._stop_tree()
            before = process_cpu_seconds(stopped)
            try:
                yield
                after = process_cpu_seconds(stopped)
            finally:
                for proc in stopped:
                    with contextlib.suppress(psutil.Error):
                        proc.send_signal(signal.SIGCONT)
        if before is not None and after is not None and after - before > FROZEN_CPU_SLACK_S:
            raise FreezeBroken(
                f"the submission's processes used {after - before:.3f} s of CPU while they were "
                "meant to be stopped"
            )

    def _stop_tree(self, timeout_s: float = 5.0) -> list[psutil.Process]:
        """SIGSTOP every process under the box's commands, until all are seen stopped.

        One pass is not enough: a process not yet stopped can send SIGCONT to one that is
        (or fork). Once every process is seen stopped, none is left to wake another."""
        seen: dict[int, psutil.Process] = {}
        deadline = time.monotonic() + timeout_s
        while True:
            running = 0
            for confined in self._spawned:
                with contextlib.suppress(psutil.Error):
                    for proc in psutil.Process(confined.pid).children(recursive=True):
                        proc = seen.setdefault(proc.pid, proc)
                        with contextlib.suppress(psutil.Error):
                            if proc.status() not in _STOPPED:
                                proc.send_signal(signal.SIGSTOP)
                                running += 1
            if not running:
                return list(seen.values())
            if time.monotonic() > deadline:
                raise FreezeBroken(f"{running} of the submission's processes could not be stopped")
            time.sleep(0.001)

    def kill_all(self) -> None:
        for confined in self._spawned:
            confined.kill()
        if self.cgroup is not None:
            self.cgroup.kill()

    def close(self) -> None:
        self.kill_all()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self._mounted:
            for _ in range(20):
                if subprocess.run(["umount", str(self.dir)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
