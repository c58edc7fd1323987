"""The suites: which items a benchmark asks, built from a selection of leaves.

- branch: every selected (changed) leaf's held-out items (heldout.py: held-out seed
  examples, closed-book facts from a knowledge leaf's documents with their placebo twins,
  and items the teacher wrote from the held-out seeds). Each leaf gets a verdict.
- regression (forgetting): the same held-out items of every other leaf (up to
  REGRESSION_LEAVES of them, ranked by sha256("regression-v2", path)), plus the project's
  general set `general-v1` (trainer/evaluation/data/general-v1.jsonl). Each leaf gets a
  verdict against the model this change replaces.
- memorization: a knowledge leaf's own document sentences as multiple choice (cloze.py): the
  training material itself, reported apart and never as knowledge.

Whatever cannot be built (an unreadable leaf, an item without three distinct distractors,
an item that overlaps training, too few document sentences) is counted, never invented.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from importlib import resources
from typing import Protocol

from trainer.evaluation.cloze import cloze_items
from trainer.evaluation.heldout import DEFAULT_FACTS, held_out
from trainer.evaluation.items import Item, answers, qa_item, rank_key, shuffle_options
from trainer.leaves import LeafData, SeedExample
from trainer.text.overlap import shares_ngram

REGRESSION_SAMPLE = "regression-v2"
REGRESSION_LEAVES = 200
GENERAL_SET = "general-v1"
DEFAULT_DOC_MC_PER_LEAF = 8


@dataclass(frozen=True)
class Skip:
    suite: str
    group: str
    what: str  # "leaf" | "qa" | "mc" | "doc_mc" | "rouge_l"
    count: int
    reason: str


@dataclass(frozen=True)
class Group:
    suite: str
    name: str  # leaf path or general set name
    kind: str  # leaf kind, or "general"


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


class LeafSource(Protocol):
    """Where the leaves come from (the bot's taxonomy): every leaf's taxonomy path, and its
    record read on demand, or why it cannot be read."""

    @property
    def paths(self) -> Sequence[str]: ...

    def read(self, path: str) -> LeafData | str: ...

    def teacher_items(self, path: str) -> Sequence[SeedExample]:
        """Items the teacher wrote from the leaf's held-out seeds (none: empty)."""
        ...


class LeafPool:
    """Every leaf of the taxonomy by taxonomy path, read on first use."""

    def __init__(self, source: LeafSource, training: AbstractSet[tuple[str, ...]]) -> None:
        self.source, self.training = source, training
        self.files = set(source.paths)
        self._read: dict[str, LeafData | str] = {}

    def get(self, path: str) -> LeafData | str:
        if path not in self._read:
            self._read[path] = self.source.read(path)
        return self._read[path]

    def add(self, path: str) -> str:
        self.files.add(path)
        return path

    def tiers(self, leaf: LeafData) -> Iterator[list[str]]:
        """Distractor tiers beyond the leaf itself: its siblings' answers, then its branch's."""
        parent = leaf.path.rsplit("/", 1)[0]
        siblings = [p for p in sorted(self.files) if p != leaf.path and p.startswith(parent + "/")]
        yield self._answers(p for p in siblings if p.rsplit("/", 1)[0] == parent)
        branch = leaf.path.split("/", 1)[0] + "/"
        yield self._answers(
            p
            for p in sorted(self.files)
            if p.startswith(branch) and p != leaf.path and p.rsplit("/", 1)[0] != parent
        )

    def _answers(self, paths: Iterable[str]) -> list[str]:
        out: list[str] = []
        for p in paths:
            data = self.get(p)
            if isinstance(data, LeafData):
                out += answers(data)
        return out


def _held_out(plan: Plan, suite: str, leaf: LeafData, pool: LeafPool, facts: int) -> None:
    """A leaf's held-out items, the teacher's included, into the plan (skips counted)."""
    training = pool.training
    found = held_out(leaf, suite, lambda: pool.tiers(leaf), facts=facts, training=training)
    for ex in pool.source.teacher_items(leaf.path):
        if shares_ngram([ex.question, ex.answer, ex.context or ""], training):
            found.drop("teacher: shares an 8-gram with a training row")
            continue
        item = qa_item(
            suite, leaf, ex, lambda: pool.tiers(leaf), origin="teacher",
            source=f"teacher:{rank_key(leaf.path, ex.question)[:12]}",
        )  # fmt: skip
        found.items.append(item)
    plan.items += found.items
    for why, n in sorted(found.dropped.items()):
        plan.skipped.append(Skip(suite, leaf.path, "item", n, why))
    no_mc = sum(not item.has_mc for item in found.items)
    if no_mc:
        plan.skipped.append(
            Skip(suite, leaf.path, "mc", no_mc, "fewer than 3 distinct distractor answers")
        )
    if not found.items:
        plan.skipped.append(Skip(suite, leaf.path, "item", 0, "no held-out item could be built"))


def build(
    selected: Sequence[str],
    source: LeafSource,
    *,
    facts: int = DEFAULT_FACTS,
    doc_mc_per_leaf: int = DEFAULT_DOC_MC_PER_LEAF,
    regression: bool = True,
    general: bool = True,
    training: AbstractSet[tuple[str, ...]] = frozenset(),
) -> Plan:
    """Items of the branch suite (the selected leaves' taxonomy paths), the memorization
    suite (their documents) and the regression suite (the source's other leaves); none that
    shares a word 8-gram with a training row (`training`: trainer/text/overlap.py)."""
    pool = LeafPool(source, training)
    chosen = [pool.add(p) for p in selected]
    plan = Plan()
    for path in dict.fromkeys(chosen):
        leaf = pool.get(path)
        if isinstance(leaf, str):
            plan.skipped.append(Skip("branch", path, "leaf", 1, leaf))
            continue
        plan.groups.append(Group("branch", path, leaf.kind))
        _held_out(plan, "branch", leaf, pool, facts)
        if leaf.kind == "knowledge" and doc_mc_per_leaf > 0:
            _memorization(plan, leaf, doc_mc_per_leaf)
    if regression:
        _regression(plan, pool, set(chosen), facts)
    if general:
        plan.groups.append(Group("regression", GENERAL_SET, "general"))
        plan.items += general_items(GENERAL_SET)
    return plan


def _memorization(plan: Plan, leaf: LeafData, per_leaf: int) -> None:
    result = cloze_items("memorization", leaf, per_leaf)
    plan.groups.append(Group("memorization", leaf.path, leaf.kind))
    plan.items += result.items
    if len(result.items) < per_leaf:
        plan.skipped.append(
            Skip(
                "memorization",
                leaf.path,
                "doc_mc",
                per_leaf - len(result.items),
                f"only {result.eligible} document sentences with a blankable term",
            )
        )


def _regression(plan: Plan, pool: LeafPool, chosen: set[str], facts: int) -> None:
    untouched = sorted(
        (p for p in pool.files if p not in chosen), key=lambda p: rank_key(REGRESSION_SAMPLE, p)
    )
    taken = unreadable = 0
    for path in untouched:
        if taken == REGRESSION_LEAVES:
            break
        leaf = pool.get(path)
        if isinstance(leaf, str):
            unreadable += 1
            continue
        taken += 1
        plan.groups.append(Group("regression", path, leaf.kind))
        _held_out(plan, "regression", leaf, pool, facts)
    if unreadable:
        plan.skipped.append(
            Skip("regression", REGRESSION_SAMPLE, "leaf", unreadable, "invalid or unreadable leaf")
        )


def general_items(name: str = GENERAL_SET) -> list[Item]:
    """The project's general set: short everyday questions with 3 wrong options each."""
    data = resources.files("trainer.evaluation").joinpath("data", f"{name}.jsonl")
    text = data.read_text("utf-8")
    items = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        options, correct = shuffle_options(rank_key(name, row["id"]), row["answer"], row["wrong"])
        q = row["question"]
        items.append(
            Item(
                "regression", name, "qa", q, q, row["answer"], q, options, correct,
                short=True, origin="general", source=f"general:{row['id']}",
            )
        )  # fmt: skip
    return items
