"""Binder's budget: every lecture and every lab's reference runs in small mode with one
usable core and a 2 GB memory cap, as on mybinder.org, and the parallel parts say they
were skipped for want of cores instead of failing.

The notebook runs in a child process that joins a memory cgroup and is pinned to one
core before it starts its kernel, so the kernel and everything it starts inherit both.
The peak memory of each notebook is written to test-artifacts/binder-budget.json.
"""

import json
import os
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT

from autograder.sandbox import cgroups

pytestmark = pytest.mark.full

BINDER_MEMORY = 2 * 1000**3  # mybinder.org's guarantee is 1-2 GB; its cap is 2 GB
NOTEBOOKS = sorted((ROOT / "course").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*/*-lab.ipynb"))
ARTIFACTS = ROOT / "test-artifacts"

_RUN = """
import sys, nbformat
from nbclient import NotebookClient
path, out = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}}).execute()
nbformat.write(nb, out)
"""


def _texts(nb) -> list[str]:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            elif out.get("output_type") == "error":
                texts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_runs_on_one_core_within_binders_memory(path, tmp_path):
    if not cgroups.available():
        pytest.skip("a memory cap needs cgroups, which this process cannot create (run as root)")
    group = cgroups.Cgroup()
    group.limit(memory_bytes=BINDER_MEMORY)
    core = min(os.sched_getaffinity(0))

    def confine() -> None:
        for procs in group.procs_files():
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))
        os.sched_setaffinity(0, {core})

    out = tmp_path / path.name
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUN, str(path), str(out)],
            env={**os.environ, "COURSE_SMALL": "1"},
            preexec_fn=confine,
            capture_output=True,
            text=True,
            timeout=900,
        )
        peak, oom = group.peak_bytes(), group.oom_kills()
    finally:
        group.remove()
    ARTIFACTS.mkdir(exist_ok=True)
    record = ARTIFACTS / "binder-budget.json"
    peaks = json.loads(record.read_text()) if record.exists() else {}
    peaks[f"{path.parent.name}/{path.name}"] = round(peak / 1e6)
    record.write_text(json.dumps(peaks, indent=1, sort_keys=True) + "\n")
    print(f"\n{path.name}: peak {peak / 1e6:.0f} MB on one core")

    assert oom == 0, f"{path.name} went over Binder's {BINDER_MEMORY / 1e9:.0f} GB ({oom} OOM kills)"
    assert done.returncode == 0, done.stderr[-3000:]
    texts = _texts(nbformat.read(out, as_version=4))
    failed = [t for t in texts if "[FAIL]" in t]
    assert not failed, f"{path.name} on one core: {failed[0][:500]}"
    # The checks' own lines (a lab's setup cell also prints how many cores it sees).
    lines = [line.strip() for t in texts for line in t.splitlines()]
    parallel = [line for line in lines if "usable core" in line and line.startswith("[")]
    checks = path.parent / "checks.py"
    if checks.exists() and "parallel_workers" in checks.read_text():
        assert parallel, f"{path.name}: no parallel part said it was skipped for want of cores"
        assert all("[SKIPPED]" in t for t in parallel), parallel
