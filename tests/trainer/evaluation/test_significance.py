"""Paired tests, Holm verdicts and the A/A helpers (trainer/evaluation/significance.py),
against brute force, hand-computed values, the libraries, and simulated nulls."""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from trainer.evaluation import significance as sig
from trainer.evaluation.metrics import Better
from trainer.evaluation.significance import (
    Decision,
    PairedTest,
    decide,
    false_positive_rate,
    minimum_items,
    noise_band,
    paired_test,
)

NLL: dict[str, Better] = {"nll": "lower"}
# eighths are exact in floating point, so brute-force sums tie exactly where they should
dyadic = st.integers(-12, 12).map(lambda k: k / 8)


def run(d: Sequence[float], clusters: Sequence[int] | None = None, **kw: Any) -> PairedTest:
    return paired_test("nll", [0.0] * len(d), list(d), clusters, **kw)


def brute_p(sums: Sequence[float]) -> float:
    """P(|sum of signed sums| >= |observed|) over every sign pattern."""
    observed = abs(sum(sums))
    hits = sum(
        abs(sum(s * x for s, x in zip(signs, sums, strict=True))) >= observed
        for signs in itertools.product((1, -1), repeat=len(sums))
    )
    return hits / 2 ** len(sums)


def by_source(d: Sequence[float], clusters: Sequence[int]) -> tuple[list[float], list[int]]:
    order = list(dict.fromkeys(clusters))
    sums = [sum(x for x, c in zip(d, clusters, strict=True) if c == k) for k in order]
    return sums, [clusters.count(k) for k in order]


def brute_interval(
    sums: Sequence[float], sizes: Sequence[int], confidence: float = 0.95
) -> tuple[float, float] | None:
    """Ends of the inverted sign-flip test: order statistics of the subset means."""
    means = sorted(
        sum(sums[i] for i in f) / sum(sizes[i] for i in f)
        for r in range(1, len(sums) + 1)
        for f in itertools.combinations(range(len(sums)), r)
    )
    need = math.floor((1 - confidence) * 2 ** len(sums) / 2) + 1  # counts the empty set too
    if need <= 1:
        return None
    return means[need - 2], means[-(need - 1)]


# --- the exact test -------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(dyadic, min_size=1, max_size=10))
def test_exact_p_equals_brute_force_enumeration(d: list[float]) -> None:
    t = run(d)
    assert t.method == "sign-flip exact" and t.min_p == 2.0 ** (1 - len(d))
    assert t.p == brute_p(d)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(dyadic, st.integers(0, 5)), min_size=1, max_size=14))
def test_exact_test_flips_whole_sources(pairs: list[tuple[float, int]]) -> None:
    d, clusters = [x for x, _ in pairs], [c for _, c in pairs]
    sums, sizes = by_source(d, clusters)
    t = run(d, clusters)
    assert (t.n, t.clusters, t.min_p) == (len(d), len(sums), 2.0 ** (1 - len(sums)))
    assert t.p == brute_p(sums)
    expected = brute_interval(sums, sizes)
    if expected is None:
        assert t.ci is None
    else:
        assert t.ci == pytest.approx(expected, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(dyadic, min_size=6, max_size=10), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_exact_interval_inverts_the_test(d: list[float], confidence: float) -> None:
    t = run(d, confidence=confidence)
    expected = brute_interval(d, [1] * len(d), confidence)
    if expected is None:  # 99% needs 2**n >= 200: eight items
        assert t.ci is None and len(d) < 8
        return
    assert t.ci == pytest.approx(expected, abs=1e-9)
    # the interval and the p-value never disagree about 0, even when 0 is an end
    assert t.p is not None
    assert (t.ci[0] <= 0 <= t.ci[1]) == (t.p > 1 - confidence)


def test_scipy_permutation_test_agrees_on_small_samples() -> None:
    rng = np.random.default_rng(4)
    for n in (3, 6, 9, 12):
        d = rng.normal(0.4, 1, n)
        ref = stats.permutation_test(
            (d,),
            lambda x, axis: np.mean(x, axis=axis),
            permutation_type="samples",
            n_resamples=np.inf,
            vectorized=True,
        )
        assert run(d).p == pytest.approx(ref.pvalue, rel=1e-12)


def test_min_p_is_two_to_the_one_minus_n_and_five_items_never_reach_alpha() -> None:
    for n in range(1, 21):
        t = run([0.25 * (i + 1) for i in range(n)])  # all improve: the smallest p
        assert t.min_p == 2.0 ** (1 - n) and t.p == t.min_p
    five = run([-1.0, -2.0, -3.0, -4.0, -5.0])  # every NLL falls, by a lot
    assert five.p == 0.0625 > sig.ALPHA
    (only,) = decide([five], NLL)
    assert only.verdict == "too few items" and only.p_adjusted is None
    assert only.reason.startswith("5 items: the smallest reachable p (0.062)")
    six = decide([run([-1.0] * 6)], NLL)[0]
    assert six.verdict == "improved" and six.test.p == 1 / 32


def test_interval_needs_six_independent_sources() -> None:
    assert run([1.0, 2.0, 3.0, 4.0, 5.0]).ci is None
    assert run([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).ci == (1.0, 6.0)  # min and max
    # 30 items from 5 sources: still no interval, and a min_p of 1/16
    t = run([1.0] * 30, [i % 5 for i in range(30)])
    assert (t.clusters, t.ci, t.min_p, t.method) == (5, None, 1 / 16, "sign-flip exact")


# --- the cluster bootstrap ------------------------------------------------------------------


def naive_bootstrap_t(
    d: Sequence[float], clusters: Sequence[int], resamples: int, seed: int
) -> tuple[float, tuple[float, float]]:
    """The bootstrap-t p and interval, one resample at a time from the same draws."""
    sums, sizes = (np.asarray(v, dtype=float) for v in by_source(d, clusters))
    g = len(sums)
    counts = sig._resample_counts(g, resamples, seed, 0)

    def mean_se(w: np.ndarray) -> tuple[float, float]:
        m = (w @ sums) / (w @ sizes)
        resid = sums - m * sizes
        return m, math.sqrt((w @ resid**2) * g / (g - 1)) / (w @ sizes)

    delta, se = mean_se(np.ones(g))
    t_star = []
    for w in counts:
        m, s = mean_se(w)
        t_star.append(abs(m - delta) / s)
    p = (1 + sum(t >= abs(delta) / se for t in t_star)) / (resamples + 1)
    allowed = math.floor(0.05 * (resamples + 1)) - 1
    q = sorted(t_star)[resamples - allowed - 1]
    return p, (delta - q * se, delta + q * se)


def test_bootstrap_matches_a_resample_by_resample_computation() -> None:
    rng = np.random.default_rng(8)
    clusters = [i // 3 for i in range(75)] + list(range(25, 40))  # 25 triples, 15 singles
    d = list(rng.normal(0.1, 1, len(clusters)))
    t = run(d, clusters, resamples=499, seed=3)
    p, ci = naive_bootstrap_t(d, clusters, 499, 3)
    assert (t.method, t.clusters, t.min_p) == ("cluster bootstrap", 40, 1 / 500)
    assert t.p == pytest.approx(p) and t.ci == pytest.approx(ci)
    assert t.delta == pytest.approx(np.mean(d))


@settings(max_examples=40, deadline=None)
@given(st.lists(dyadic, min_size=21, max_size=40), st.integers(0, 2**32))
def test_bootstrap_interval_and_p_agree_about_zero(d: list[float], seed: int) -> None:
    t = run(d, seed=seed, resamples=999)
    assert t.p is not None
    if t.ci is not None:
        assert (t.ci[0] <= 0 <= t.ci[1]) == (t.p > 0.05)


def test_cluster_bootstrap_is_wider_than_the_naive_one_when_sources_correlate() -> None:
    rng = np.random.default_rng(21)
    clusters = [i // 4 for i in range(120)]  # 30 sources of 4 items
    d = np.repeat(rng.normal(0, 1, 30), 4) + rng.normal(0, 0.3, 120)
    clustered, naive = run(list(d), clusters), run(list(d))
    assert clustered.method == naive.method == "cluster bootstrap"
    assert clustered.ci is not None and naive.ci is not None
    width = clustered.ci[1] - clustered.ci[0]
    naive_width = naive.ci[1] - naive.ci[0]
    # 4 items that move together are worth about one: sqrt(4 * 1.09 / 1.09) ~ 2 x wider
    assert width > 1.6 * naive_width
    # independent items: the two agree
    d2 = rng.normal(0, 1, 120)
    a, b = run(list(d2), clusters), run(list(d2))
    assert a.ci is not None and b.ci is not None
    assert (a.ci[1] - a.ci[0]) == pytest.approx(b.ci[1] - b.ci[0], rel=0.3)


def test_seeded_and_deterministic() -> None:
    d = list(np.random.default_rng(2).normal(0.2, 1, 50))
    first, again = run(d, seed=7), run(d, seed=7)
    assert first == again
    other = run(d, seed=8)
    assert other.ci != first.ci and other.delta == first.delta
    small = list(np.random.default_rng(2).normal(0.2, 1, 12))
    assert run(small, seed=1) == run(small, seed=2)  # exact: no randomness
    assert run(small, exact_up_to=11).method == "cluster bootstrap"
    assert run(small, exact_up_to=11, seed=1) != run(small, exact_up_to=11, seed=2)


# --- edge cases -----------------------------------------------------------------------------


def test_no_items_one_item_and_constant_values() -> None:
    empty = run([])
    assert (empty.n, empty.method, empty.p, empty.ci, empty.min_p) == (0, "none", None, None, None)
    assert math.isnan(empty.delta)
    one = run([0.7])
    assert (one.p, one.ci, one.min_p, one.delta) == (1.0, None, 1.0, 0.7)
    for n in (8, 40):  # exact and bootstrap
        same = paired_test("nll", [1.5] * n, [1.5] * n)
        assert (same.delta, same.p, same.ci) == (0.0, 1.0, (0.0, 0.0))
        shifted = paired_test("nll", [1.0] * n, [1.25] * n)
        assert shifted.delta == 0.25 and shifted.p == shifted.min_p
        assert shifted.ci == (0.25, 0.25)
    decisions = decide([empty, one], NLL)
    assert [d.verdict for d in decisions] == ["too few items"] * 2
    assert decisions[0].reason == "no items"
    assert decisions[1].reason.startswith("1 item: the smallest reachable p (1)")


def test_zero_differences_count_both_ways() -> None:
    # 15 unchanged items and 5 improved ones: only 5 items carry information
    t = run([0.0] * 15 + [-1.0] * 5)
    assert t.min_p == 2.0**-19 and t.p == 1 / 16
    (d,) = decide([t], NLL)
    assert d.verdict == "no significant change"


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"^rouge_l: candidate value nan at item 2"):
        paired_test("rouge_l", [0.1, 0.2, 0.3], [0.1, 0.2, float("nan")])
    with pytest.raises(ValueError, match=r"^nll: base value inf at item 0"):
        paired_test("nll", [math.inf], [1.0])
    with pytest.raises(ValueError, match=r"^nll: 2 base values for 1 candidate"):
        paired_test("nll", [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match=r"^nll: 1 cluster labels for 2 items"):
        paired_test("nll", [1.0, 2.0], [1.0, 2.0], ["a"])
    bad: list[dict[str, Any]] = [
        {"seed": -1},
        {"resamples": 0},
        {"exact_up_to": 0},
        {"exact_up_to": 31},
        {"confidence": 1.0},
    ]
    for kw in bad:
        with pytest.raises(ValueError):
            run([1.0, 2.0], **kw)
    with pytest.raises(ValueError, match=r"^judge: no direction"):
        decide([paired_test("judge", [1.0], [2.0])], NLL)


# --- Holm and "too few items" ---------------------------------------------------------------


def given_p(p: float, n: int = 30, delta: float = -0.1) -> PairedTest:
    """A test with a chosen p (its design: n independent items, exact up to 20)."""
    min_p = 2.0 ** (1 - n) if n <= 20 else 1 / 10_001
    method: sig.Method = "sign-flip exact" if n <= 20 else "cluster bootstrap"
    return PairedTest("nll", n, n, 1.0, 1.0 + delta, delta, None, p, method, min_p)


def test_holm_by_hand_and_by_statsmodels() -> None:
    ps = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # running maximum: 0.02, 0.03, 0.06, 0.06; at 0.05 the first two are rejected
    by_hand = [0.03, 0.06, 0.06, 0.02]
    tests = [given_p(p) for p in ps]
    decisions = decide(tests, NLL)
    assert [d.p_adjusted for d in decisions] == pytest.approx(by_hand)
    assert [d.verdict for d in decisions] == [
        "improved",
        "no significant change",
        "no significant change",
        "improved",
    ]
    reject, adjusted, _, _ = multipletests(ps, alpha=0.05, method="holm")
    assert [d.p_adjusted for d in decisions] == pytest.approx(list(adjusted))
    assert [d.verdict == "improved" for d in decisions] == list(reject)
    worse = decide([given_p(0.001, delta=+0.2)], NLL)[0]
    assert worse.verdict == "regressed"
    assert decide([given_p(0.001, delta=+0.2)], {"nll": "higher"})[0].verdict == "improved"


def test_holm_leaves_the_collector_as_it_found_it() -> None:
    decide([given_p(0.01)], NLL)
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        decide([given_p(0.01)], NLL)
        # The host's frozen objects stay frozen: an unfreeze would empty the permanent
        # generation. (Its exact size may fall: a frozen object freed by refcount leaves.)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def agreeing(n: int, flip_smallest: bool = False) -> list[float]:
    d = [-(i + 2.0) for i in range(n)]  # every NLL falls; the smallest fall is item 0
    if flip_smallest:
        d[0] = 1.0
    return d


def test_holm_over_ten_leaves_needs_nine_items_that_all_agree() -> None:
    # the reference: with Holm over 10 leaves, n >= 9 and at n = 9 every item must agree
    assert minimum_items(9) == 9 and minimum_items(10) == 9
    nulls = [run([1.0, -1.0] * 4 + [0.5]) for _ in range(9)]  # 9 items, p = 1

    def verdict(d: list[float]) -> Decision:
        return decide([run(d), *nulls], NLL)[0]

    nine = verdict(agreeing(9))
    assert nine.test.p == 2.0**-8 and nine.p_adjusted == pytest.approx(10 * 2.0**-8)
    assert nine.verdict == "improved"  # 0.039
    one_off = verdict(agreeing(9, flip_smallest=True))
    assert one_off.test.p == 4 / 512 and one_off.verdict == "no significant change"  # 0.078
    ten_one_off = verdict(agreeing(10, flip_smallest=True))
    assert ten_one_off.test.p == 4 / 1024 and ten_one_off.verdict == "improved"  # 0.039
    # eight items: 10 * 2**-7 = 0.078, so every leaf of such a family is "too few items"
    eights = decide([run(agreeing(8)) for _ in range(10)], NLL)
    assert {d.verdict for d in eights} == {"too few items"}
    assert eights[0].reason == (
        "8 items: the smallest reachable p (0.0078) is 0.078 at best after Holm over "
        "10 tests, above 0.05"
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60))
def test_minimum_items_is_where_a_family_of_equal_leaves_becomes_testable(m: int) -> None:
    n = minimum_items(m)
    assert m * 2.0 ** (1 - n) <= sig.ALPHA < m * 2.0 ** (2 - n)
    if n <= sig.EXACT_UP_TO:
        at = decide([run(agreeing(n)) for _ in range(m)], NLL)
        assert {d.verdict for d in at} == {"improved"}
        below = decide([run(agreeing(n - 1)) for _ in range(m)], NLL)
        assert {d.verdict for d in below} == {"too few items"}


def test_a_small_leaf_is_feasible_only_behind_significant_ones() -> None:
    # 7 items (min p 1/64) beside three large leaves: Holm's last step tests it at alpha / 1,
    # so it keeps a verdict; beside seven 7-item leaves no step can reach it
    big = [given_p(1e-4, n=200) for _ in range(3)]
    small = run(agreeing(7))
    mixed = decide([*big, small], NLL)
    assert mixed[-1].verdict == "improved" and mixed[-1].p_adjusted == pytest.approx(1 / 64)
    sevens = decide([run(agreeing(7)) for _ in range(8)], NLL)
    assert {d.verdict for d in sevens} == {"too few items"}
    # infeasible tests leave the family: the 200-item leaf is corrected over 1 test, not 9
    alone = decide([given_p(0.04, n=200), *fives(8)], NLL)
    assert alone[0].verdict == "improved" and alone[0].p_adjusted == 0.04
    assert "Holm over 1 test," in alone[0].reason


def fives(k: int) -> list[PairedTest]:
    return [run(agreeing(5)) for _ in range(k)]


# --- simulated nulls and power --------------------------------------------------------------

Design = Callable[[np.random.Generator], tuple[np.ndarray, list[int] | None]]


def iid(n: int, noise: Callable[[np.random.Generator, int], np.ndarray]) -> Design:
    return lambda rng: (noise(rng, n), None)


def sourced(sources: int, per: int, effect: float, ignore: bool = False) -> Design:
    labels = [i // per for i in range(sources * per)]

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, list[int] | None]:
        d = np.repeat(rng.normal(0, effect, sources), per) + rng.laplace(0, 1, sources * per)
        return d, None if ignore else labels

    return draw


def rejection_rate(design: Design, sims: int, shift: float = 0.0, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    claims = 0
    for _ in range(sims):
        d, clusters = design(rng)
        t = paired_test("nll", np.zeros(len(d)), d + shift, clusters, resamples=999)
        (decision,) = decide([t], NLL)
        claims += decision.verdict in ("improved", "regressed")
    return claims / sims


NULLS = {
    "exact, 12 normal items": iid(12, lambda r, n: r.normal(0, 1, n)),
    "exact, 16 t3 items": iid(16, lambda r, n: r.standard_t(3, n)),
    "bootstrap, 24 normal items": iid(24, lambda r, n: r.normal(0, 1, n)),
    "bootstrap, 40 Laplace items": iid(40, lambda r, n: r.laplace(0, 1, n)),
    "exact over 10 sources of 4 items, shared effect": sourced(10, 4, 1.0),
    "bootstrap over 25 sources of 3 items, shared effect": sourced(25, 3, 1.0),
}


@pytest.mark.parametrize("name", NULLS)
def test_false_positive_rate_under_the_null_is_at_most_alpha(name: str) -> None:
    sims = 2000
    rate = rejection_rate(NULLS[name], sims, seed=list(NULLS).index(name))
    # one-sided binomial test of "rate <= alpha"; 0.001 keeps six designs from flaking
    claims = round(rate * sims)
    assert stats.binomtest(claims, sims, sig.ALPHA, alternative="greater").pvalue > 0.001, rate


def test_ignoring_the_sources_would_fail_that_check() -> None:
    # the check above can fail: items of a shared source tested as independent (the shared
    # effect's variance counted once per item instead of once per source: se ~1.5x too small)
    rate = rejection_rate(sourced(25, 3, 2.0, ignore=True), 1000, seed=5)
    assert rate > 0.15


@pytest.mark.parametrize(
    ("design", "shift"),
    [
        (iid(12, lambda r, n: r.normal(0, 1, n)), 1.2),
        (iid(40, lambda r, n: r.laplace(0, 1, n)), 1.0),
        (sourced(25, 3, 0.5), 1.0),
    ],
)
def test_a_real_shift_is_found(design: Design, shift: float) -> None:
    assert rejection_rate(design, 300, shift=-shift, seed=9) > 0.9


def test_a_family_of_null_leaves_rarely_claims_anything() -> None:
    rng = np.random.default_rng(12)
    families, any_claim = 400, 0
    for _ in range(families):
        tests = [run(list(rng.normal(0, 1, 12))) for _ in range(10)]
        any_claim += any(d.verdict != "no significant change" for d in decide(tests, NLL))
    assert stats.binomtest(any_claim, families, 0.05, alternative="greater").pvalue > 0.001


# --- A/A helpers ----------------------------------------------------------------------------


def test_noise_band_is_symmetric_and_covers_the_deltas() -> None:
    deltas = [0.01, -0.03, 0.02, -0.005, 0.04, 0.0, -0.02, 0.015, 0.025, -0.01]
    # |deltas| sorted: 0, .005, .01, .01, .015, .02, .02, .025, .03, .04; 90% -> the 9th
    assert noise_band(deltas, coverage=0.9) == (-0.03, 0.03)
    assert noise_band(deltas) == (-0.04, 0.04)  # 95% of 10 -> the 10th
    assert noise_band([0.2]) == (-0.2, 0.2)
    with pytest.raises(ValueError):
        noise_band([])
    with pytest.raises(ValueError):
        noise_band([0.1, math.nan])
    with pytest.raises(ValueError):
        noise_band([0.1], coverage=1.0)


def test_false_positive_rate_counts_testable_decisions() -> None:
    tests = [given_p(0.001), given_p(0.5), given_p(0.3), given_p(0.001, delta=0.1)]
    decisions = decide(tests, NLL) + decide([run([1.0] * 3)], NLL)
    assert [d.verdict for d in decisions] == [
        "improved",
        "no significant change",
        "no significant change",
        "regressed",
        "too few items",
    ]
    assert false_positive_rate(decisions) == 0.5  # 2 of 4; the untestable one is not counted
    with pytest.raises(ValueError, match="testable"):
        false_positive_rate(decisions[-1:])
