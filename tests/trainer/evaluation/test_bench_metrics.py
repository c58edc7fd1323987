"""Metric maths on hand-computed values (the statistics: test_significance.py)."""

from __future__ import annotations

import pytest

from trainer.evaluation.metrics import (
    choose_option,
    exact_match,
    nll_per_token,
    oriented,
    rouge_l,
)


def test_rouge_l_by_hand() -> None:
    # LCS of a b c d / a c d e is 3: P = R = 3/4
    assert rouge_l("a b c d", "a c d e") == pytest.approx(3 / 4)
    # candidate 6 tokens, reference 3, LCS "the cat mat" = 3: P = 1/2, R = 1, F = 2/3
    assert rouge_l("the cat sat on the mat", "The cat, mat!") == pytest.approx(2 / 3)
    # the classic ROUGE-L example: the LCS is 2 ("the gunman" or "killed the"), 5 vs 4 tokens
    c, r = "the gunman killed the police", "police killed the gunman"
    assert rouge_l(c, r) == pytest.approx(2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("Paris", "paris") == 1.0
    # Unicode words count (rouge-score's own tokenizer would keep only a-z and 0-9)
    assert rouge_l("Café crème à Genève", "café à genève") == pytest.approx(2 * 1 * 3 / 4 / (7 / 4))


def test_rouge_l_agrees_with_rouge_score_on_ascii_text() -> None:
    from rouge_score.rouge_scorer import RougeScorer

    plain = RougeScorer(["rougeL"])
    pairs = [
        ("the cat sat on the mat", "a cat was on the mat"),
        ("Paris is the capital of France.", "The capital of France is Paris"),
        ("", "x"),
    ]
    for c, r in pairs:
        assert rouge_l(c, r) == pytest.approx(plain.score(r, c)["rougeL"].fmeasure)


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


def test_exact_match_ignores_case_and_punctuation_only() -> None:
    assert exact_match("Paris.", "paris") == 1.0
    assert exact_match("It is Paris", "Paris") == 0.0
