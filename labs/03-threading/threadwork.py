"""Lab 03's workloads, written the serial way: the course's code your threaded versions must match.

- Items from an HTTP service (autograder/services.py): ``get_item`` makes one request;
  ``fetch_items_serial`` and ``category_totals_serial`` fetch one item after another.
- Keys derived with PBKDF2 (``hashlib.pbkdf2_hmac``, which releases the GIL while it hashes).
- A ledger whose ``transfer`` is a read-modify-write, and a fraud check that waits on I/O.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from typing import Any

# ---------------------------------------------------------------- items over HTTP

LIMIT_PER_INSTANCE = 2  # exercise 4: requests one instance may have in flight from you at once
TIMEOUT_S = 0.15  # exercise 4: an answer later than this is given up on (the service takes 0.02 s)
ATTEMPTS = 5  # exercise 4: tries per item before giving up


def get_item(url: str, item_id: int, timeout: float | None = None) -> dict[str, Any]:
    """GET ``url/item/<item_id>`` once and decode it. ``timeout=None`` waits as long as the
    service takes. Raises what the request meets: urllib.error.HTTPError (a 500),
    TimeoutError or urllib.error.URLError (no answer in time), ValueError (a body that is not
    whole JSON)."""
    with urllib.request.urlopen(f"{url}/item/{item_id}", timeout=timeout) as response:
        return json.loads(response.read())


def fetch_items_serial(services: Any, ids: list[int]) -> list[dict[str, Any]]:
    """Exercise 1's baseline: the records of ``ids``, in order, one request after another."""
    url = services.urls[0]
    return [get_item(url, i) for i in ids]


def category_totals_serial(services: Any, ids: list[int]) -> dict[str, int]:
    """Exercise 4's baseline: the sum of ``value`` per ``category`` over the records of ``ids``,
    spread over every instance of the pool, one request at a time. A request that fails or
    takes more than TIMEOUT_S is tried again, up to ATTEMPTS tries in all."""
    totals: dict[str, int] = {}
    for k, item_id in enumerate(ids):
        url = services.urls[k % len(services.urls)]
        for attempt in range(ATTEMPTS):
            try:
                rec = get_item(url, item_id, timeout=TIMEOUT_S)
                break
            except (OSError, ValueError):  # HTTPError, URLError and TimeoutError are OSErrors
                if attempt == ATTEMPTS - 1:
                    raise
        totals[rec["category"]] = totals.get(rec["category"], 0) + rec["value"]
    return totals


# ---------------------------------------------------------------- keys


def derive_key(password: str, salt: str, rounds: int) -> str:
    """PBKDF2-HMAC-SHA256 of one password, as hex. OpenSSL does the rounds, without the GIL."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds).hex()


def derive_keys_serial(passwords: list[str], salt: str, rounds: int) -> list[str]:
    """Exercise 2's baseline: one key per password, in order, one after another."""
    return [derive_key(p, salt, rounds) for p in passwords]


# ---------------------------------------------------------------- a ledger

CHECK_S = 0.002  # the fraud check's round trip: a call to another service


def approved(transfer: list) -> bool:
    """The fraud rule: a transfer whose amount is a multiple of 7 is refused."""
    return transfer[2] % 7 != 0


def check_transfer(transfer: list) -> bool:
    """The fraud check as the bank runs it: ask a remote service (here, a wait), then the rule."""
    time.sleep(CHECK_S)
    return approved(transfer)


class Ledger:
    """Account balances. ``transfer`` reads both balances, then writes both: not thread-safe."""

    def __init__(self, balances: dict[str, int]) -> None:
        self.balances = dict(balances)

    def transfer(self, src: str, dst: str, amount: int) -> None:
        a, b = self.balances[src], self.balances[dst]
        time.sleep(0)  # anything here (a log line, a page fault) lets another thread run
        self.balances[src] = a - amount
        self.balances[dst] = b + amount


def settle_serial(balances: dict[str, int], transfers: list[list]) -> dict[str, int]:
    """Exercise 3's baseline: check each transfer, apply the approved ones; the final balances."""
    ledger = Ledger(balances)
    for t in transfers:
        if check_transfer(t):
            ledger.transfer(*t)
    return ledger.balances
