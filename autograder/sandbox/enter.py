"""Enter the sandbox, then run one command in it. Standard library only; run as a script.

``python -I -S enter.py SPEC_JSON`` is started by the grader (box.py). In order:
1. join the submission's cgroups, so that everything started below is counted and limited;
2. new mount, PID, IPC, UTS and (unless the spec keeps it) network namespaces; a user
   namespace too when the grader is not root;
3. as PID 1 of the new namespace: build a fresh root holding only what the spec lists
   (system folders and the Python installation read-only, the box read-write), chroot
   into it, bring up loopback;
4. fork the command: it drops to the sandbox user, sets its resource limits and
   ``no_new_privs``, and execs. PID 1 stays behind as a small init that reaps orphans
   and exits with the command's status; when it exits, the kernel kills everything
   left in the namespace, so no student process outlives its command.
"""

import ctypes
import json
import os
import resource
import signal
import socket
import struct
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1
LIMITS = {
    "cpu_s": resource.RLIMIT_CPU,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
    "address_space": resource.RLIMIT_AS,
    "core": resource.RLIMIT_CORE,
}

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(
        libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}"
    )


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _place(newroot: str, path: str, is_dir: bool) -> str:
    """Create the mount point for ``path`` inside the new root (as a folder or an empty file)."""
    target = newroot + path
    os.makedirs(target if is_dir else os.path.dirname(target), mode=0o755, exist_ok=True)
    if not is_dir and not os.path.exists(target):
        open(target, "w").close()
    return target


def bind(newroot: str, path: str, writable: bool, at: str | None = None) -> None:
    """Bind host ``path`` at ``at`` (default: the same path) inside the new root."""
    if os.path.islink(path) and at is None:
        # Merged-/usr systems: /bin -> usr/bin. Recreate the link, not a copy.
        link = newroot + path
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(os.readlink(path), link)
        return
    if not os.path.exists(path):
        return
    target = _place(newroot, at or path, os.path.isdir(path))
    mount(path, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if writable else MS_RDONLY)
    mount(None, target, None, flags)


def loopback_up() -> None:
    """ip link set lo up, without needing the ip tool (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        import fcntl

        ifreq = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, ifreq))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 0x1, b""))


def build_root(spec: dict) -> None:
    newroot = spec["newroot"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates to the host
    mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    # The box's own /tmp first: a venv or checkout that lives under /tmp is then bound on
    # top of it, not hidden by it.
    for at, path in spec.get("writable_at", {}).items():
        bind(newroot, path, writable=True, at=at)
    for path in spec["read_only"]:
        bind(newroot, path, writable=False)
    for path in spec["writable"]:
        bind(newroot, path, writable=True)
    dev = newroot + "/dev"
    if os.path.isdir(dev):
        shm = _place(newroot, "/dev/shm", True)
        mount("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['shm_bytes']},mode=1777")
    proc = _place(newroot, "/proc", True)
    proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (MS_RDONLY if spec.get("proc_read_only") else 0)
    mount("proc", proc, "proc", proc_flags)
    os.chroot(newroot)
    os.chdir("/")


def run_command(spec: dict) -> None:
    """In the forked child: drop privileges, set limits, exec. Never returns."""
    try:
        os.setsid()
        if spec.get("uid") is not None:
            os.setgroups([])
            os.setresgid(spec["gid"], spec["gid"], spec["gid"])
            os.setresuid(spec["uid"], spec["uid"], spec["uid"])
        for name, value in spec.get("limits", {}).items():
            resource.setrlimit(LIMITS[name], (value, value))
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        os.umask(0o077)
        os.chdir(spec["cwd"])
        argv = spec["argv"]
        os.execve(argv[0], argv, spec["env"])
    except BaseException as exc:  # noqa: BLE001 - the only report channel is stderr
        sys.stderr.write(f"sandbox: could not start {spec['argv'][0]}: {exc}\n")
        os._exit(127)


def init(spec: dict) -> int:
    """PID 1 of the sandbox: start the command, reap everything, return its status."""
    build_root(spec)
    if spec.get("new_network", True):
        loopback_up()
    socket.sethostname("localhost")  # resolvable offline: Spark and MPI look their host up
    child = os.fork()
    if child == 0:
        run_command(spec)
    # A kernel is interrupted with SIGINT: pass it on (PID 1 only gets signals it handles).
    signal.signal(signal.SIGINT, lambda s, f: os.kill(child, signal.SIGINT))
    status = 0
    while True:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            return status
        if pid == child:
            return os.waitstatus_to_exitcode(raw) if os.WIFEXITED(raw) else 128 + os.WTERMSIG(raw)


def enter(spec: dict) -> int:
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a killed grader takes the box down
    for path in spec.get("cgroup_procs", []):
        _write(path, str(os.getpid()))
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if spec.get("new_network", True):
        flags |= CLONE_NEWNET
    if spec.get("user_namespace"):
        uid, gid = os.getuid(), os.getgid()
        _check(libc.unshare(CLONE_NEWUSER), "unshare(user)")
        _write("/proc/self/setgroups", "deny")
        # Not 0 inside: the command then execs without capabilities, so it cannot undo
        # the read-only mounts made before (this process keeps them until then).
        _write("/proc/self/uid_map", f"1000 {uid} 1")
        _write("/proc/self/gid_map", f"1000 {gid} 1")
    _check(libc.unshare(flags), "unshare")
    pid = os.fork()  # the first child of a new PID namespace is its PID 1
    if pid == 0:
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader's end goes, we go
            os._exit(init(spec))
        except BaseException as exc:  # noqa: BLE001
            sys.stderr.write(f"sandbox: could not build the sandbox: {exc}\n")
            os._exit(126)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: os.kill(pid, signal.SIGKILL))
    signal.signal(signal.SIGINT, lambda s, f: os.kill(pid, signal.SIGINT))
    _, raw = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(raw) if os.WIFEXITED(raw) else 128 + os.WTERMSIG(raw)


if __name__ == "__main__":
    if sys.argv[1:] == ["--probe"]:
        # Can this user make the namespaces without root? (user namespaces enabled)
        try:
            _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
            sys.exit(0)
        except OSError:
            sys.exit(1)
    sys.exit(enter(json.loads(sys.argv[1])))
