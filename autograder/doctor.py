"""`autograder doctor`: what this machine has, and what each lab unit will run on.

Exit status 1 when AUTOGRADER_REQUIRE names hardware that is missing, so a grading job
fails loudly instead of silently grading a GPU or cluster lab on its embedded fallback.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from autograder import hardware as hw

REQUIRE_ENV = "AUTOGRADER_REQUIRE"
REQUIREMENTS = ("gpu", "mpi", "spark", "dask", "cluster")
HOSTFILE_ENV = "AUTOGRADER_MPI_HOSTFILE"
DASK_ENV = "AUTOGRADER_DASK_SCHEDULER"
SPARK_ENV = "AUTOGRADER_SPARK_MASTER"

# Row labels of the machine table, in order (tests look for them).
MACHINE_ROWS = (
    "cores",
    "GPU numba.cuda",
    "GPU cupy",
    "GPU pycuda",
    "MPI",
    "Java",
    "Spark",
    "Dask",
    "ipyparallel",
    "OpenCL",
)
UNITS = (
    "01-profiling",
    "02-data-containers",
    "03-threading",
    "04-multiprocessing",
    "05-cython",
    "06-numba-cuda",
    "07-mpi",
    "08-dask",
    "09-spark",
)


@dataclass(frozen=True)
class UnitBackend:
    """Where one lab unit runs: status is real, local (real engine, this machine only),
    fallback (embedded stand-in, speed not graded) or missing."""

    unit: str
    backend: str
    status: str

    def summary(self) -> str:
        return f"{self.unit}: {self.backend} [{self.status}]"


@dataclass(frozen=True)
class Report:
    cores: hw.CoreCount
    probes: dict[str, hw.Probe]  # keyed by Probe.name
    simulator: hw.Probe
    compiler: str | None
    units: tuple[UnitBackend, ...]
    required: tuple[str, ...]
    problems: tuple[str, ...]  # required-but-missing, each saying how to get it

    def summary(self) -> str:
        state = "; ".join(self.problems) if self.problems else "all requirements met"
        return f"{self.cores.usable} cores, {len(self.units)} units: {state}"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    rule = "  ".join("-" * min(w, 60) for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _reachable(address: str, default_port: int) -> str | None:
    """None if a TCP connection to the URL's host:port opens within 3 s, else the reason."""
    first = address.split(",")[0]  # Spark HA masters: spark://h1:7077,h2:7077
    parts = urlsplit(first if "://" in first else f"tcp://{first}")
    if not parts.hostname:
        return f"cannot parse address {address!r}"
    port = parts.port or default_port
    try:
        with socket.create_connection((parts.hostname, port), timeout=3):
            return None
    except OSError as exc:
        return f"{parts.hostname}:{port} unreachable ({exc})"


def _cluster_state() -> tuple[list[str], list[str]]:
    """(configured cluster backends, problems with them); checks only what is set."""
    configured: list[str] = []
    problems: list[str] = []
    hostfile = os.environ.get(HOSTFILE_ENV)
    if hostfile:
        configured.append("mpi")
        if not Path(hostfile).is_file():
            problems.append(f"{HOSTFILE_ENV}={hostfile} does not exist: point it at a hostfile")
    for env, port, label, schemes in (
        (DASK_ENV, 8786, "dask", ("tcp", "tls")),
        (SPARK_ENV, 7077, "spark", ("spark",)),
    ):
        address = os.environ.get(env, "")
        if not address or address.startswith("local"):
            continue  # local[*] is not a cluster
        configured.append(label)
        scheme = urlsplit(address).scheme if "://" in address else "tcp"
        why = _reachable(address, port) if scheme in schemes else None  # yarn, k8s: unchecked
        if why:
            problems.append(f"{env}={address}: {why}; start the {label} cluster or fix it")
    return configured, problems


def _units(
    cores: int, probes: dict[str, hw.Probe], sim: hw.Probe, compiler: str | None
) -> tuple[UnitBackend, ...]:
    numba_gpu = probes["GPU numba.cuda"].available
    cupy_gpu = probes["GPU cupy"].available
    sim_text = "CUDA simulator" if sim.available else "no CUDA simulator (numba broken)"

    if cupy_gpu or numba_gpu:
        via = "CuPy" if cupy_gpu else "numba.cuda"
        profiling = UnitBackend("01-profiling", f"GPU exercise: real GPU via {via}", "real")
    else:
        profiling = UnitBackend(
            "01-profiling", f"GPU exercise: {sim_text} / NumPy (speed not graded)", "fallback"
        )
    containers = (
        UnitBackend("02-data-containers", "GPU: CuPy on real GPU", "real")
        if cupy_gpu
        else UnitBackend("02-data-containers", "GPU: NumPy stands in for CuPy", "fallback")
    )
    threading = UnitBackend(
        "03-threading",
        f"real threads on {cores} cores; GPU: " + ("numba.cuda" if numba_gpu else sim_text),
        "real" if numba_gpu else "fallback",
    )
    ipp = probes["ipyparallel"]
    engines = f"ipyparallel {cores} local engines" if ipp.available else f"no ipyparallel: {ipp.hint}"
    multiprocessing = UnitBackend(
        "04-multiprocessing",
        f"{cores} local processes; {engines}",
        "local" if ipp.available else "missing",
    )
    cython = (
        UnitBackend("05-cython", f"Cython + C compiler {compiler}", "real")
        if compiler and hw._installed("Cython")
        else UnitBackend(
            "05-cython",
            "no C compiler: apt-get install build-essential"
            if not compiler
            else "Cython not installed: pip install 'cython>=3.0'",
            "missing",
        )
    )
    if numba_gpu:
        cuda = UnitBackend("06-numba-cuda", "numba.cuda on real GPU", "real")
    elif sim.available:
        cuda = UnitBackend("06-numba-cuda", "CUDA simulator (speed not graded)", "fallback")
    else:
        cuda = UnitBackend("06-numba-cuda", f"none: {sim.detail} -> {sim.hint}", "missing")

    mpi = probes["MPI"]
    hostfile = os.environ.get(HOSTFILE_ENV)
    if not mpi.available:
        mpi_unit = UnitBackend("07-mpi", f"none: {mpi.detail} -> {mpi.hint}", "missing")
    elif hostfile:
        mpi_unit = UnitBackend("07-mpi", f"mpiexec -f {hostfile} (real cluster)", "real")
    else:
        mpi_unit = UnitBackend("07-mpi", f"mpiexec on localhost, {cores} ranks", "local")

    dask = probes["Dask"]
    scheduler = os.environ.get(DASK_ENV)
    if not dask.available:
        dask_unit = UnitBackend("08-dask", f"none: {dask.detail} -> {dask.hint}", "missing")
    elif scheduler:
        dask_unit = UnitBackend("08-dask", f"Dask scheduler at {scheduler}", "real")
    else:
        dask_unit = UnitBackend("08-dask", f"LocalCluster, {cores} workers", "local")

    spark = probes["Spark"]
    master = os.environ.get(SPARK_ENV)
    if not spark.available:
        spark_unit = UnitBackend("09-spark", f"none: {spark.detail} -> {spark.hint}", "missing")
    elif master and not master.startswith("local"):
        spark_unit = UnitBackend("09-spark", f"Spark master {master}", "real")
    else:
        spark_unit = UnitBackend("09-spark", f"Spark {master or 'local[*]'}", "local")

    return (
        profiling,
        containers,
        threading,
        multiprocessing,
        cython,
        cuda,
        mpi_unit,
        dask_unit,
        spark_unit,
    )


def _required() -> tuple[tuple[str, ...], list[str]]:
    from .verdict import required_hardware

    wanted = required_hardware()
    problems = [
        f"{REQUIRE_ENV} names unknown requirement {t!r}: use a comma list of {','.join(REQUIREMENTS)}"
        for t in wanted
        if t not in REQUIREMENTS
    ]
    return wanted, problems


def _missing(wanted: tuple[str, ...], probes: dict[str, hw.Probe]) -> list[str]:
    problems: list[str] = []
    if "gpu" in wanted:
        gpu = [probes[k] for k in ("GPU numba.cuda", "GPU cupy", "GPU pycuda")]
        if not hw.gpu_present():
            problems.append(
                "gpu required but this machine has no NVIDIA GPU with a working driver "
                "(libcuda.so.1) -> run the grading on a GPU machine"
            )
        elif not any(p.available for p in gpu):
            problems.append(
                "gpu required: a GPU is present but numba.cuda, cupy and pycuda cannot use it "
                f"-> {gpu[0].hint}; {hw.GPU_INSTALL_HINT}"
            )
    for need, key in (("mpi", "MPI"), ("spark", "Spark"), ("dask", "Dask")):
        p = probes[key]
        if need in wanted and not p.available:
            problems.append(f"{need} required but missing ({p.detail}) -> {p.hint}")
    if "cluster" in wanted:
        configured, cluster_problems = _cluster_state()
        if not configured:
            problems.append(
                f"cluster required but none configured: set {HOSTFILE_ENV}, {DASK_ENV} or {SPARK_ENV}"
            )
        problems.extend(cluster_problems)
    return problems


def collect() -> Report:
    """Run every probe (concurrently: MPI, Java and the simulator each start processes)."""
    hw.gpu_present()  # cached; settled once here, not raced by the three GPU probes
    with ThreadPoolExecutor(max_workers=len(hw.ALL_PROBES) + 2) as pool:
        futures = [pool.submit(probe) for probe in hw.ALL_PROBES]
        sim_future = pool.submit(hw.probe_cuda_simulator)
        cores_future = pool.submit(hw.core_count)
        probes = {p.name: p for p in (f.result() for f in futures)}
        simulator = sim_future.result()
        cores = cores_future.result()
    compiler = hw.c_compiler()
    wanted, problems = _required()
    problems += _missing(tuple(t for t in wanted if t in REQUIREMENTS), probes)
    units = _units(cores.usable, probes, simulator, compiler)
    return Report(cores, probes, simulator, compiler, units, wanted, tuple(problems))


def render(report: Report) -> str:
    machine = [("cores", "yes", report.cores.summary())]
    machine += [(p.name, "yes" if p.available else "no", p.detail) for p in report.probes.values()]
    hints = [f"  {p.name}: {p.hint}" for p in report.probes.values() if p.hint and not p.available]
    units = [(u.unit, u.status, u.backend) for u in report.units]
    required = ",".join(report.required) if report.required else "(unset: nothing required)"
    out = [
        "This machine",
        _table(("what", "ok", "detail"), machine),
        *(["", "To get what is missing:", *hints] if hints else []),
        "",
        "Lab units",
        _table(("unit", "runs", "backend"), units),
        "",
        f"{REQUIRE_ENV}={required}",
        f"Grading isolation: {_isolation()}",
        f"Timing priority: {_timing_priority()}",
    ]
    if report.problems:
        out += [f"MISSING: {problem}" for problem in report.problems]
    else:
        out.append("OK: every required backend is present")
    return "\n".join(out)


def _timing_priority() -> str:
    from .reserve import TIMING_NICE

    if not os.path.exists("/proc/self/autogroup"):
        return "none (no Linux autogroups): timing shares the machine with whatever else runs"
    if os.geteuid() != 0:
        return (
            "none (not root): a process spinning in another session can leave parallel code one "
            "core, and its check then reports the machine too busy"
        )
    return f"timed sessions run at autogroup nice {TIMING_NICE}, ahead of other sessions"


def _isolation() -> str:
    from .sandbox import describe_mode, isolation_mode

    mode = isolation_mode()
    return f"{mode}: {describe_mode(mode)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="autograder doctor",
        description="Show the hardware and backends here, and which backend each lab uses. "
        f"Exits 1 when {REQUIRE_ENV} (comma list of {','.join(REQUIREMENTS)}) names "
        "something missing.",
    )
    parser.parse_args(argv)
    try:
        report = collect()
    except ValueError as exc:  # a malformed AUTOGRADER_CORES
        print(f"doctor: {exc}", file=sys.stderr)
        return 1
    print(render(report))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
