"""Lab 02's checks on their own: nothing released gives an answer away, and the checks that
decide near a boundary catch each common mistake every time, not by luck."""

import math
import sys

import nbformat
import numpy as np
import pytest
from conftest import ROOT

from autograder.correctness import cases

SOLUTION = ROOT / "solutions" / "02-data-containers"
RELEASED = ROOT / "labs" / "02-data-containers"
DRAWS = 12  # fresh draws of the graded inputs per mistake: each must be caught on every one


@pytest.fixture(scope="module")
def lab02():
    sys.path.insert(0, str(SOLUTION))
    from autograder.spec import load_lab, private_module

    lab = load_lab(SOLUTION)
    checks = sys.modules[lab.get("invoice").diagnose.__module__]
    return lab, private_module(SOLUTION), checks


def _caught(ex, wrong, draws=DRAWS):
    """Grade ``wrong`` as the grader would, on ``draws`` fresh sets of cases; return the
    diagnosis of its first wrong output on each draw (None when it slipped through)."""
    found = []
    for _ in range(draws):
        checked, _ = cases(ex, small=True, n_random=3)
        message = None
        for case in checked:
            got = wrong(*case.args)
            if ex.verify(case.expected.value, got) is not None:
                message = ex.diagnose(case.args, case.expected.value, got) or "wrong, no diagnosis"
                break
        found.append(message)
    return found


def _assert_always_caught(ex, wrong, says, draws=DRAWS):
    for message in _caught(ex, wrong, draws):
        assert message is not None, f"{ex.name}: a wrong answer slipped through ({says!r})"
        assert says in message, f"{ex.name}: diagnosis {message!r} should say {says!r}"


# ------------------------------------------------------------ nothing given away


def _stubs():
    nb = nbformat.read(RELEASED / "02-data-containers-lab.ipynb", as_version=4)
    text = " ".join(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    return " ".join(text.split()).lower()  # one space between words, line breaks included


def test_the_stubs_state_signatures_and_types_but_no_method():
    stubs = _stubs()
    for signature in (
        "def invoice(orders, catalogue)",
        "def nearest_station(points, stations)",
        "def stream_stats(path)",
        "def kde(points, samples, bandwidth)",
        "def kde_on_device(points, samples, bandwidth)",
    ):
        assert signature in stubs
    for promise in ("(total_cents, unknown)", "int64 array (n,)", '{"count": int', "float64 array (n,)"):
        assert promise.lower() in stubs, promise
    for tell in (
        "setdefault",
        "dict(",
        "{}",
        "int64)",
        "astype",
        "welford",
        "chan",
        "np.dot",
        "xp.empty",
        ".get()",
    ):
        assert tell not in stubs, f"a stub gives away {tell!r}"


def test_the_inherited_module_names_no_fix():
    text = (RELEASED / "inherited.py").read_text().lower()
    for tell in (
        "overflow",
        "welford",
        "chan's",
        "merge",
        "broadcast",
        "setdefault",
        "a dict",
        "a set",
        "hash",
    ):
        assert tell not in text, f"inherited.py says {tell!r}"


def test_released_files_hold_no_reference_solution(lab02):
    _, ref, _ = lab02
    released = (RELEASED / "checks.py").read_text() + (RELEASED / "inherited.py").read_text()
    for name in ("stream_stats", "invoice_buckets", "nearest_by_rows", "NEAR_MISSES", "MARGINAL"):
        assert f"def {name}" not in released and f"{name} =" not in released
    assert not (RELEASED / "_reference.py").exists()


def test_worked_examples_are_right(lab02):
    lab, ref, _ = lab02
    for args, want in lab.get("invoice").examples:
        assert ref.invoice(*args) == want


def test_a_numpy_only_invoice_is_right_too(lab02):
    """Sorted codes and searchsorted (the lecture's bisect, vectorised) give the same pair, and
    the unknown SKUs may come back as an int array."""
    lab, ref, checks = lab02
    ex = lab.get("invoice")
    checked, _ = cases(ex, small=True, n_random=3)
    for case in checked:
        total, unknown = ref.invoice_sorted(*case.args)
        assert ex.verify(case.expected.value, (total, np.array(unknown, dtype=np.int64))) is None
    assert "dtype" in ex.verify((1, [2]), (1, np.array([2.0])))


# ------------------------------------------------- boundary checks: caught every time


def _invoice_wrong():
    def with_prices(prices_of, total_of=lambda c, q: c * q, unique=True):
        def invoice(orders, catalogue):
            prices = prices_of(list(zip(catalogue["sku"].tolist(), catalogue["cents"].tolist())))
            lines = list(zip(orders["sku"].tolist(), orders["quantity"].tolist()))
            total = sum(total_of(prices[s], q) for s, q in lines if s in prices)
            missing = [s for s, _ in lines if s not in prices]
            return total, sorted(set(missing) if unique else missing)

        return invoice

    def first(pairs):
        prices = {}
        for sku, cents in pairs:
            prices.setdefault(sku, cents)
        return prices

    return {
        "priced by its FIRST entry": with_prices(dict),
        "multiply the price by orders['quantity']": with_prices(first, total_of=lambda c, q: c),
        "the total is in cents, an int": with_prices(first, total_of=lambda c, q: c * q / 100),
        "each unknown SKU once, sorted": with_prices(first, unique=False),
    }


def test_invoice_grading_catches_every_mistake_on_every_draw(lab02):
    lab, _, _ = lab02
    for says, wrong in _invoice_wrong().items():
        _assert_always_caught(lab.get("invoice"), wrong, says)


def _d2(points, stations, dtype):
    d = points[:, None, :].astype(dtype) - stations[None, :, :].astype(dtype)
    with np.errstate(over="ignore"):
        return (d * d).sum(axis=2)


def _nearest_wrong():
    return {
        "integer overflow": lambda p, s: _d2(p, s, np.int32).argmin(axis=1),
        "a wrapped square can be negative": lambda p, s: np.sqrt(_d2(p, s, np.int32).astype(float)).argmin(
            axis=1
        ),
        "float32 rounding": lambda p, s: _d2(p, s, np.float32).argmin(axis=1),
        "one index per POINT": lambda p, s: _d2(p, s, np.int64).argmin(axis=0),
        "the lowest index wins": lambda p, s: len(s) - 1 - _d2(p, s, np.int64)[:, ::-1].argmin(axis=1),
        "not its distance": lambda p, s: np.sqrt(_d2(p, s, np.int64).min(axis=1)),
        "Euclidean": lambda p, s: np.abs(p[:, None, :].astype(np.int64) - s[None]).sum(axis=2).argmin(axis=1),
    }


def test_nearest_station_grading_catches_every_mistake_on_every_draw(lab02):
    lab, _, _ = lab02
    with np.errstate(invalid="ignore"):  # the square root of a wrapped, negative square
        for says, wrong in _nearest_wrong().items():
            _assert_always_caught(lab.get("nearest-station"), wrong, says, draws=4)


def test_the_near_tie_edge_is_a_tie_in_float32_only(lab02):
    _, ref, checks = lab02
    points, stations = checks.stations_edges(np.random.default_rng(0), True)[-1]
    d64 = _d2(points, stations, np.int64)[0]
    assert d64[1] == d64[0] - 4 and ref.nearest_station(points, stations).tolist() == [1]
    d32 = _d2(points, stations, np.float32)[0]
    assert d32[0] == d32[1]


def _stats_wrong(chunk=1 << 16):
    def parts(path, dtype=np.float64):
        with open(path, "rb") as fh:
            while (x := np.fromfile(fh, dtype=dtype, count=chunk)).size:
                yield (
                    x.size,
                    float(x.mean()),
                    float(((x - x.mean()) ** 2).sum()),
                    float(x.sum()),
                    float(x @ x),
                )

    def chan(ps):
        n, mean, m2 = 0, 0.0, 0.0
        for n_b, mean_b, m2_b, _, _ in ps:
            delta, total = mean_b - mean, n + n_b
            mean += delta * n_b / total
            m2 += m2_b + delta * delta * n * n_b / total
            n = total
        return n, mean, m2

    def ddof0(path):
        n, mean, m2 = chan(parts(path))
        return {"count": n, "mean": mean, "var": m2 / n}

    def naive(path):
        ps = list(parts(path))
        n = sum(p[0] for p in ps)
        mean = sum(p[3] for p in ps) / n
        return {"count": n, "mean": mean, "var": (sum(p[4] for p in ps) - n * mean * mean) / (n - 1)}

    def chunk_variances(path):
        ps = list(parts(path))
        n, mean, _ = chan(ps)
        return {"count": n, "mean": mean, "var": sum(p[2] for p in ps) / (n - 1)}

    def unweighted(path):
        ps = list(parts(path))
        n, _, m2 = chan(ps)
        return {"count": n, "mean": sum(p[1] for p in ps) / len(ps), "var": m2 / (n - 1)}

    def float32(path):
        n, mean, m2 = chan(parts(path, np.float32))
        return {"count": n, "mean": mean, "var": m2 / (n - 1)}

    def std(path):
        n, mean, m2 = chan(parts(path))
        return {"count": n, "mean": mean, "var": math.sqrt(m2 / (n - 1))}

    return {
        "population variance": ddof0,
        "loses digits": naive,
        "difference of their means": chunk_variances,
        "weight each chunk's mean": unweighted,
        "read float64": float32,
        "standard deviation": std,
    }


def test_stream_stats_grading_catches_every_mistake_on_every_draw(lab02):
    lab, _, _ = lab02
    with np.errstate(all="ignore"):  # float64 bytes read as float32 hold infs and NaNs
        for says, wrong in _stats_wrong().items():
            _assert_always_caught(lab.get("stream-stats"), wrong, says, draws=3)


def test_an_honest_welford_loop_in_python_passes(lab02):
    """The tolerance on var admits the rounding of a one-value-at-a-time loop (about 1e-8)."""
    lab, _, checks = lab02
    ex = lab.get("stream-stats")

    def welford(path):
        n, mean, m2 = 0, 0.0, 0.0
        for x in np.fromfile(path, dtype=np.float64).tolist():
            n += 1
            delta = x - mean
            mean += delta / n
            m2 += delta * (x - mean)
        return {"count": n, "mean": mean, "var": m2 / (n - 1)}

    (path,) = checks.values_file_input(np.random.default_rng(5), True)
    assert ex.verify(ex.reference_fn()(path), welford(path)) is None


def test_stats_verifier_explains_keys_and_types(lab02):
    lab, _, _ = lab02
    check = lab.get("stream-stats").verify
    want = {"count": 10, "mean": 5.0, "var": 2.0}
    assert check(want, {"count": 10.0, "mean": 5.0, "var": 2.0}) is None
    assert "exactly ['count', 'mean', 'var']" in check(want, {"n": 10, "mean": 5.0, "var": 2.0})
    assert "dict" in check(want, (10, 5.0, 2.0))
    assert check(want, {"count": 10, "mean": 5.0, "var": 2.1}).startswith("var:")


def _kde_wrong(checks):
    import inherited

    def scaled(factor):
        return lambda p, s, h: inherited.kde_numpy(p, s, h) * factor(p, s, h)

    def no_half(p, s, h):
        z = (p[:, None] - s[None, :]) / h
        return np.exp(-z * z).sum(axis=1) / (len(s) * h * math.sqrt(2 * math.pi))

    return {
        "times too large": scaled(lambda p, s, h: len(s)),
        "normalisation is missing": scaled(lambda p, s, h: h * math.sqrt(2 * math.pi)),
        "the 1/2 is missing": no_half,
        "keep the computation in float64": lambda p, s, h: inherited.kde_numpy(p, s, h).astype(np.float32),
        "only rebinds the name block": lambda p, s, h: np.zeros(len(p)),
    }


def test_kde_grading_catches_every_mistake_on_every_draw(lab02):
    lab, _, checks = lab02
    for says, wrong in _kde_wrong(checks).items():
        _assert_always_caught(lab.get("gpu-kde"), wrong, says, draws=4)


def test_kde_inputs_never_give_samples_the_points_length(lab02):
    """A spot check slices every array argument as long as the points: samples must differ."""
    _, _, checks = lab02
    for seed in range(200):
        points, samples, _ = checks.kde_input(np.random.default_rng(seed), True)
        assert len(points) != len(samples)


def test_the_reference_kde_is_array_module_agnostic(lab02):
    _, ref, checks = lab02
    import inherited

    points, samples, h = checks.kde_input(np.random.default_rng(1), True)
    assert inherited.array_namespace(points) is np
    assert np.allclose(ref.kde(points, samples, h), inherited.kde_numpy(points, samples, h), rtol=1e-12)
    assert isinstance(inherited.to_numpy(points), np.ndarray)
    assert inherited.to_numpy([1.0, 2.0]).tolist() == [1.0, 2.0]
