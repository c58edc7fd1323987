"""Exact and near-duplicate removal for generated samples, within a leaf and against seeds.

Similarity is the validator's (trainer.text.shingles): Jaccard of hashed word 3-gram sets,
near at NEAR (0.8) and above, so "duplicate" means the same to contributors and generation.
A generated question that nearly repeats any seed question is dropped, held-out ones
included: the teacher never saw those, but a coincidental copy in the training data would
still inflate the benchmark that asks them.
"""

from __future__ import annotations

from typing import Literal

from trainer.leaves import LeafData
from trainer.sdg.config import Bucket
from trainer.text.shingles import NEAR, jaccard, shingles

Shingles = set[int]
Verdict = Literal["duplicate_of_seed", "duplicate"]
BUCKET: dict[Verdict, Bucket] = {
    "duplicate": "duplicates",
    "duplicate_of_seed": "duplicates_of_seeds",
}


def near(a: str, b: str, threshold: float = NEAR) -> bool:
    return jaccard(shingles(a), shingles(b)) >= threshold


class NearIndex:
    """Records of one or more texts; a query matches a record when every field is near."""

    def __init__(self, threshold: float = NEAR) -> None:
        self.threshold = threshold
        self._records: list[tuple[Shingles, ...]] = []

    def __len__(self) -> int:
        return len(self._records)

    def add(self, *texts: str) -> None:
        self._records.append(tuple(shingles(t) for t in texts))

    def find(self, *texts: str) -> bool:
        query = [shingles(t) for t in texts]
        return any(
            len(r) == len(query)
            and all(jaccard(a, b) >= self.threshold for a, b in zip(r, query, strict=True))
            for r in self._records
        )


class LeafDeduper:
    """Admits each generated (question, context) once, unless it repeats a seed.

    Grounded skills compare question and context together, as the validator does: one
    question ("Summarize this in one sentence.") over a new context is a new sample.
    Knowledge and freeform skills compare questions alone.
    """

    def __init__(self, leaf: LeafData, threshold: float = NEAR) -> None:
        self.with_context = leaf.kind == "grounded_skill"
        self.seeds = NearIndex(threshold)
        self.seed_contexts = NearIndex(threshold)
        self.outputs = NearIndex(threshold)
        for seed in [*leaf.seeds, *leaf.heldout]:
            self.seeds.add(*self._key(seed.question, seed.context))
            if seed.context:
                self.seed_contexts.add(seed.context)

    def _key(self, question: str, context: str | None) -> tuple[str, ...]:
        return (question, context or "") if self.with_context else (question,)

    def admit(self, question: str, context: str | None = None) -> Verdict | None:
        """None (and remembered) for a new sample, else why it is a duplicate."""
        key = self._key(question, context)
        if self.seeds.find(*key):
            return "duplicate_of_seed"
        if self.outputs.find(*key):
            return "duplicate"
        self.outputs.add(*key)
        return None

    def copies_seed_context(self, context: str) -> bool:
        return self.seed_contexts.find(context)
