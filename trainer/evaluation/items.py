"""Evaluation items: what both models are asked, built deterministically (no teacher model).

An item is a prompt and a reference answer. Its primary metric is the reference answer's
negative log-likelihood per token given the prompt (nll); when three distinct wrong
answers can be found it is also multiple choice in cloze form (each option scored as a
continuation of `mc_prompt`, so the order they are listed in plays no part); a greedy
answer gives the descriptive ROUGE-L and exact match. Knowledge items are asked closed-book
(no passage in the prompt) and may carry a placebo twin: the same answer with its key fact
swapped for one that is in no document (trainer/evaluation/heldout.py).

Where the items come from is `origin` (seed, fact, teacher, general, document) and which
items share a source (a seed example's passage, a document paragraph) is `source`: the
statistics resample sources, not items, when items of one source move together.

Distractors are other answers: of the same leaf first, then of sibling leaves (same parent
folder), then of the same branch; within a tier they are ranked by a hash of (item,
candidate), and the option order is a hash order too, so every run builds the same items.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
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
    origin: str = "seed"  # seed | fact | teacher | general | document
    source: str = ""  # items of one source (passage, paragraph, example) move together
    placebo: str | None = None  # knowledge: the answer with its fact swapped for none's

    @property
    def id(self) -> str:
        """Content hash: the same question in two suites (or runs) is one item to score."""
        key = [self.type, self.prompt, self.answer, self.mc_prompt, self.options, self.correct]
        text = json.dumps([*key, self.short, self.placebo], ensure_ascii=False)
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
    *,
    origin: str = "seed",
    source: str = "",
    placebo: str | None = None,
) -> Item:
    """An item for one held-out example; `tiers()` yields the distractor tiers beyond the leaf.
    Knowledge is asked closed-book; a skill's context stays (it is the task's input)."""
    closed_book = leaf.kind == "knowledge"
    prompt = example.question if closed_book else user_message(example.question, example.context)
    key = rank_key(leaf.path, prompt)
    own = [a for a in answers(leaf) if a != example.answer]
    wrong = pick_distractors(key, example.answer, _chain([own], tiers))
    base = Item(
        suite, leaf.path, "qa", example.question, prompt, example.answer,
        origin=origin, source=source, placebo=placebo,
    )  # fmt: skip
    if wrong is None:
        return base
    options, correct = shuffle_options(key, example.answer, wrong)
    return replace(base, mc_prompt=prompt, options=options, correct=correct)


def _chain(
    first: Iterable[Iterable[str]], rest: Callable[[], Iterable[Iterable[str]]]
) -> Iterable[Iterable[str]]:
    yield from first
    yield from rest()
