"""Lab 01 submissions that the grading tests feed through real nbgrader.

Each is the released lab with its solution cells (by grade_id) replaced, the way a
student would fill them in.
"""

from __future__ import annotations

import copy
import re

import nbformat

SLOW_BUT_CORRECT = {
    "ex1-solution": 'HOTSPOT = "count_visitors"',
    "ex2-solution": "def fast_report(lines):\n    return logpipe.report(lines)",
    "ex3-solution": "def summarize_stream(path):\n    return logpipe.summarize_file(path)",
    "ex4-solution": (
        "def gpu_iterate(x0, c, steps):\n"
        "    x = np.array(x0, dtype=float)\n"
        "    for _ in range(steps):\n"
        "        x = 0.5 * np.cos(x) + c\n"
        "    return x\n\n"
        "def pays_off(n_bytes, flops_per_byte, link_gb_s, gpu_gflops, cpu_gflops):\n"
        "    flops = n_bytes * flops_per_byte\n"
        "    gpu_s = 2 * n_bytes / (link_gb_s * 1e9) + flops / (gpu_gflops * 1e9)\n"
        "    return gpu_s < flops / (cpu_gflops * 1e9)\n"
    ),
}

WRONG_BUT_FAST = {
    "ex1-solution": 'HOTSPOT = "parse"',
    "ex2-solution": (
        "def fast_report(lines):\n"
        "    return {'requests': len(lines), 'visitors': len(lines), 'server_errors': 0,\n"
        "            'top_paths': [], 'bytes_per_hour': [0] * 24}"
    ),
    "ex3-solution": (
        "def summarize_stream(path):\n"
        "    return {'requests': 0, 'visitors': 0, 'server_errors': 0,\n"
        "            'top_paths': [], 'bytes_per_hour': [0] * 24}"
    ),
    "ex4-solution": (
        "def gpu_iterate(x0, c, steps):\n    return x0\n\n"
        "def pays_off(n_bytes, flops_per_byte, link_gb_s, gpu_gflops, cpu_gflops):\n    return True\n"
    ),
}

# Slow but correct code that tries to win the speed points by tampering with its own
# interpreter: a frozen clock, a memo cache, a sabotaged baseline, and an object whose
# __eq__ always says yes.
CHEATER = {
    **SLOW_BUT_CORRECT,
    "ex2-solution": (
        "import itertools, time\n"
        "_tick = itertools.count()\n"
        "time.perf_counter = lambda: next(_tick) * 1e-9  # every timing looks instant\n"
        "_report = logpipe.report\n"
        "def _sabotaged(lines):\n"
        "    time.sleep(0.5)\n"
        "    return _report(lines)\n"
        "logpipe.report = _sabotaged  # make the baseline look slow\n"
        "_memo = {}\n"
        "def fast_report(lines):\n"
        "    key = hash(tuple(lines))\n"
        "    if key not in _memo:\n"
        "        _memo[key] = _report(lines)\n"
        "    return _memo[key]\n"
    ),
    "ex3-solution": (
        "class _Yes(dict):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def summarize_stream(path):\n"
        "    return _Yes()\n"
    ),
}

_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def fill(release_nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def reference(solution_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution notebook, markers removed: what a perfect student submits."""
    nb = copy.deepcopy(solution_nb)
    for cell in nb.cells:
        cell.source = _MARKERS.sub("", cell.source)
    return nb
