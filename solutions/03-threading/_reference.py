"""Lab 03 reference solutions: used by the grader for expected outputs, never released.

nbgrader_config.py lists ``_reference.py`` in CourseDirectory.ignore, so ``make labs`` leaves
it out of labs/; a student's self-check then falls back to the serial baselines. Beside the
references it names the corpus's near misses (NEAR_MISSES) and honest solutions just above
each bar (MARGINAL), which `make check-stability` grades many times.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import threadwork


def workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# ------------------------------------------------------------ 1. items over HTTP


def fetch_items(services: Any, ids: list[int], threads: int = 32) -> list[dict]:
    url = services.urls[0]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda i: threadwork.get_item(url, i, timeout=10), ids))


# --------------------------------------------------- 2. CPU work that releases the GIL


def derive_keys(passwords: list[str], salt: str, rounds: int) -> list[str]:
    with ThreadPoolExecutor(workers()) as pool:
        return list(pool.map(lambda p: threadwork.derive_key(p, salt, rounds), passwords))


# --------------------------------------------------------- 3. a race on shared state


def settle(balances: dict[str, int], transfers: list[list], threads: int = 16) -> dict[str, int]:
    ledger = threadwork.Ledger(balances)
    lock = threading.Lock()

    def one(t: list) -> None:
        if threadwork.check_transfer(t):  # the wait, outside the lock
            with lock:
                ledger.transfer(*t)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, transfers))
    return ledger.balances


# ------------------------------------------- 4. a pool of services, politely and robustly


def fetch_robust(url: str, item_id: int) -> dict:
    for attempt in range(threadwork.ATTEMPTS):
        try:
            return threadwork.get_item(url, item_id, timeout=threadwork.TIMEOUT_S)
        except (OSError, ValueError):
            if attempt == threadwork.ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def category_totals(
    services: Any, ids: list[int], per_instance: int | None = None, threads: int | None = None
) -> dict[str, int]:
    urls = services.urls
    limit = per_instance or threadwork.LIMIT_PER_INSTANCE
    gates = [threading.Semaphore(limit) for _ in urls]

    def one(k: int) -> dict:
        with gates[k % len(urls)]:
            return fetch_robust(urls[k % len(urls)], ids[k])

    with ThreadPoolExecutor(threads or limit * len(urls)) as pool:
        records = list(pool.map(one, range(len(ids))))
    totals: dict[str, int] = {}
    for rec in records:
        totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]
    return totals


# The corpus's wrong answers nearest a bar: `make check-stability` grades each of them
# 50 times and reports how often it slipped through (its false-pass rate).
NEAR_MISSES = {
    "fetch-items": ["fetch_items_one_thread"],
    "derive-keys": ["derive_keys_locked", "derive_keys_one_thread"],
    "settle": ["settle_lock_around_check"],
    "category-totals": ["category_totals_two_threads"],
}


def fetch_items_one_thread(services: Any, ids: list[int]) -> list[dict]:
    return fetch_items(services, ids, threads=1)


def derive_keys_locked(passwords: list[str], salt: str, rounds: int) -> list[str]:
    """Two threads, but a lock around the hashing: they take turns."""
    lock = threading.Lock()

    def one(p: str) -> str:
        with lock:
            return threadwork.derive_key(p, salt, rounds)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, passwords))


def derive_keys_one_thread(passwords: list[str], salt: str, rounds: int) -> list[str]:
    with ThreadPoolExecutor(1) as pool:
        return list(pool.map(lambda p: threadwork.derive_key(p, salt, rounds), passwords))


def settle_lock_around_check(balances: dict[str, int], transfers: list[list]) -> dict[str, int]:
    ledger = threadwork.Ledger(balances)
    lock = threading.Lock()

    def one(t: list) -> None:
        with lock:  # the wait for the check inside the lock: one thread at a time
            if threadwork.check_transfer(t):
                ledger.transfer(*t)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, transfers))
    return ledger.balances


def category_totals_two_threads(services: Any, ids: list[int]) -> dict[str, int]:
    """Two requests in flight in all: under the limit, but most of the pool stays idle."""
    urls = services.urls
    with ThreadPoolExecutor(2) as pool:
        records = list(pool.map(lambda k: fetch_robust(urls[k % 2], ids[k]), range(len(ids))))
    totals: dict[str, int] = {}
    for rec in records:
        totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]
    return totals


# Honest, right answers whose true ratio is about 1.25x the bar: their false-fail rate is the
# grader's precision. Each keeps fewer requests (or threads) going than it could.
MARGINAL = {
    "fetch-items": "fetch_items_six_threads",
    "derive-keys": "derive_keys_uneven",
    "settle": "settle_four_threads",
    # Its inputs grow with the mode while one stall costs every variant the same timeout, so the
    # thread count that lands near 1.25x the bar differs: 5 threads in small mode, 4 in normal.
    "category-totals": {"small": "category_totals_five_threads", "normal": "category_totals_four_threads"},
}
UNEVEN = 0.61


def fetch_items_six_threads(services: Any, ids: list[int]) -> list[dict]:
    return fetch_items(services, ids, threads=6)


def derive_keys_uneven(passwords: list[str], salt: str, rounds: int) -> list[str]:
    """Two threads, one with 61% of the passwords: the busiest holds 1 / 0.61 = 1.64x less CPU."""
    cut = round(UNEVEN * len(passwords))
    parts = [passwords[:cut], passwords[cut:]]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda ps: [threadwork.derive_key(p, salt, rounds) for p in ps], parts))
    return done[0] + done[1]


def settle_four_threads(balances: dict[str, int], transfers: list[list]) -> dict[str, int]:
    return settle(balances, transfers, threads=4)


def category_totals_five_threads(services: Any, ids: list[int]) -> dict[str, int]:
    return category_totals(services, ids, threads=5)


def category_totals_four_threads(services: Any, ids: list[int]) -> dict[str, int]:
    return category_totals(services, ids, threads=4)
