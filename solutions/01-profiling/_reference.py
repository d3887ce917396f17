"""Lab 01 reference solutions: used by the grader for expected outputs, never released.

nbgrader_config.py lists ``_reference.py`` in CourseDirectory.ignore, so
``make labs`` leaves it out of labs/ and students' self-checks fall back to the
baseline (or to the worked examples in checks.py).
"""

from __future__ import annotations

import math

import logpipe


def fast_report(lines: list[str]) -> dict:
    """The course's fixed version: a set makes the visitor count linear."""
    records = [r for r in map(logpipe.parse, lines) if r is not None]
    return {
        "requests": len(records),
        "visitors": len({r[0] for r in records}),
        "server_errors": sum(1 for r in records if r[4] >= 500),
        "top_paths": logpipe.top_paths(records),
        "bytes_per_hour": logpipe.bytes_per_hour(records),
    }


def summarize_stream(path: str) -> dict:
    """The course's streaming version: one line in memory at a time."""
    visitors: set[str] = set()
    paths: dict[str, int] = {}
    hours = [0] * 24
    requests = errors = 0
    with open(path) as fh:
        for line in fh:
            r = logpipe.parse(line)
            if r is None:
                continue
            requests += 1
            visitors.add(r[0])
            errors += r[4] >= 500
            paths[r[3]] = paths.get(r[3], 0) + 1
            hours[r[1]] += r[5]
    top = sorted(paths.items(), key=lambda item: (-item[1], item[0]))[:5]
    return {
        "requests": requests,
        "visitors": len(visitors),
        "server_errors": errors,
        "top_paths": top,
        "bytes_per_hour": hours,
    }


def pays_off(
    n_bytes: float, flops_per_byte: float, link_gb_s: float, gpu_gflops: float, cpu_gflops: float
) -> bool:
    """Offload pays when copying there and back plus the kernel beats the CPU."""
    flops = n_bytes * flops_per_byte
    gpu_s = 2 * n_bytes / (link_gb_s * 1e9) + flops / (gpu_gflops * 1e9)
    cpu_s = flops / (cpu_gflops * 1e9)
    return bool(gpu_s < cpu_s) and not math.isclose(gpu_s, cpu_s, rel_tol=1e-9)
