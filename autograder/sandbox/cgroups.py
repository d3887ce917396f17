"""Control groups for confined student code: limits, freezing, tree-wide peak memory, kill.

A ``Cgroup`` is one node present in every controller the grader uses (cgroup v1: one
folder per controller; v2: one folder). The grader creates it, writes the limits, puts a
process in it before that process runs any student code, and reads it from outside:
the student's processes can neither leave it (no write access to cgroupfs) nor reset
its counters. Needs root (or a delegated subtree); ``available()`` says whether it works.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "freezer", "cpuacct")


def _own_path(controller: str | None) -> str:
    """This process's cgroup path in ``controller`` ("" names the v2 hierarchy)."""
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, names, path = line.rstrip("\n").split(":", 2)
            if (controller is None and names == "") or (controller and controller in names.split(",")):
                return path.lstrip("/")
    return ""


def version() -> int | None:
    """1 or 2 when the controllers the grader needs are mounted, else None."""
    if all((ROOT / c).is_dir() for c in ("memory", "pids", "freezer")):
        return 1
    if (ROOT / "cgroup.controllers").is_file():
        return 2
    return None


@dataclass(frozen=True)
class Usage:
    """What a cgroup's counters say; one line for a log."""

    memory_bytes: int
    peak_bytes: int
    oom_kills: int
    pids: int

    def summary(self) -> str:
        mib = 1024 * 1024
        return (
            f"memory {self.memory_bytes / mib:.0f} MiB (peak {self.peak_bytes / mib:.0f} MiB), "
            f"{self.pids} processes, {self.oom_kills} killed for memory"
        )


class Cgroup:
    """One cgroup node under the grader's own, named ``autograder/<name>``."""

    def __init__(self, name: str | None = None, parent: Cgroup | None = None, existing: bool = False) -> None:
        self.version = version()
        if self.version is None:
            raise OSError("no cgroup controllers (memory, pids, freezer) are mounted")
        self.name = name or uuid.uuid4().hex[:12]
        self.parent = parent
        self.dirs: dict[str, Path] = {}
        controllers = V1_CONTROLLERS if self.version == 1 else ("",)
        for controller in controllers:
            base = ROOT / controller if controller else ROOT
            if not base.is_dir():
                continue
            where = parent.dirs[controller] if parent else base / _own_path(controller or None) / "autograder"
            where.mkdir(parents=True, exist_ok=True)
            path = where / self.name
            if existing and not path.is_dir():
                continue
            path.mkdir(exist_ok=existing)
            self.dirs[controller] = path
        if self.version == 2 and parent is None and not existing:
            self._enable_v2_controllers(self.dirs[""].parent)

    @staticmethod
    def _enable_v2_controllers(where: Path) -> None:
        with contextlib.suppress(OSError):
            (where / "cgroup.subtree_control").write_text("+memory +pids +cpu")

    def _file(self, controller: str, v1: str, v2: str) -> Path:
        return self.dirs["" if self.version == 2 else controller] / (v2 if self.version == 2 else v1)

    def _write(self, controller: str, v1: str, v2: str, value: str) -> None:
        self._file(controller, v1, v2).write_text(value)

    def _read_int(self, controller: str, v1: str, v2: str) -> int:
        text = self._file(controller, v1, v2).read_text().strip()
        return 2**63 - 1 if text == "max" else int(text)

    # --- set up -------------------------------------------------------------------------
    def limit(self, memory_bytes: int | None = None, pids: int | None = None) -> None:
        if memory_bytes:
            self._write("memory", "memory.limit_in_bytes", "memory.max", str(memory_bytes))
            if self.version == 1:
                # Also cap swap, else the limit only moves the bomb to swap.
                with contextlib.suppress(OSError):
                    self._write("memory", "memory.memsw.limit_in_bytes", "", str(memory_bytes))
            else:
                with contextlib.suppress(OSError):
                    self._write("memory", "", "memory.swap.max", "0")
        if pids:
            self._write("pids", "pids.max", "pids.max", str(pids))

    def procs_files(self) -> list[str]:
        """Where a process writes its own pid to join this cgroup (every controller)."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def add(self, pid: int) -> None:
        for path in self.procs_files():
            Path(path).write_text(str(pid))

    # --- read -----------------------------------------------------------------------------
    def pids(self) -> list[int]:
        path = self.dirs["" if self.version == 2 else "pids"] / "cgroup.procs"
        found: set[int] = set()
        # v1 lists only a node's own tasks; walk the children too.
        for root, _dirs, files in os.walk(path.parent):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError):
                    found.update(int(p) for p in Path(root, "cgroup.procs").read_text().split())
        return sorted(found)

    def usage(self) -> Usage:
        return Usage(
            memory_bytes=self._read_int("memory", "memory.usage_in_bytes", "memory.current"),
            peak_bytes=self.peak_bytes(),
            oom_kills=self.oom_kills(),
            pids=len(self.pids()),
        )

    def reset_peak(self) -> int:
        """Restart the high-water mark at the present usage; return that usage."""
        if self.version == 1:
            self._write("memory", "memory.max_usage_in_bytes", "", "0")
        else:
            with contextlib.suppress(OSError):  # resettable from Linux 6.12
                self._write("memory", "", "memory.peak", "0")
        return self._read_int("memory", "memory.usage_in_bytes", "memory.current")

    def peak_bytes(self) -> int:
        return self._read_int("memory", "memory.max_usage_in_bytes", "memory.peak")

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        with contextlib.suppress(OSError):
            for line in self._file("memory", name, name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def cpu_seconds(self) -> float | None:
        with contextlib.suppress(OSError, KeyError, ValueError):
            if self.version == 1:
                return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
            for line in (self.dirs[""] / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
        return None

    # --- act ------------------------------------------------------------------------------
    def freeze(self, timeout_s: float = 5.0) -> None:
        """Stop every process in the cgroup (and below) until ``thaw``; returns when frozen."""
        if self.version == 1:
            self._write("freezer", "freezer.state", "", "FROZEN")
            state = self.dirs["freezer"] / "freezer.state"
            done = lambda: state.read_text().strip() == "FROZEN"  # noqa: E731
        else:
            self._write("", "", "cgroup.freeze", "1")
            events = self.dirs[""] / "cgroup.events"
            done = lambda: "frozen 1" in events.read_text()  # noqa: E731
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise OSError(f"cgroup {self.name} did not freeze within {timeout_s:.0f} s")
            time.sleep(0.001)

    def thaw(self) -> None:
        if self.version == 1:
            self._write("freezer", "freezer.state", "", "THAWED")
        else:
            self._write("", "", "cgroup.freeze", "0")

    @contextlib.contextmanager
    def frozen(self):  # noqa: ANN201 - a context manager
        self.freeze()
        try:
            yield
        finally:
            self.thaw()

    def kill(self) -> None:
        """SIGKILL everything inside, frozen first so that nothing forks in between."""
        if self.version == 2:
            with contextlib.suppress(OSError):
                self._write("", "", "cgroup.kill", "1")
        with contextlib.suppress(OSError):
            self.freeze()
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.thaw()  # a frozen process only dies once thawed
            time.sleep(0.01)
        with contextlib.suppress(OSError):
            self.thaw()  # left frozen, the box's next process would never start

    def remove(self) -> None:
        """Kill what is left and delete the node (children first)."""
        self.kill()
        for path in self.dirs.values():
            for root, dirs, _files in sorted(os.walk(path), key=lambda t: -len(t[0])):
                for d in dirs:
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.join(root, d))
            for _ in range(20):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # tasks take a moment to leave after SIGKILL


def available() -> bool:
    """Whether this process can create, limit and remove a cgroup here."""
    try:
        group = Cgroup()
    except OSError:
        return False
    try:
        group.limit(memory_bytes=1 << 30, pids=64)
        return True
    except OSError:
        return False
    finally:
        group.remove()
