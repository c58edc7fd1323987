"""Which seed examples are held out of generation prompts, for the benchmarks.

Decision: one in five (HOLDOUT_SHARE, rounded, at least one) of a leaf's seed
Q&A: those whose hash of (leaf path, question text) ranks lowest. The rank
depends on content, not position, so reordering changes nothing and adding an
example moves at most one other across the boundary. At least MIN_KEPT
examples always stay available as in-context examples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, TypeVar

HOLDOUT_SHARE = 0.2
MIN_KEPT = 3


class HasQuestion(Protocol):
    @property
    def question(self) -> str: ...


T = TypeVar("T", bound=HasQuestion)


def _rank(leaf_path: str, question: str) -> float:
    digest = hashlib.sha256(f"{leaf_path}\0{' '.join(question.split())}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(leaf_path: str, examples: Sequence[T]) -> tuple[list[T], list[T]]:
    """(kept for prompts, held out) in their original order."""
    if len(examples) <= MIN_KEPT:
        return list(examples), []
    ranks = [_rank(leaf_path, e.question) for e in examples]
    k = min(max(1, round(len(examples) * HOLDOUT_SHARE)), len(examples) - MIN_KEPT)
    out = set(sorted(range(len(examples)), key=ranks.__getitem__)[:k])
    return (
        [e for i, e in enumerate(examples) if i not in out],
        [e for i, e in enumerate(examples) if i in out],
    )
