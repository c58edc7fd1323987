"""LAB's learning-rate schedule: linear warm-up, then constant (cosine decay optional).

LAB found cosine decay destabilised later phases, hence constant as the default.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_steps(requested: int, total: int) -> int:
    """At most a tenth of the phase's steps: a short phase spent warming up trains at a
    fraction of its rate throughout (issue 16 found a whole retrain inside the warm-up)."""
    return min(requested, total // 10)


def lr_factor(schedule: str, warmup: int, total: int) -> Callable[[int], float]:
    """Multiplier of the peak rate for the optimizer step about to be taken (0-based)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if schedule == "cosine":
            span = max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))
        return 1.0

    return factor
