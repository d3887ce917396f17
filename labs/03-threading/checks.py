"""Graded exercises of lab 03 (threads and the GIL). Released with the lab; the grader uses its own copy.

Two exercises talk to the course's HTTP service (autograder/services.py): the grader starts
a pool of instances (``resource="services"``) beside the code it runs and passes it first.
Every item's record is known without asking (``services.record``), so outputs are checked
exactly; what an output cannot show (how many requests were in flight at once, whether
every item was really fetched, whether a stalled answer was waited out) the instances
count themselves, and ``after_call`` reads their counts after every call.

Waiting on I/O does not hold the GIL, so exercises 1, 3 and 4 are judged on the wall clock
against the course's serial code (their bars are latency ratios, not core counts).
Exercise 2 is CPU work that releases the GIL: ``parallel_workers=2``, so its verdict needs
the CPU-time evidence of every thread, and threads that take turns on the GIL fail it.
"""

from __future__ import annotations

import string

import numpy as np
import threadwork

from autograder import Exercise, services

ID_RANGE = 2**31  # fresh ids on every call: no two calls ask for the same items


def _ids(rng: np.random.Generator, n: int, fault: str | None) -> list[int]:
    """``n`` distinct random ids whose fault (services.fault_of) is ``fault``."""
    found: list[int] = []
    while len(found) < n:
        i = int(rng.integers(1, ID_RANGE))
        if services.fault_of(i) == fault and i not in found:
            found.append(i)
    return found


def _served(report: dict) -> dict[int, float]:
    """Each item the instances answered in full during the call, with its first answer's time."""
    first: dict[int, float] = {}
    for inst in report.get("instances", []):
        for item_id, when in inst.get("ok", []) + inst.get("after_stall", []):
            first[item_id] = min(when, first.get(item_id, when))
    return first


def _never_fetched(ids: list[int], report: dict) -> str | None:
    served = _served(report)
    missing = [i for i in ids if i not in served]
    if missing:
        return (
            f"item {missing[0]} was never answered by the service ({len(missing)} of {len(ids)} items "
            "were not): the services count what they answer, so every record must be fetched over HTTP"
        )
    return None


# ------------------------------------------------------------ 1. items over HTTP


def items_input(rng: np.random.Generator, small: bool) -> tuple:
    return (_ids(rng, 30 if small else 80, None),)


def items_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """No ids; one id; the same id twice."""
    one, two = _ids(rng, 2, None)
    return [([],), ([one],), ([two, two],)]


def expected_records(ids: list[int]) -> list[dict]:
    return [services.record(i) for i in ids]


def diagnose_items(args: tuple, expected: object, got: object) -> str | None:
    """Name records that came back in another order."""
    if not isinstance(got, list) or not isinstance(expected, list) or got == expected:
        return None
    key = lambda r: r.get("id", 0) if isinstance(r, dict) else 0  # noqa: E731
    if len(got) == len(expected) and sorted(got, key=key) == sorted(expected, key=key):
        return (
            "every record is there, but not in the order of ids: you collected them as the requests "
            "finished (as_completed); executor.map(...) returns results in the order of its inputs"
        )
    if len(got) != len(expected):
        return f"{len(got)} records for {len(expected)} ids: one record per id, in the order of ids"
    return None


def after_items(args: tuple, report: dict) -> str | None:
    return _never_fetched(list(args[0]), report)


# --------------------------------------------------- 2. CPU work that releases the GIL


def keys_input(rng: np.random.Generator, small: bool) -> tuple:
    letters = np.array(list(string.ascii_letters + string.digits))
    n = 12 if small else 24
    passwords = ["".join(rng.choice(letters, int(rng.integers(6, 16)))) for _ in range(n)]
    salt = "".join(rng.choice(letters, 16))
    return (passwords, salt, 100_000 if small else 150_000)


def keys_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """No passwords; one; three that are the same."""
    (passwords, salt, rounds) = keys_input(rng, small)
    return [([], salt, 1_000), (passwords[:1], salt, 1_000), ([passwords[0]] * 3, salt, 1_000)]


def diagnose_keys(args: tuple, expected: object, got: object) -> str | None:
    if not isinstance(got, list) or not isinstance(expected, list):
        return None
    if len(got) == len(expected) and sorted(map(str, got)) == sorted(expected) and got != expected:
        return (
            "every key is there, but not in the order of passwords: you collected them as the threads "
            "finished (as_completed); executor.map(...) returns results in the order of its inputs"
        )
    if len(got) != len(expected):
        return f"{len(got)} keys for {len(expected)} passwords: one key per password, in order"
    return None


# --------------------------------------------------------- 3. a race on shared state

ACCOUNTS = ("alice", "bob", "carol", "dave")


def ledger_input(rng: np.random.Generator, small: bool) -> tuple:
    n = 150 if small else 400
    return ({a: int(rng.integers(500, 5_000)) for a in ACCOUNTS}, _transfers(rng, n))


def _transfers(rng: np.random.Generator, n: int) -> list[list]:
    out = []
    for _ in range(n):
        src, dst = rng.choice(len(ACCOUNTS), 2, replace=False)
        out.append([ACCOUNTS[src], ACCOUNTS[dst], int(rng.integers(1, 200))])
    return out


def ledger_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """No transfers; one; only refused ones (amounts that are multiples of 7)."""
    balances = {a: 1_000 for a in ACCOUNTS}
    refused = [[s, d, 7 * int(rng.integers(1, 20))] for s, d, _ in _transfers(rng, 5)]
    return [(balances, []), (balances, _transfers(rng, 1)), (balances, refused)]


def settle_expected(balances: dict[str, int], transfers: list[list]) -> dict[str, int]:
    """The final balances, without the fraud check's wait (the rule is the same)."""
    out = dict(balances)
    for src, dst, amount in transfers:
        if threadwork.approved([src, dst, amount]):
            out[src] -= amount
            out[dst] += amount
    return out


def diagnose_ledger(args: tuple, expected: object, got: object) -> str | None:
    """Money that appeared or vanished: updates lost to a race."""
    if not isinstance(got, dict) or not isinstance(expected, dict) or set(got) != set(expected):
        return None
    if not all(isinstance(v, int) for v in got.values()):
        return None
    drift = sum(got.values()) - sum(expected.values())
    if drift:
        return (
            f"the balances add up to {abs(drift)} {'more' if drift > 0 else 'less'} than they should: "
            "money appeared or vanished, so some updates were lost. Two threads read the same balance, "
            "and the second write overwrote the first: hold one threading.Lock around each ledger.transfer"
        )
    return None


# ------------------------------------------- 4. a pool of services, politely and robustly

FAULT_WORDS = {
    "error": "answered HTTP 500 the first time",
    "garbage": "answered half a JSON body the first time",
    "slow": "held its first answer back for seconds",
}


def totals_input(rng: np.random.Generator, small: bool) -> tuple:
    """Mostly plain ids, and a few of each fault: one stall (it costs every client a timeout,
    so more would make timeouts, not the pool, decide the speed), two of each other fault."""
    ids = _ids(rng, 40 if small else 200, None) + _ids(rng, 1, "slow")
    ids += _ids(rng, 2, "error") + _ids(rng, 2, "garbage")
    return (rng.permutation(np.array(ids, dtype=np.int64)).tolist(),)


def totals_edges(rng: np.random.Generator, small: bool) -> list[tuple]:
    """No ids; one id of each fault; fewer ids than instances."""
    return [([],), ([_ids(rng, 1, f)[0] for f in services.FAULTS],), (_ids(rng, 3, None),)]


def expected_totals(ids: list[int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for i in ids:
        rec = services.record(i)
        totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]
    return totals


def diagnose_totals(args: tuple, expected: object, got: object) -> str | None:
    """Name the items whose first request failed and that never made it into the totals."""
    (ids,) = args
    if not isinstance(got, dict):
        return None
    kinds = [f for f in services.FAULTS if any(services.fault_of(i) == f for i in ids)]
    for size in range(1, len(kinds) + 1):
        for mask in range(1 << len(kinds)):
            left_out = {k for b, k in enumerate(kinds) if mask >> b & 1}
            if len(left_out) != size:
                continue
            kept = [i for i in ids if services.fault_of(i) not in left_out]
            if expected_totals(kept) == got:
                missing = [i for i in ids if services.fault_of(i) in left_out]
                why = "; ".join(f"{FAULT_WORDS[k]}" for k in sorted(left_out))
                return (
                    f"items {', '.join(map(str, missing[:4]))} are missing from your totals: each one "
                    f"{why}. Try a failed request again (a few attempts, each with a timeout) instead "
                    "of skipping it"
                )
    return None


def after_totals(args: tuple, report: dict) -> str | None:
    """At most LIMIT_PER_INSTANCE in flight at any instance; no stall waited out; every item fetched."""
    limit = threadwork.LIMIT_PER_INSTANCE
    for inst in report.get("instances", []):
        if inst.get("max_in_flight", 0) > limit:
            where = inst["url"].split("//")[-1]
            return (
                f"the service at {where} had {inst['max_in_flight']} of your requests in flight at once; "
                f"the limit is {limit} per instance"
            )
    served = _served(report)
    for inst in report.get("instances", []):
        for item_id, when in inst.get("after_stall", []):
            if served.get(item_id, when) >= when - 1e-3:  # no earlier answer: nobody retried
                return (
                    f"the service held item {item_id} back for {services.STALL_S:g} s and your code waited "
                    f"for all of it: give every request a timeout ({threadwork.TIMEOUT_S:g} s) and try again"
                )
    return _never_fetched(list(args[0]), report)


EXERCISES = [
    Exercise(
        name="fetch-items",
        title="Many requests at once: a thread pool",
        make_input=items_input,
        edge_inputs=items_edges,
        baseline=threadwork.fetch_items_serial,
        reference=expected_records,
        diagnose=diagnose_items,
        resource="services",
        after_call=after_items,
        baseline_cpu_bound=False,
        min_speedup=4.0,
        timeout_s=60.0,
        self_check_s=40.0,
        correct_hint="call threadwork.get_item(services.urls[0], i) for every id, in threads, and return "
        "the records in the order of ids; compare with threadwork.fetch_items_serial on a short list",
        speed_hint="each request mostly waits for the service, and a waiting thread does not hold the GIL: "
        "use a ThreadPoolExecutor with many more threads than cores (16 or more) and executor.map",
    ),
    Exercise(
        name="derive-keys",
        title="CPU work that releases the GIL",
        make_input=keys_input,
        edge_inputs=keys_edges,
        baseline=threadwork.derive_keys_serial,
        reference="_reference:derive_keys",
        diagnose=diagnose_keys,
        min_speedup=1.3,
        parallel_workers=2,
        timeout_s=60.0,
        self_check_s=40.0,
        correct_hint="the keys are threadwork.derive_key(p, salt, rounds) for every password p, in the "
        "order of passwords; compare with threadwork.derive_keys_serial",
        speed_hint="hashlib.pbkdf2_hmac releases the GIL while it hashes, so threads can hash at the same "
        "time: one thread per core (ThreadPoolExecutor(WORKERS)) mapping threadwork.derive_key over the "
        "passwords, with no lock around the hashing",
    ),
    Exercise(
        name="settle",
        title="A race, and the lock that fixes it",
        make_input=ledger_input,
        edge_inputs=ledger_edges,
        baseline=threadwork.settle_serial,
        reference=settle_expected,
        diagnose=diagnose_ledger,
        baseline_cpu_bound=False,
        min_speedup=3.0,
        timeout_s=60.0,
        self_check_s=40.0,
        correct_hint="every approved transfer (threadwork.check_transfer) must move its amount exactly once: "
        "hold one threading.Lock while ledger.transfer reads and writes the balances",
        speed_hint="run the fraud checks in threads (8 or more) and hold the lock only around "
        "ledger.transfer: a lock around check_transfer too lets one thread at a time wait for the check",
    ),
    Exercise(
        name="category-totals",
        title="A pool of services: limits, timeouts, retries",
        make_input=totals_input,
        edge_inputs=totals_edges,
        baseline=threadwork.category_totals_serial,
        reference=expected_totals,
        diagnose=diagnose_totals,
        resource="services",
        after_call=after_totals,
        baseline_cpu_bound=False,
        min_speedup=3.5,
        timeout_s=60.0,
        self_check_s=60.0,
        correct_hint="spread the ids over services.urls, keep at most threadwork.LIMIT_PER_INSTANCE requests "
        "in flight per instance (one threading.Semaphore per instance), give every request a timeout "
        "(threadwork.TIMEOUT_S) and try a failed one again (threadwork.ATTEMPTS tries); sum value per "
        "category",
        speed_hint="keep every instance busy up to its limit: as many threads as the instances allow in "
        "total (LIMIT_PER_INSTANCE * len(services.urls)), and the serial code's timeout "
        "(threadwork.TIMEOUT_S), so that a stalled answer costs little",
    ),
]
