"""Continual-learning metrics from an accuracy matrix (Lopez-Paz & Ranzato 2017, GEM;
Chaudhry et al. 2018), on the benchmark's primary metric.

`rows[i]` holds, for every held-out item, its leaf and the NLL per token of the model after
merge i and of the base model. a[i][j] = mean over leaf j's items of (NLL_base - NLL_i): the
gain over the base (higher is better). With T the last merge:

- ACC = mean_j a[T][j]: the average gain after the last merge;
- BWT = mean_{j<T} (a[T][j] - a[j][j]): below zero, earlier leaves lost what their own merge
  gave them;
- forgetting = mean_{j<T} (max_{j<=i<T} a[i][j] - a[T][j]);
- plasticity = mean_j a[j][j]: what a merge gives its own leaf.

Intervals resample each leaf's items with replacement, the same resample for every row, so
the comparison between merges stays paired; `difference` compares two runs (replay against
no replay) the same way, item by item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np


class Score(NamedTuple):
    leaf: str
    model: float  # NLL per token of the model after the merge
    base: float  # of the base model


Scores = dict[str, Score]  # item id -> its scores


def matrix(rows: list[Scores], leaves: list[str], pick: Any = None) -> Any:
    """a[i][j]: the base's NLL minus the model's, leaf j's items after merge i (resampled)."""
    a = np.full((len(rows), len(leaves)), np.nan)
    for i, items in enumerate(rows):
        for j, leaf in enumerate(leaves):
            ids = sorted(k for k, v in items.items() if v.leaf == leaf)
            if pick is not None:
                ids = [ids[k] for k in pick[leaf]] if ids else []
            if ids:
                a[i, j] = np.mean([items[k].base - items[k].model for k in ids])
    return a


def summary(a: Any) -> dict[str, float]:
    t = a.shape[0] - 1
    if a.shape[0] == 1:  # joint: one row, after the last merge
        return {"ACC": float(np.nanmean(a[0]))}
    diag = np.array([a[j, j] for j in range(t + 1)])
    # leaves without items (a split that only knowledge leaves have) drop out of every figure
    earlier = [j for j in range(t) if not np.isnan(a[j : t + 1, j]).any()]
    out = {"ACC": float(np.nanmean(a[t])), "plasticity": float(np.nanmean(diag))}
    if earlier:
        out["BWT"] = float(np.mean([a[t, j] - a[j, j] for j in earlier]))
        out["forgetting"] = float(np.mean([np.max(a[j:t, j]) - a[t, j] for j in earlier]))
    return out


def _bootstrap(
    stat: Callable[[Any], dict[str, float]], rows: list[Scores], leaves: list[str], seed: int
) -> dict[str, list[float]]:
    """95% percentile intervals of stat(pick) over 2,000 draws of item positions per leaf
    (with replacement). The draws depend only on the seed and the leaves' sizes, so two runs
    scored on the same items get the same draws: what keeps their comparison paired."""
    rng = np.random.default_rng(seed)
    sizes = {leaf: sum(1 for v in rows[0].values() if v.leaf == leaf) for leaf in leaves}
    draws: dict[str, list[float]] = {}
    for _ in range(2000):
        pick = {
            leaf: rng.integers(0, n, n) if n else np.array([], int) for leaf, n in sizes.items()
        }
        for key, value in stat(pick).items():
            draws.setdefault(key, []).append(value)
    return {
        k: [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] for k, v in draws.items()
    }


def intervals(rows: list[Scores], leaves: list[str], seed: int = 0) -> dict[str, list[float]]:
    """95% percentile intervals of the summary, resampling each leaf's items."""
    return _bootstrap(lambda pick: summary(matrix(rows, leaves, pick)), rows, leaves, seed)


def _minus(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: a[k] - b[k] for k in a if k in b}


def difference(
    first: list[Scores], second: list[Scores], leaves: list[str], seed: int = 0
) -> dict[str, dict[str, Any]]:
    """The first run's summary minus the second's, with a 95% interval that resamples the same
    items for both: two runs scored on one item set are compared item by item, which two
    separate intervals (overlapping or not) do not do."""
    if len(first) != len(second) or any(
        set(a) != set(b) for a, b in zip(first, second, strict=True)
    ):
        raise ValueError("the two runs were not scored on the same items after every merge")

    def gap(pick: Any = None) -> dict[str, float]:
        return _minus(summary(matrix(first, leaves, pick)), summary(matrix(second, leaves, pick)))

    ci = _bootstrap(gap, first, leaves, seed)
    return {k: {"delta": v, "ci": ci[k]} for k, v in gap().items()}
