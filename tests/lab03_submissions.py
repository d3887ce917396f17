"""Lab 03 submissions that the grading tests feed through real nbgrader.

Each is the released lab with solution cells (by grade_id) replaced, the way a student
would fill them in: slow but correct, wrong but fast, a cheater, and the wrong-answer
corpus (the mistakes students really make with thread pools, the GIL, locks and services).
"""

from __future__ import annotations

from grading import Mistake

LAB = "03-threading"
NOTEBOOK = "03-threading-lab.ipynb"
EXTRAS = ["checks.py", "threadwork.py"]


def _totals(fetch_body: str, threads: str = "threadwork.LIMIT_PER_INSTANCE * len(services.urls)") -> str:
    """category_totals around a per-item ``fetch(k)`` (urls, ids and gates in scope)."""
    return (
        "def category_totals(services, ids):\n"
        "    urls = services.urls\n"
        "    gates = [threading.Semaphore(threadwork.LIMIT_PER_INSTANCE) for _ in urls]\n\n"
        "    def fetch(k):\n"
        "        url = urls[k % len(urls)]\n" + fetch_body + "\n"
        f"    with ThreadPoolExecutor(max_workers={threads}) as pool:\n"
        "        records = [r for r in pool.map(fetch, range(len(ids))) if r is not None]\n"
        "    totals = {}\n"
        "    for rec in records:\n"
        '        totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]\n'
        "    return totals\n"
    )


_RETRYING = (
    "        for attempt in range(threadwork.ATTEMPTS):\n"
    "            try:\n"
    "                return threadwork.get_item(url, ids[k], timeout={timeout})\n"
    "            except (OSError, ValueError):\n"
    "                if attempt == threadwork.ATTEMPTS - 1:\n"
    "                    raise\n"
)


def _gated(body: str) -> str:
    return "        with gates[k % len(urls)]:\n" + "".join(
        "    " + line + "\n" for line in body.splitlines()
    )


SLOW_BUT_CORRECT = {
    "ex1-solution": (
        "def fetch_items(services, ids):\n    return threadwork.fetch_items_serial(services, ids)\n"
    ),
    "ex2-solution": (
        "def derive_keys(passwords, salt, rounds):\n"
        "    return threadwork.derive_keys_serial(passwords, salt, rounds)\n"
    ),
    "ex3-solution": (
        "def settle(balances, transfers):\n    return threadwork.settle_serial(balances, transfers)\n"
    ),
    "ex4-solution": (
        "def category_totals(services, ids):\n    return threadwork.category_totals_serial(services, ids)\n"
    ),
}

WRONG_BUT_FAST = {
    "ex1-solution": "def fetch_items(services, ids):\n    return [{} for _ in ids]\n",
    "ex2-solution": "def derive_keys(passwords, salt, rounds):\n    return ['00' * 32 for _ in passwords]\n",
    "ex3-solution": "def settle(balances, transfers):\n    return dict(balances)\n",
    "ex4-solution": "def category_totals(services, ids):\n    return {'books': len(ids)}\n",
}

# Slow but correct code that tries to win the speed points without concurrency: a frozen
# clock and a sabotaged baseline; a lying string; threads that only look busy.
CHEATER = {
    **SLOW_BUT_CORRECT,
    "ex1-solution": (
        "import itertools\n"
        "_tick = itertools.count()\n"
        "time.perf_counter = lambda: next(_tick) * 1e-9  # every timing looks instant\n"
        "_serial = threadwork.fetch_items_serial\n"
        "def _sabotaged(services, ids):\n"
        "    time.sleep(0.5)\n"
        "    return _serial(services, ids)\n"
        "threadwork.fetch_items_serial = _sabotaged  # make the baseline look slow\n"
        "def fetch_items(services, ids):\n"
        "    return _serial(services, ids)\n"
    ),
    "ex2-solution": (
        "class _Yes(list):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def derive_keys(passwords, salt, rounds):\n"
        "    return _Yes(['0'] * len(passwords))\n"
    ),
    "ex3-solution": (
        "def _spin(seconds):\n"
        "    end = time.monotonic() + seconds\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "def settle(balances, transfers):\n"
        "    spinner = threading.Thread(target=_spin, args=(0.1,))\n"
        "    spinner.start()\n"
        "    out = threadwork.settle_serial(balances, transfers)\n"
        "    spinner.join()\n"
        "    return out\n"
    ),
}

# Besides the measured speed points, the cheater loses this: its always-equal list is wrong.
CHEATER_ALSO_FAILS = ("ex2-correct",)

MISTAKES = [
    # 1: a loop called concurrent; a pool of one; results in completion order; records made up.
    Mistake(
        "a serial loop",
        "ex1-solution",
        "def fetch_items(services, ids):\n"
        "    return [threadwork.get_item(services.urls[0], i) for i in ids]\n",
        ("ex1-speed",),
        "many more threads than cores",
    ),
    Mistake(
        "a thread pool of one",
        "ex1-solution",
        "def fetch_items(services, ids):\n"
        "    with ThreadPoolExecutor(max_workers=1) as pool:\n"
        "        return list(pool.map(lambda i: threadwork.get_item(services.urls[0], i), ids))\n",
        ("ex1-speed",),
        "many more threads than cores",
    ),
    Mistake(
        "records in the order they finished",
        "ex1-solution",
        "from concurrent.futures import as_completed\n\n"
        "def fetch_items(services, ids):\n"
        "    with ThreadPoolExecutor(max_workers=32) as pool:\n"
        "        futures = [pool.submit(threadwork.get_item, services.urls[0], i) for i in ids]\n"
        "        return [f.result() for f in as_completed(futures)]\n",
        ("ex1-correct", "ex1-speed"),
        "not in the order of ids",
    ),
    Mistake(
        "records made up without asking the service",
        "ex1-solution",
        "from autograder.services import record\n\n"
        "def fetch_items(services, ids):\n"
        "    return [record(i) for i in ids]\n",
        ("ex1-correct", "ex1-speed"),
        "was never answered by the service",
    ),
    # 2: a lock around the hashing; all the work in one thread.
    Mistake(
        "a lock around the hashing",
        "ex2-solution",
        "_hash_lock = threading.Lock()\n\n"
        "def derive_keys(passwords, salt, rounds):\n"
        "    def one(p):\n"
        "        with _hash_lock:  # to be safe\n"
        "            return threadwork.derive_key(p, salt, rounds)\n"
        "    with ThreadPoolExecutor(max_workers=WORKERS) as pool:\n"
        "        return list(pool.map(one, passwords))\n",
        ("ex2-speed",),
        "took turns instead of running at the same time",
    ),
    Mistake(
        "the whole loop in one thread",
        "ex2-solution",
        "def derive_keys(passwords, salt, rounds):\n"
        "    with ThreadPoolExecutor(max_workers=WORKERS) as pool:\n"
        "        return pool.submit(threadwork.derive_keys_serial, passwords, salt, rounds).result()\n",
        ("ex2-speed",),
        "work was not shared between workers",
    ),
    # 3: no lock; a lock around the wait too.
    Mistake(
        "no lock around the read-modify-write",
        "ex3-solution",
        "def settle(balances, transfers):\n"
        "    ledger = threadwork.Ledger(balances)\n"
        "    def one(t):\n"
        "        if threadwork.check_transfer(t):\n"
        "            ledger.transfer(*t)\n"
        "    with ThreadPoolExecutor(max_workers=16) as pool:\n"
        "        list(pool.map(one, transfers))\n"
        "    return ledger.balances\n",
        ("ex3-correct", "ex3-speed"),
        "some updates were lost",
    ),
    Mistake(
        "the lock held around the fraud check too",
        "ex3-solution",
        "def settle(balances, transfers):\n"
        "    ledger = threadwork.Ledger(balances)\n"
        "    lock = threading.Lock()\n"
        "    def one(t):\n"
        "        with lock:\n"
        "            if threadwork.check_transfer(t):\n"
        "                ledger.transfer(*t)\n"
        "    with ThreadPoolExecutor(max_workers=16) as pool:\n"
        "        list(pool.map(one, transfers))\n"
        "    return ledger.balances\n",
        ("ex3-speed",),
        "hold the lock only around",
    ),
    # 4: no limit; no retry; no timeout; one request at a time.
    Mistake(
        "no limit on requests in flight",
        "ex4-solution",
        _totals(_RETRYING.format(timeout="threadwork.TIMEOUT_S"), threads="32"),
        ("ex4-correct", "ex4-speed"),
        "the limit is 2 per instance",
    ),
    Mistake(
        "a failed request skipped, not retried",
        "ex4-solution",
        _totals(
            _gated(
                "        try:\n"
                "            return threadwork.get_item(url, ids[k], timeout=threadwork.TIMEOUT_S)\n"
                "        except (OSError, ValueError):\n"
                "            return None  # skip the bad ones\n"
            )
        ),
        ("ex4-correct", "ex4-speed"),
        "are missing from your totals",
    ),
    Mistake(
        "no timeout",
        "ex4-solution",
        _totals(_gated(_RETRYING.format(timeout="None"))),
        ("ex4-correct", "ex4-speed"),
        "your code waited for all of it",
    ),
    Mistake(
        "one request at a time",
        "ex4-solution",
        _totals(_gated(_RETRYING.format(timeout="threadwork.TIMEOUT_S")), threads="1"),
        ("ex4-speed",),
        "keep every instance busy up to its limit",
    ),
]
