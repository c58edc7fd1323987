"""Paired significance tests, Holm verdicts, and the A/A noise floor (issue 15, point 3).

One `paired_test` per (leaf, metric): both models scored the same items, so the unit is the
per-item difference d = candidate - base, and `delta` is its mean over the items.

Independent units. Items that share a source (a seed example, a document chunk) are not
independent, so every computation runs on sources ("clusters"): a cluster's difference is
the sum S_g of its items' d over its N_g items, and the estimate is sum(S) / sum(N), the item
mean. Without `clusters` every item is its own source. The method is chosen by the number of
sources G, which is the issue's rule ("exact up to 20 items") when items are independent:

- G <= exact_up_to (20): exact sign-flip permutation test, two-sided. Under "no difference"
  each source's difference is symmetric about 0, so all 2**G sign patterns of (S_g) are
  equally likely; p = 2 * min(P(T >= T_obs), P(T <= T_obs)), T = sum of signed S_g, counted
  over all patterns. For a symmetric null this equals P(|T| >= |T_obs|) (the tests check
  both against `itertools.product`). Zero differences are allowed: flipping them changes
  nothing, so a pattern and its twin both count (the exact conditional p). min_p = 2**(1-G),
  the p of all sources moving one way: n = 5 never reaches 0.05. Choosing by G rather than by
  items: a cluster bootstrap over a handful of sources is far too liberal (its variance
  estimate rests on G values), while the exact test stays exact.
- G > exact_up_to: cluster bootstrap. Sources are resampled with replacement (`resamples`
  times, numpy's PCG64 from `seed`: every metric and leaf with the same number of sources
  gets the same resamples, and the last few blocks of resampling counts, at most 16 MB, are
  cached for the next metric); each resample's mean is sum(S*) / sum(N*). The p-value
  is the symmetric bootstrap-t one: t = delta / se, with se the cluster-robust standard
  error sqrt(G / (G-1) * sum (S_g - delta N_g)**2) / sum(N); each resample gives
  t* = (mean* - delta) / se*, and p = (1 + #{|t*| >= |t|}) / (resamples + 1), so
  min_p = 1 / (resamples + 1). The interval is the matching one, delta +- q * se, q the order
  statistic of |t*| that makes "0 outside the interval" exactly "p <= 1 - confidence".
  Why not the percentile interval and its p-value: with few sources they are too narrow,
  because the resampled means spread by sqrt((G-1)/G) se and have no t tails. Measured
  (benchmarks/significance_speed.py --calibration: 2,000 null simulations each, 1,999
  resamples) at G = 21: scipy.stats.bootstrap's percentile interval excluded 0 in 7.5%
  (normal differences), 7.7% (t3), 7.1% (sources of 3 Laplace items with a shared normal
  effect) at a nominal 5%; this bootstrap-t rejected 4.6%, 3.7%, 4.8% and its intervals
  covered 95.4%, 96.3%, 95.3%. A resample whose sources all have the same mean has se* = 0:
  its t* is infinite (counted as extreme: conservative) unless its mean equals delta; constant
  differences give se = 0 and [delta, delta].

Intervals (`ci`) at `confidence` (0.95). Exact path: the interval from inverting the exact
test, i.e. every mu whose sign-flip test of d - mu has p > 1 - confidence. Its ends are order
statistics of the 2**G - 1 subset means sum_F S / sum_F N (Hartigan 1969), found by bisection
on mu with the same count as the p-value, seeded at 0, so 0 lies inside exactly when
p > 1 - confidence (the verdict and the interval never disagree); ends are within 1e-10 of
the range of the source means. It does not exist (None) below G = 6, where no sign pattern is
rare enough: an honest "unknown" instead of the zero-width bootstrap interval of one item.
Bootstrap path: the bootstrap-t interval above (None when over 1 - confidence of the
resamples are degenerate, so q is infinite).

Defined behaviour: n = 0 gives method "none", p, ci and min_p None, means NaN; n = 1 gives
p = 1 and no interval; all-equal values give delta 0, p = 1, ci (0, 0); constant non-zero
differences give p = min_p and ci (c, c). NaN or infinite values raise ValueError naming
the metric, as do unequal lengths.

Verdicts (`decide`). One family (e.g. the primary metric over the leaves of a report):

1. Tests with no p (no items) are "too few items".
2. Feasibility, from the design alone (n, sources, resamples; never the data): Holm applied
   to the tests' min_p values. A test that this cannot reject can never be rejected by Holm
   in this family, whatever the data (Holm's adjusted p is non-decreasing in every input),
   so it gets "too few items" and the reason says why. Holm's adjusted p never exceeds
   family_size * p, so a test whose min_p * family_size <= alpha is always feasible: that is
   `minimum_items` (with 10 tests, 9 items, all of which must move the same way).
3. Holm (statsmodels' `multipletests`, method "holm") over the feasible tests only.
   Dropping tests by design before looking at the data keeps the family-wise error at alpha
   (Tarone 1990's idea for discrete tests) and gives the others a smaller family. A rejected
   test is "improved" or "regressed" by the sign of delta and the metric's direction
   (`better`; a metric missing from it is a ValueError); the rest "no significant change".

`multipletests` calls `gc.collect()` on every Holm call: 55-95 ms in a bare interpreter and
195-280 ms once torch and transformers are loaded (measured here, for 50 p-values). `_holm`
freezes the collector's generations around the call (`gc.freeze`, then `gc.unfreeze`, which
only moves objects back to the oldest generation) so it costs under a millisecond; if the
host process has frozen objects itself, the call runs as is.

Hand-written, measured against the library (benchmarks/significance_speed.py):

- The exact test: scipy.stats.permutation_test (permutation_type "samples", exact) took
  8.7 s and 1.26 GB at n = 20 (it materialises every pattern); enumerating the 2**20 signed
  sums by doubling took 1.8 ms and 21 MB. This module counts the patterns meet-in-the-middle
  (two halves of 2**(G/2) subset sums, one sorted, a binary search per sum of the other):
  0.1 ms and 0.1 MB for the p at G = 20, 1.3-2 ms for `paired_test` with the interval, whose
  bisection needs about 70 such counts.
- The cluster bootstrap: scipy.stats.bootstrap resamples clusters when given the cluster sums
  and sizes as paired samples, but offers percentile, basic and BCa intervals only, and no
  p-value; the bootstrap-t needs each resample's standard error, which here comes from one
  matrix product of the resampling counts with (e, N, e**2, eN, N**2). 10,000 resamples of
  50 sources: 4.3 ms and 12 MB (0.6 ms when another metric of the leaf reuses the cached
  counts) against 4.4 ms and 12 MB for scipy's percentile interval alone; 200 sources:
  13 ms and 23 MB against 15 ms and 48 MB. 50 leaves x 3 metrics (20-60 items, some with
  sources) and three `decide` calls: 0.17 s.

A/A noise floor (point 5): `noise_band` is the symmetric band +-q, q the `coverage` quantile
of |delta| over the A/A deltas (numpy's "inverted_cdf", i.e. an observed value): which run is
"A" is arbitrary, so each delta and its negation are equally likely. `false_positive_rate`
is the share of the testable A/A decisions (not "too few items") that claim a change; it
raises when none was testable, since counting untestable leaves would flatter the rate.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from trainer.evaluation.metrics import Better

ALPHA = 0.05
EXACT_UP_TO = 20
CONFIDENCE = 0.95
RESAMPLES = 10_000
MAX_EXACT = 30  # 2 * 2**15 subset sums at most; beyond that the bootstrap is the tool

Method = Literal["sign-flip exact", "cluster bootstrap", "none"]
Verdict = Literal["improved", "regressed", "no significant change", "too few items"]
Floats = npt.NDArray[np.float64]

_REL_TOL = 1e-12  # sums within this share of the data's scale are ties (float noise)
_BISECT_REL = 1e-10  # interval ends to this share of the range of the source means


@dataclass(frozen=True)
class PairedTest:
    metric: str
    n: int  # paired items
    clusters: int  # distinct sources among them (seed example / document chunk)
    base: float  # means over the items (NaN without items)
    candidate: float
    delta: float  # mean(candidate - base)
    ci: tuple[float, float] | None  # interval of the mean difference; None: does not exist
    p: float | None  # two-sided p of "no difference"; None: no test could run
    method: Method
    min_p: float | None  # the smallest p this design can reach


@dataclass(frozen=True)
class Decision:
    test: PairedTest
    p_adjusted: float | None  # Holm over the feasible tests; None when not among them
    verdict: Verdict
    reason: str  # one human sentence


def paired_test(
    metric: str,
    base: Sequence[float],
    candidate: Sequence[float],
    clusters: Sequence[Hashable] | None = None,
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    exact_up_to: int = EXACT_UP_TO,
    confidence: float = CONFIDENCE,
) -> PairedTest:
    """Means, difference, interval and two-sided p of paired per-item values."""
    b, c = _values(metric, base, candidate)
    _check_settings(seed, resamples, exact_up_to, confidence)
    if clusters is not None and len(clusters) != len(b):
        raise ValueError(f"{metric}: {len(clusters)} cluster labels for {len(b)} items")
    n = len(b)
    if n == 0:
        return PairedTest(metric, 0, 0, math.nan, math.nan, math.nan, None, None, "none", None)
    d = c - b
    sums, sizes = _by_source(d, clusters)
    g = len(sums)
    head = (metric, n, g, float(b.mean()), float(c.mean()), float(d.mean()))
    if g <= exact_up_to:
        ci, p = _exact(sums, sizes, confidence)
        return PairedTest(*head, ci, p, "sign-flip exact", 2.0 ** (1 - g))
    ci, p = _bootstrap(sums, sizes, resamples, seed, confidence)
    return PairedTest(*head, ci, p, "cluster bootstrap", 1.0 / (resamples + 1))


def _values(
    metric: str, base: Sequence[float], candidate: Sequence[float]
) -> tuple[Floats, Floats]:
    if len(base) != len(candidate):
        raise ValueError(f"{metric}: {len(base)} base values for {len(candidate)} candidate values")
    b = np.asarray(base, dtype=np.float64).reshape(-1)
    c = np.asarray(candidate, dtype=np.float64).reshape(-1)
    for side, values in (("base", b), ("candidate", c)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"{metric}: {side} value {values[bad[0]]} at item {bad[0]} (not finite)"
            )
    return b, c


def _check_settings(seed: int, resamples: int, exact_up_to: int, confidence: float) -> None:
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    if not 1 <= exact_up_to <= MAX_EXACT:  # the bootstrap needs 2 sources for a spread
        raise ValueError(f"exact_up_to must be within 1..{MAX_EXACT}, not {exact_up_to}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")


def _by_source(d: Floats, clusters: Sequence[Hashable] | None) -> tuple[Floats, Floats]:
    """Per source: the sum of its items' differences and its item count."""
    if clusters is None:
        return d, np.ones_like(d)
    index: dict[Hashable, int] = {}
    labels = np.fromiter((index.setdefault(k, len(index)) for k in clusters), np.int64, len(d))
    sums = np.bincount(labels, weights=d, minlength=len(index)).astype(np.float64)
    sizes = np.bincount(labels, minlength=len(index)).astype(np.float64)
    return sums, sizes


# --- exact sign-flip test -------------------------------------------------------------------


@cache
def _subsets(k: int) -> Floats:
    """(2**k, k) 0/1 matrix: row r holds the bits of r, i.e. every subset of k things."""
    rows = np.arange(2**k)[:, None] >> np.arange(k)
    out: Floats = (rows & 1).astype(np.float64)
    out.setflags(write=False)
    return out


class _SubsetCounter:
    """Counts the subsets F of sources with sum_F (S_g - mu N_g) <= tol, meet-in-the-middle.

    F = the sources whose sign is flipped: T(flipped) >= T_obs exactly when sum_F S <= 0, so
    count(0) / 2**G is the upper one-sided p of the sign-flip test, and count(mu) that of the
    test of mean mu.
    """

    def __init__(self, sums: Floats, sizes: Floats, tol: float) -> None:
        h = len(sums) // 2
        low, high = _subsets(h), _subsets(len(sums) - h)
        self.s1, self.n1 = low @ sums[:h], low @ sizes[:h]
        self.s2, self.n2 = high @ sums[h:], high @ sizes[h:]
        self.tol = tol

    def count(self, mu: float) -> int:
        second = np.sort(self.s2 - mu * self.n2)
        first = self.s1 - mu * self.n1
        return int(np.searchsorted(second, self.tol - first, side="right").sum())


def _exact(
    sums: Floats, sizes: Floats, confidence: float
) -> tuple[tuple[float, float] | None, float]:
    """Inverted-test interval and two-sided p of the sign-flip test over the sources."""
    ratios = sums / sizes
    tol = _REL_TOL * float(np.abs(sums).sum() + np.abs(ratios).max() * sizes.sum())
    up, down = _SubsetCounter(sums, sizes, tol), _SubsetCounter(-sums, sizes, tol)
    total = 2.0 ** len(sums)
    p = min(1.0, 2 * min(up.count(0.0), down.count(0.0)) / total)
    # mu is inside when both one-sided p's exceed (1 - confidence) / 2, i.e. count >= need
    need = math.floor((1 - confidence) * total / 2) + 1
    if need <= 1:
        return None, p
    lo = _lowest(up, ratios, need)
    hi = -_lowest(down, -ratios, need)
    return (lo, hi), p


def _lowest(counter: _SubsetCounter, ratios: Floats, need: int) -> float:
    """The smallest mu with counter.count(mu) >= need, by bisection seeded at 0."""
    lo, hi = float(ratios.min()), float(ratios.max())
    if counter.count(lo) >= need:
        return lo
    # invariant: count(lo) < need <= count(hi); every source mean <= hi, so count(hi) = 2**G
    stop = _BISECT_REL * (hi - lo)
    mid = 0.0 if lo < 0.0 < hi else 0.5 * (lo + hi)
    while hi - lo > stop and lo < mid < hi:
        if counter.count(mid) >= need:
            hi = mid
        else:
            lo = mid
        mid = 0.5 * (lo + hi)
    return hi


# --- cluster bootstrap ----------------------------------------------------------------------

_CHUNK = 1 << 19  # resampling counts per block (4 MB of float64)
# Rows of counts per matrix product. OpenBLAS runs a (10,000 x 30) @ (30 x 5) product on
# threads; on a busy 2-core machine that took 8 ms (median) against 0.24 ms in 1,024-row
# slices, which it runs on the calling thread.
_PRODUCT = 1 << 15


def _bootstrap(
    sums: Floats, sizes: Floats, resamples: int, seed: int, confidence: float
) -> tuple[tuple[float, float] | None, float]:
    """Bootstrap-t interval and two-sided p, resampling sources with replacement."""
    g, total = len(sums), float(sizes.sum())
    delta = float(sums.sum()) / total
    resid = sums - delta * sizes
    resid[np.abs(resid) <= _REL_TOL * float(np.abs(sums).sum())] = 0.0  # float noise
    se = math.sqrt(float(resid @ resid) * g / (g - 1)) / total
    t_star = _bootstrap_t(resid, sizes, resamples, seed)
    t_obs = abs(delta) / se if se > 0 else (math.inf if delta != 0 else 0.0)
    p = (1 + int(np.count_nonzero(t_star >= t_obs))) / (resamples + 1)
    # 0 is outside delta +- q se exactly when p <= 1 - confidence
    allowed = math.floor((1 - confidence) * (resamples + 1)) - 1
    if allowed < 0:
        return None, p
    q = float(np.partition(t_star, resamples - allowed - 1)[resamples - allowed - 1])
    if math.isinf(q):
        return None, p
    return (delta - q * se, delta + q * se), p


def _bootstrap_t(resid: Floats, sizes: Floats, resamples: int, seed: int) -> Floats:
    """|t*| of each resample of the sources (residuals resid = S - delta N, sizes N)."""
    g = len(resid)
    columns = np.column_stack([resid, sizes, resid * resid, resid * sizes, sizes * sizes])
    e, n, ee, en, nn = _resampled_sums(columns, resamples, seed).T
    shift = e / n  # mean* - delta
    rss = ee - 2 * shift * en + shift * shift * nn
    rss[rss <= _REL_TOL * (ee + shift * shift * nn)] = 0.0  # cancellation noise
    se = np.sqrt(rss * g / (g - 1)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star: Floats = np.where(shift == 0, 0.0, np.abs(shift) / se)
    return t_star


def _resampled_sums(columns: Floats, resamples: int, seed: int) -> Floats:
    """(resamples, k): each column of `columns` (one row per source) summed over a resample."""
    g = len(columns)
    out = np.empty((resamples, columns.shape[1]))
    rows, step = max(1, _CHUNK // g), max(1, _PRODUCT // g)
    for block, start in enumerate(range(0, resamples, rows)):
        counts = _resample_counts(g, min(rows, resamples - start), seed, block)
        for i in range(0, len(counts), step):
            part = counts[i : i + step]
            np.matmul(part, columns, out=out[start + i : start + i + len(part)])
    return out


@lru_cache(maxsize=4)
def _resample_counts(g: int, rows: int, seed: int, block: int) -> Floats:
    """(rows, g): how often each source is drawn in each resample of g draws (read-only).

    Cached because a report tests several metrics on the same sources: drawing and counting
    is most of a bootstrap's time, the product with the data a tenth of it.
    """
    rng = np.random.default_rng((seed, block))
    draws = rng.integers(0, g, size=(rows, g), dtype=np.intp)
    draws += (np.arange(rows, dtype=np.intp) * g)[:, None]  # row r counts into r*g .. r*g+g-1
    counts = np.bincount(draws.ravel(), minlength=rows * g).astype(np.float64)
    out: Floats = counts.reshape(rows, g)
    out.setflags(write=False)
    return out


# --- verdicts -------------------------------------------------------------------------------


def decide(
    tests: Sequence[PairedTest], better: Mapping[str, Better], alpha: float = ALPHA
) -> list[Decision]:
    """Verdicts for one family of tests, Holm-corrected across it (see the module docstring)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    for test in tests:
        if test.metric not in better:
            raise ValueError(f"{test.metric}: no direction (lower/higher is better) given")
    # (index, p, min_p) of the tests that ran; min_p decides feasibility, p the verdict
    ran = [(i, t.p, t.min_p) for i, t in enumerate(tests) if t.p is not None and t.min_p]
    can_pass, best_p = _holm([min_p for _, _, min_p in ran], alpha)
    best = {i: b for (i, _, _), b in zip(ran, best_p, strict=True)}
    feasible = [(i, p) for (i, p, _), ok in zip(ran, can_pass, strict=True) if ok]
    reject, adjusted = _holm([p for _, p in feasible], alpha)
    outcome = {i: (r, a) for (i, _), r, a in zip(feasible, reject, adjusted, strict=True)}
    decisions = []
    for i, test in enumerate(tests):
        if i in outcome:
            rejected, p_adj = outcome[i]
            verdict = _direction(test, better[test.metric]) if rejected else "no significant change"
            reason = _tested(test, p_adj, len(feasible), alpha, rejected)
            decisions.append(Decision(test, p_adj, verdict, reason))
        else:
            reason = _too_few(test, best.get(i), len(ran), alpha)
            decisions.append(Decision(test, None, "too few items", reason))
    return decisions


def _holm(pvalues: Sequence[float], alpha: float) -> tuple[list[bool], list[float]]:
    """statsmodels' Holm: which p's are rejected, and the adjusted p's."""
    if not pvalues:
        return [], []
    from statsmodels.stats.multitest import multipletests

    freeze = gc.get_freeze_count() == 0  # multipletests runs gc.collect(): see the docstring
    if freeze:
        gc.freeze()
    try:
        reject, adjusted, _, _ = multipletests(np.asarray(pvalues), alpha=alpha, method="holm")
    finally:
        if freeze:
            gc.unfreeze()
    return [bool(r) for r in reject], [float(a) for a in adjusted]


def _direction(test: PairedTest, better: Better) -> Verdict:
    return "improved" if (test.delta > 0) == (better == "higher") else "regressed"


def _units(test: PairedTest) -> str:
    items = f"{test.n} item{'s' if test.n != 1 else ''}"
    if test.clusters == test.n:
        return items
    return f"{items} from {test.clusters} source{'s' if test.clusters != 1 else ''}"


def _tests(m: int) -> str:
    return f"{m} test{'s' if m != 1 else ''}"


def _tested(test: PairedTest, p_adj: float, m: int, alpha: float, rejected: bool) -> str:
    side = "at or below" if rejected else "above"
    return (
        f"{_units(test)}, {test.method}: p = {test.p:.2g}, {p_adj:.2g} after Holm over "
        f"{_tests(m)}, {side} {alpha:g}"
    )


def _too_few(test: PairedTest, best: float | None, m: int, alpha: float) -> str:
    if test.n == 0 or best is None:
        return "no items"
    return (
        f"{_units(test)}: the smallest reachable p ({test.min_p:.2g}) is {best:.2g} at best "
        f"after Holm over {_tests(m)}, above {alpha:g}"
    )


def minimum_items(family_size: int, alpha: float = ALPHA) -> int:
    """Smallest n at which an exact sign-flip test can be significant after Holm over
    `family_size` tests, whatever the other tests show: family_size * 2**(1-n) <= alpha.

    At that n every item must move the same way; a larger n tolerates some disagreement.
    """
    if family_size < 1:
        raise ValueError(f"family_size must be at least 1, not {family_size}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    n = 1
    while family_size * 2.0 ** (1 - n) > alpha:
        n += 1
    return n


# --- A/A noise floor ------------------------------------------------------------------------


def noise_band(deltas: Sequence[float], coverage: float = CONFIDENCE) -> tuple[float, float]:
    """(-q, q): q covers `coverage` of the A/A deltas' sizes (one metric, across leaves)."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be between 0 and 1, not {coverage}")
    values = np.abs(np.asarray(deltas, dtype=np.float64).reshape(-1))
    if values.size == 0:
        raise ValueError("no A/A deltas")
    if not np.isfinite(values).all():
        raise ValueError("A/A deltas must be finite")
    q = float(np.quantile(values, coverage, method="inverted_cdf"))
    return -q, q


def false_positive_rate(decisions: Sequence[Decision]) -> float:
    """Share of the testable A/A decisions that claim a change (improved or regressed)."""
    testable = [d for d in decisions if d.verdict != "too few items"]
    if not testable:
        raise ValueError("no A/A decision was testable (all too few items)")
    claims = sum(d.verdict in ("improved", "regressed") for d in testable)
    return claims / len(testable)
