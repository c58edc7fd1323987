"""Metric and bootstrap maths on hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.evaluation.metrics import choose_option, lcs_length, nll_per_token, oriented, rouge_l
from trainer.evaluation.stats import combine, interval, paired_delta, resample_indices, verdict


def test_lcs_and_rouge_l_by_hand() -> None:
    assert lcs_length(["a", "b", "c", "d"], ["a", "c", "d", "e"]) == 3
    assert lcs_length([], ["a"]) == 0
    # candidate 6 tokens, reference 3, LCS "the cat mat" = 3: P = 1/2, R = 1, F = 2/3
    assert rouge_l("the cat sat on the mat", "The cat, mat!") == pytest.approx(2 / 3)
    # the classic ROUGE-L example: the LCS is 2 ("the gunman" or "killed the"), 5 vs 4 tokens
    c, r = "the gunman killed the police", "police killed the gunman"
    assert lcs_length(c.split(), r.split()) == 2
    assert rouge_l(c, r) == pytest.approx(2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("Paris", "paris") == 1.0


def test_nll_and_choice() -> None:
    assert nll_per_token(-6.0, 3) == 2.0
    assert nll_per_token(0.0, 0) is None
    # raw sums prefer the short option; per-byte normalisation prefers the long one
    lps, opts = [-4.0, -6.0], ["ab", "abcdef"]
    assert choose_option(lps, opts, normalize=False) == 0
    assert choose_option(lps, opts, normalize=True) == 1  # -2/byte vs -1/byte
    assert choose_option([-1.0, -1.0], ["x", "y"], normalize=False) == 0  # first on ties
    assert choose_option([], [], normalize=True) is None
    with pytest.raises(ValueError):
        choose_option([-1.0], ["a", "b"], normalize=True)
    assert oriented("nll", 0.5) == -0.5 and oriented("mc_acc", 0.5) == 0.5


def test_interval_from_hand_written_resamples() -> None:
    deltas = [1.0, 2.0, 6.0]
    idx = np.array([[0, 0, 0], [0, 1, 2], [2, 2, 2], [1, 1, 2], [0, 1, 1]])
    # resample means: 1, 3, 6, 10/3, 5/3 -> sorted 1, 5/3, 3, 10/3, 6
    # quantile 0.025 at position 0.1: 1 + 0.1 * (5/3 - 1); 0.975 at 3.9: 10/3 + 0.9 * (6 - 10/3)
    lo, hi = interval(deltas, idx)
    assert lo == pytest.approx(1 + 0.1 * 2 / 3)
    assert hi == pytest.approx(10 / 3 + 0.9 * (8 / 3))


def test_paired_bootstrap_known_cases() -> None:
    d = paired_delta("mc_acc", [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], min_items=3)
    assert (d.n, d.base, d.candidate, d.delta) == (4, 0.25, 1.0, 0.75)
    assert d.ci is not None and 0 < d.ci[0] <= 0.75 <= d.ci[1] <= 1.0
    assert d.verdict == "improved"
    # identical models: every resampled mean is 0
    same = paired_delta("nll", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.ci == (0.0, 0.0) and same.verdict == "no significant change"
    # a constant NLL increase of 0.5: interval [0.5, 0.5], and higher NLL is worse
    worse = paired_delta("nll", [1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert worse.ci == pytest.approx((0.5, 0.5)) and worse.verdict == "regressed"
    # two items: P(mean = either end) = 1/4 each, so the 2.5/97.5 percentiles are the ends
    two = paired_delta("rouge_l", [0.0, 0.0], [0.2, 0.6], min_items=2)
    assert two.ci == pytest.approx((0.2, 0.6)) and two.verdict == "improved"
    mixed = paired_delta("rouge_l", [0.0, 0.0], [-0.2, 0.6], min_items=2)
    assert mixed.ci == pytest.approx((-0.2, 0.6)) and mixed.verdict == "no significant change"
    few = paired_delta("nll", [1.0], [0.0])
    assert few.ci is None and few.verdict == "no significant change" and "too few" in few.note
    with pytest.raises(ValueError):
        paired_delta("nll", [1.0], [1.0, 2.0])


def test_bootstrap_is_seeded_and_matches_the_normal_approximation() -> None:
    a = resample_indices(50, 200, "s")
    assert (a == resample_indices(50, 200, "s")).all()
    assert not (a == resample_indices(50, 200, "t")).all()
    rng = np.random.default_rng(3)
    diffs = rng.normal(0.3, 1.0, 400)
    d = paired_delta("mc_acc", [0.0] * 400, list(diffs), resamples=4000)
    se = diffs.std() / math.sqrt(400)
    assert d.ci is not None
    assert d.ci[0] == pytest.approx(diffs.mean() - 1.96 * se, abs=0.02)
    assert d.ci[1] == pytest.approx(diffs.mean() + 1.96 * se, abs=0.02)


def test_verdicts() -> None:
    assert verdict("nll", (-0.3, -0.1)) == "improved"
    assert verdict("nll", (0.1, 0.3)) == "regressed"
    assert verdict("mc_acc", (-0.3, -0.1)) == "regressed"
    assert verdict("mc_acc", (-0.1, 0.1)) == "no significant change"
    assert verdict("mc_acc", None) == "no significant change"
    assert combine(["improved", "regressed"]) == "regressed"
    assert combine(["improved", "no significant change"]) == "improved"
    assert combine([]) == "no significant change"
