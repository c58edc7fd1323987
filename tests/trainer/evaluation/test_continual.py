"""Continual-learning metrics on hand-built accuracy matrices."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluation.continual import Score, Scores, difference, intervals, matrix, summary


def rows_from(gains: list[list[float]], per_leaf: int = 4) -> tuple[list[Scores], list[str]]:
    """Scores whose per-leaf mean gain over the base is gains[i][j] (every item the same)."""
    leaves = [f"leaf/{j}" for j in range(len(gains[0]))]
    rows = [
        {
            f"{leaf}#{k}": Score(leaf, 5.0 - gain, 5.0)
            for leaf, gain in zip(leaves, row, strict=True)
            for k in range(per_leaf)
        }
        for row in gains
    ]
    return rows, leaves


def test_matrix_and_summary_by_hand() -> None:
    # three merges, three leaves: leaf 0 learnt 0.5 then forgets to 0.1; leaf 1 gains 0.4
    # and keeps 0.3; leaf 2 gains 0.6 at the last merge
    gains = [[0.5, 0.0, 0.0], [0.3, 0.4, 0.1], [0.1, 0.3, 0.6]]
    rows, leaves = rows_from(gains)
    a = matrix(rows, leaves)
    assert a == pytest.approx(np.array(gains))
    found = summary(a)
    assert found["ACC"] == pytest.approx((0.1 + 0.3 + 0.6) / 3)
    assert found["BWT"] == pytest.approx(((0.1 - 0.5) + (0.3 - 0.4)) / 2)
    assert found["forgetting"] == pytest.approx(((0.5 - 0.1) + (0.4 - 0.3)) / 2)
    assert found["plasticity"] == pytest.approx((0.5 + 0.4 + 0.6) / 3)
    assert summary(a[-1:]) == {"ACC": pytest.approx(found["ACC"])}  # one row: the joint run


def test_intervals_cover_the_estimate_and_shrink_without_item_noise() -> None:
    rows, leaves = rows_from([[0.5, 0.0], [0.2, 0.4]])
    flat = intervals(rows, leaves)
    assert flat["BWT"] == pytest.approx([-0.3, -0.3])  # every item alike: no spread
    rng = np.random.default_rng(1)
    noisy = [
        {k: Score(v.leaf, v.model + rng.normal(0, 0.2), v.base) for k, v in row.items()}
        for row in rows
    ]
    lo, hi = intervals(noisy, leaves)["BWT"]
    estimate = summary(matrix(noisy, leaves))["BWT"]
    assert lo < estimate < hi and hi - lo > 0.01


def test_leaves_without_items_drop_out_of_every_figure() -> None:
    # the validation split: only leaves 0 and 2 (knowledge) have items; leaf 1 has none
    gains = [[0.5, 0.0, 0.0], [0.3, 0.4, 0.1], [0.1, 0.3, 0.6]]
    rows, leaves = rows_from(gains)
    rows = [{k: v for k, v in row.items() if v.leaf != "leaf/1"} for row in rows]
    found = summary(matrix(rows, leaves))
    assert found["ACC"] == pytest.approx((0.1 + 0.6) / 2)
    assert found["BWT"] == pytest.approx(0.1 - 0.5)
    assert found["forgetting"] == pytest.approx(0.5 - 0.1)
    assert found["plasticity"] == pytest.approx((0.5 + 0.6) / 2)
    only_last = [{k: v for k, v in row.items() if v.leaf == "leaf/2"} for row in rows]
    assert set(summary(matrix(only_last, leaves))) == {"ACC", "plasticity"}  # nothing earlier


def test_difference_pairs_the_items_of_two_runs() -> None:
    # both runs share every item's noise (the same held-out items, hard or easy alike); the
    # second lost 0.1 on every item after the last merge: a paired difference sees exactly
    # 0.1 where the two runs' own intervals overlap
    rows, leaves = rows_from([[0.5, 0.0], [0.3, 0.4]], per_leaf=8)
    rng = np.random.default_rng(2)
    noise = {k: rng.normal(0, 0.3) for k in rows[0]}
    first = [{k: Score(v.leaf, v.model + noise[k], v.base) for k, v in row.items()} for row in rows]
    second = [dict(row) for row in first]
    second[-1] = {k: Score(v.leaf, v.model + 0.1, v.base) for k, v in first[-1].items()}
    found = difference(first, second, leaves)
    assert found["ACC"]["delta"] == pytest.approx(0.1)
    assert found["ACC"]["ci"] == pytest.approx([0.1, 0.1])
    assert found["BWT"]["delta"] == pytest.approx(0.1)  # leaf 0's end moved, its merge did not
    assert found["plasticity"]["delta"] == pytest.approx(0.1 / 2)  # leaf 1's own merge is last
    lo_a, hi_a = intervals(first, leaves)["ACC"]
    lo_b, hi_b = intervals(second, leaves)["ACC"]
    assert lo_a < hi_b and lo_b < hi_a  # unpaired, the two would look alike


def test_difference_refuses_runs_scored_on_different_items() -> None:
    rows, leaves = rows_from([[0.5, 0.0], [0.3, 0.4]])
    fewer = [{k: v for k, v in row.items() if not k.endswith("#0")} for row in rows]
    with pytest.raises(ValueError, match="same items"):
        difference(rows, fewer, leaves)
    with pytest.raises(ValueError, match="same items"):
        difference(rows, rows[:1], leaves)
