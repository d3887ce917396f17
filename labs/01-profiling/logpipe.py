"""A small web-log report, written the way code often is before anyone profiles it.

``report(lines)`` turns access-log lines into a summary: requests, distinct visitors,
server errors, the most requested paths and bytes served per hour. Malformed lines are
skipped. ``summarize_file(path)`` gives the same summary for a log file on disk.

This module is the course's baseline for lab 01: the grader times students' code
against it, so it must not change behaviour between releases.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

LINE = re.compile(
    r"(?P<ip>\S+) \S+ \S+ \[(?P<day>[^:]+):(?P<hour>\d\d):\d\d:\d\d [^\]]+\] "
    r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<size>\d+|-)'
)

PATHS = ["/", "/login", "/search", "/cart", "/checkout", "/api/items", "/api/prices", "/static/app.js"]
METHODS = ["GET", "GET", "GET", "POST"]
STATUSES = [200] * 16 + [301, 304, 404, 500, 503]


def make_lines(rng: np.random.Generator, n: int, visitors: int) -> list[str]:
    """Synthetic access-log lines: ``n`` requests from about ``visitors`` distinct IPs."""
    octets = rng.integers(1, 255, size=(visitors, 4))
    ips = [".".join(map(str, row)) for row in octets]
    who = rng.integers(0, visitors, size=n)
    hours = np.sort(rng.integers(0, 24, size=n))
    paths = rng.integers(0, len(PATHS) + 40, size=n)
    methods = rng.integers(0, len(METHODS), size=n)
    statuses = rng.integers(0, len(STATUSES), size=n)
    sizes = rng.integers(200, 50_000, size=n)
    lines = []
    for i in range(n):
        p = int(paths[i])
        path = PATHS[p] if p < len(PATHS) else f"/products/{p * 37 % 1000}"
        size = "-" if STATUSES[statuses[i]] == 304 else str(int(sizes[i]))
        lines.append(
            f"{ips[who[i]]} - - [21/Nov/2026:{int(hours[i]):02d}:{i % 60:02d}:{(i * 7) % 60:02d} +0000] "
            f'"{METHODS[methods[i]]} {path} HTTP/1.1" {STATUSES[statuses[i]]} {size}'
        )
    return lines


def parse(line: str) -> tuple[str, int, str, str, int, int] | None:
    m = LINE.match(line)
    if m is None:
        return None
    size = m["size"]
    return (
        m["ip"],
        int(m["hour"]),
        m["method"],
        m["path"],
        int(m["status"]),
        0 if size == "-" else int(size),
    )


def count_visitors(records: list[tuple]) -> int:
    seen: list[str] = []
    for record in records:
        if record[0] not in seen:
            seen.append(record[0])
    return len(seen)


def top_paths(records: list[tuple], k: int = 5) -> list[tuple[str, int]]:
    counts = Counter(r[3] for r in records)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]


def bytes_per_hour(records: list[tuple]) -> list[int]:
    totals = [0] * 24
    for r in records:
        totals[r[1]] += r[5]
    return totals


def summarize(records: list[tuple]) -> dict:
    return {
        "requests": len(records),
        "visitors": count_visitors(records),
        "server_errors": sum(1 for r in records if r[4] >= 500),
        "top_paths": top_paths(records),
        "bytes_per_hour": bytes_per_hour(records),
    }


def report(lines: list[str]) -> dict:
    """The summary of a list of log lines (malformed lines are skipped)."""
    records = [r for r in map(parse, lines) if r is not None]
    return summarize(records)


def summarize_file(path: str) -> dict:
    """The same summary as ``report`` for a log file on disk."""
    with open(path) as fh:
        lines = fh.read().splitlines()
    return report(lines)
