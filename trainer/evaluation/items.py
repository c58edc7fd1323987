"""Benchmark items, built deterministically from the taxonomy (no teacher model).

An item is what both models are asked. Question-answer items (`qa`) come from a leaf's
held-out seed examples (or the general set): the reference answer is scored by NLL given
the question (with its context), a greedy answer by ROUGE-L, and, when three distinct
distractor answers can be found, the reference among them by multiple choice. Document
items (`doc_mc`, cloze.py) are multiple choice only.

Multiple-choice prompts: grounded skills keep their context (the passage is the task's
input); knowledge questions are asked closed-book, as MMLU-branch does, since the passage
would give the answer away; NLL and the greedy answer always see question and context,
exactly as the training rows render them (`trainer.sdg.pipeline.user_message`).

Distractors are other answers: of the same leaf first, then of sibling leaves (same parent
folder), then of the same branch; within a tier they are ranked by a hash of (item,
candidate), and the option order is a hash order too, so every run builds the same items.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from trainer.leaves import LeafData, SeedExample
from trainer.sdg.pipeline import user_message

ItemType = Literal["qa", "doc_mc"]
N_OPTIONS = 4


@dataclass(frozen=True)
class Item:
    suite: str  # "branch" | "regression"
    group: str  # leaf path, or the general set's name
    type: ItemType
    question: str  # what a reader sees (the question, or the sentence with a blank)
    prompt: str  # user turn for the reference answer's NLL and the greedy answer
    answer: str  # the reference answer (doc_mc: the true sentence)
    mc_prompt: str | None = None  # user turn the options are scored after; None: no MC
    options: tuple[str, ...] = ()
    correct: int = -1
    short: bool = False  # a few-word reference: a smaller greedy budget

    @property
    def id(self) -> str:
        """Content hash: the same question in two suites (or runs) is one item to score."""
        key = [self.type, self.prompt, self.answer, self.mc_prompt, self.options, self.correct]
        text = json.dumps([*key, self.short], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    @property
    def has_mc(self) -> bool:
        return self.mc_prompt is not None and len(self.options) > 1

    @property
    def metrics(self) -> tuple[str, ...]:
        if self.type == "doc_mc":
            return ("doc_mc_acc",)
        return ("nll", "mc_acc", "rouge_l") if self.has_mc else ("nll", "rouge_l")


def rank_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def normal(text: str) -> str:
    return " ".join(text.lower().split())


def shuffle_options(key: str, correct: str, wrong: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """All options in a hash order seeded by the item, and the right one's index."""
    options = sorted([correct, *wrong], key=lambda o: rank_key(key, o))
    return tuple(options), options.index(correct)


def pick_distractors(
    key: str, reference: str, tiers: Iterable[Iterable[str]], k: int = N_OPTIONS - 1
) -> list[str] | None:
    """k distinct wrong answers, tier by tier, hash-ranked within a tier; None if too few.

    `tiers` may be lazy: a later tier is only consumed when the earlier ones fall short.
    """
    chosen: list[str] = []
    seen = {normal(reference)}
    for tier in tiers:
        for cand in sorted(set(tier), key=lambda c: rank_key(key, c)):
            if normal(cand) not in seen and cand.strip():
                seen.add(normal(cand))
                chosen.append(cand)
                if len(chosen) == k:
                    return chosen
    return None


def answers(leaf: LeafData) -> list[str]:
    return [e.answer for e in (*leaf.seeds, *leaf.heldout)]


def qa_item(
    suite: str,
    leaf: LeafData,
    example: SeedExample,
    tiers: Callable[[], Iterable[Iterable[str]]],
) -> Item:
    """An item for one held-out example; `tiers()` yields the distractor tiers beyond the leaf."""
    prompt = user_message(example.question, example.context)
    key = rank_key(leaf.path, prompt)
    own = [a for a in answers(leaf) if a != example.answer]
    wrong = pick_distractors(key, example.answer, _chain([own], tiers))
    if wrong is None:
        return Item(suite, leaf.path, "qa", example.question, prompt, example.answer)
    closed_book = leaf.kind == "knowledge"
    mc_prompt = example.question if closed_book else prompt
    options, correct = shuffle_options(key, example.answer, wrong)
    return Item(
        suite,
        leaf.path,
        "qa",
        example.question,
        prompt,
        example.answer,
        mc_prompt,
        options,
        correct,
    )


def _chain(
    first: Iterable[Iterable[str]], rest: Callable[[], Iterable[Iterable[str]]]
) -> Iterable[Iterable[str]]:
    yield from first
    yield from rest()
