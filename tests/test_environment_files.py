"""pyproject.toml, environment.yml and binder/ must describe the same course environment."""

import re
from pathlib import Path

import pytest
import tomllib
import yaml
from conftest import ROOT

# Names conda-forge spells differently, and what only conda needs.
CONDA_NAME = {
    "dask[distributed]": ["dask", "distributed"],
    "cupy-cuda12x": ["cupy"],
    "pocl-binary-distribution": ["pocl"],
}
CONDA_ONLY = {"python", "pip", "openjdk"}
MISSION = [
    "jupyterlab",
    "nbgrader",
    "ipyparallel",
    "mpi4py",
    "numba",
    "cython",
    "pycuda",
    "cupy",
    "numexpr",
    "dask",
    "pyspark",
    "matplotlib",
    "line_profiler",
    "memory_profiler",
]


def _name(requirement: str) -> str:
    return re.split(r"[<>=~! ;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [_name(r) for r in project["dependencies"] + project["optional-dependencies"]["gpu"]]
    return {conda for n in names for conda in CONDA_NAME.get(n, [n])}


def _conda() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return {_name(d) for d in env["dependencies"] if isinstance(d, str)}


def test_environment_yml_lists_what_pyproject_lists():
    pip, conda = _pyproject(), _conda()
    assert pip - conda == set(), f"in pyproject.toml but not environment.yml: {sorted(pip - conda)}"
    assert conda - pip - CONDA_ONLY == set(), f"only in environment.yml: {sorted(conda - pip - CONDA_ONLY)}"


def test_every_package_of_the_mission_is_installed_somewhere():
    assert set(MISSION) <= _pyproject() | {"cupy"}


def test_binder_installs_the_project_itself_and_java():
    reqs = [
        line.strip()
        for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert reqs == ["-e ."], "binder must install pyproject.toml's list, not a copy of it"
    assert "openjdk" in (ROOT / "binder" / "apt.txt").read_text()


def test_repo2docker_reads_binder_as_meant():
    """repo2docker's own reading of binder/ (no Docker needed): Java from apt, the project
    installed from pyproject.toml, the check in postBuild, and small mode from start."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("jupyter-repo2docker") or str(Path(sys.executable).parent / "jupyter-repo2docker")
    if not Path(exe).exists():
        pytest.skip("jupyter-repo2docker is not installed: `make setup` installs it (dev extra)")
    cmd = [exe, "--no-build", "--debug", str(ROOT)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dockerfile = done.stdout + done.stderr
    assert done.returncode == 0, dockerfile[-2000:]
    assert "openjdk-17-jre-headless" in dockerfile
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "./binder/postBuild" in dockerfile
    assert "binder/start" in dockerfile
    assert "export COURSE_SMALL=1" in (ROOT / "binder" / "start").read_text()
