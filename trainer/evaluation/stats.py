"""Paired bootstrap intervals for the mean difference candidate - base, and verdicts.

The unit is the item: both models answer the same items, so the per-item differences are
resampled with replacement (`resamples` times, seeded), the mean of each resample taken,
and the 2.5th and 97.5th percentiles of those means (numpy's default linear interpolation)
form the 95% interval. A difference whose interval excludes 0 is significant; its sign,
turned by the metric's direction, says improved or regressed. Below `min_items` items no
interval is computed and no change is claimed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from trainer.evaluation.metrics import oriented

Verdict = Literal["improved", "regressed", "no significant change"]
VERDICTS: tuple[Verdict, ...] = ("regressed", "improved", "no significant change")
DEFAULT_RESAMPLES = 1000
DEFAULT_MIN_ITEMS = 3
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Delta:
    metric: str
    n: int  # paired items
    base: float  # mean over the items
    candidate: float
    delta: float  # candidate - base
    ci: tuple[float, float] | None  # 95% paired bootstrap interval of delta; None below min_items
    verdict: Verdict
    note: str = ""


def resample_indices(n: int, resamples: int, seed: int | str) -> npt.NDArray[np.int64]:
    """(resamples, n) indices drawn with replacement, from a seed that may be a string."""
    digest = hashlib.sha256(str(seed).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    return rng.integers(0, n, size=(resamples, n), dtype=np.int64)


def interval(
    deltas: Sequence[float], indices: npt.NDArray[np.int64], confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Percentile interval of the resampled means of `deltas` (one row of indices each)."""
    values = np.asarray(deltas, dtype=np.float64)
    means = values[indices].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def verdict(metric: str, ci: tuple[float, float] | None) -> Verdict:
    if ci is None:
        return "no significant change"
    lo, hi = ci
    if lo > 0 or hi < 0:
        return "improved" if oriented(metric, lo if lo > 0 else hi) > 0 else "regressed"
    return "no significant change"


def paired_delta(
    metric: str,
    base: Sequence[float],
    candidate: Sequence[float],
    *,
    seed: int | str = 0,
    resamples: int = DEFAULT_RESAMPLES,
    min_items: int = DEFAULT_MIN_ITEMS,
) -> Delta:
    """Means, difference, bootstrap interval and verdict of paired per-item values."""
    if len(base) != len(candidate):
        raise ValueError(f"{len(base)} base values for {len(candidate)} candidate values")
    n = len(base)
    if n == 0:
        raise ValueError("no items to compare")
    diffs = [c - b for b, c in zip(base, candidate, strict=True)]
    mean_b, mean_c = float(np.mean(base)), float(np.mean(candidate))
    ci: tuple[float, float] | None = None
    note = ""
    if n < min_items:
        note = f"{n} item{'s' if n != 1 else ''}: too few for an interval (need {min_items})"
    else:
        ci = interval(diffs, resample_indices(n, resamples, f"{seed}\0{metric}"))
    return Delta(metric, n, mean_b, mean_c, mean_c - mean_b, ci, verdict(metric, ci), note)


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """A leaf's or suite's verdict from its metrics': any regression wins, then improvement."""
    if "regressed" in verdicts:
        return "regressed"
    if "improved" in verdicts:
        return "improved"
    return "no significant change"
