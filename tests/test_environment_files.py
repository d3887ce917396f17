"""pyproject.toml, environment.yml and binder/ must describe the same course environment."""

import re

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
