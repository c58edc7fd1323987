"""The suites: which items a benchmark asks, built from a selection of leaves.

- branch: every selected (changed) leaf's held-out seed Q&A, plus document items for
  knowledge leaves (cloze.py).
- regression (forgetting): the `regression-v1` sample of the untouched leaves' held-out
  Q&A, plus the project's general set `general-v1` (trainer/evaluation/data/general-v1.jsonl).

The regression sample is fixed by its name: untouched leaves are ranked by
sha256("regression-v1", taxonomy path), the first REGRESSION_LEAVES of them that have
held-out examples are taken, and of each the REGRESSION_PER_LEAF held-out examples ranked
lowest by sha256("regression-v1", path, question). Changing any of these is a new version.
Whatever cannot be built (a leaf without held-out examples, an item without three distinct
distractors, too few document sentences, an unreadable leaf) is counted, never invented.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Protocol

from trainer.evaluation.cloze import cloze_items
from trainer.evaluation.items import Item, answers, qa_item, rank_key, shuffle_options
from trainer.leaves import LeafData, SeedExample

REGRESSION_SAMPLE = "regression-v1"
REGRESSION_LEAVES = 40
REGRESSION_PER_LEAF = 2
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


class LeafPool:
    """Every leaf of the taxonomy by taxonomy path, read on first use."""

    def __init__(self, source: LeafSource) -> None:
        self.source = source
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


def _qa(
    plan: Plan, suite: str, leaf: LeafData, examples: Sequence[SeedExample], pool: LeafPool
) -> None:
    no_mc = 0
    for ex in examples:
        item = qa_item(suite, leaf, ex, lambda: pool.tiers(leaf))
        plan.items.append(item)
        no_mc += not item.has_mc
    if no_mc:
        plan.skipped.append(
            Skip(suite, leaf.path, "mc", no_mc, "fewer than 3 distinct distractor answers")
        )


def build(
    selected: Sequence[str],
    source: LeafSource,
    *,
    doc_mc_per_leaf: int = DEFAULT_DOC_MC_PER_LEAF,
    regression: bool = True,
    general: bool = True,
) -> Plan:
    """Items of the branch suite (the selected leaves' taxonomy paths) and the regression
    suite (the source's other leaves)."""
    pool = LeafPool(source)
    chosen = [pool.add(p) for p in selected]
    plan = Plan()
    for path in dict.fromkeys(chosen):
        leaf = pool.get(path)
        if isinstance(leaf, str):
            plan.skipped.append(Skip("branch", path, "leaf", 1, leaf))
            continue
        plan.groups.append(Group("branch", path, leaf.kind))
        if not leaf.heldout:
            n = len(leaf.seeds)
            plan.skipped.append(
                Skip("branch", path, "qa", 0, f"{n} seed Q&A, none held out (needs 4 or more)")
            )
        _qa(plan, "branch", leaf, leaf.heldout, pool)
        if leaf.kind == "knowledge" and doc_mc_per_leaf > 0:
            result = cloze_items("branch", leaf, doc_mc_per_leaf)
            plan.items += result.items
            if len(result.items) < doc_mc_per_leaf:
                plan.skipped.append(
                    Skip(
                        "branch",
                        path,
                        "doc_mc",
                        doc_mc_per_leaf - len(result.items),
                        f"only {result.eligible} document sentences with a blankable term",
                    )
                )
    if regression:
        _regression(plan, pool, set(chosen))
    if general:
        plan.groups.append(Group("regression", GENERAL_SET, "general"))
        plan.items += general_items(GENERAL_SET)
    return plan


def _regression(plan: Plan, pool: LeafPool, chosen: set[str]) -> None:
    untouched = sorted(
        (p for p in pool.files if p not in chosen), key=lambda p: rank_key(REGRESSION_SAMPLE, p)
    )
    taken = unreadable = empty = 0
    for path in untouched:
        if taken == REGRESSION_LEAVES:
            break
        leaf = pool.get(path)
        if isinstance(leaf, str):
            unreadable += 1
            continue
        if not leaf.heldout:
            empty += 1
            continue
        taken += 1
        plan.groups.append(Group("regression", path, leaf.kind))
        examples = sorted(leaf.heldout, key=lambda e: rank_key(REGRESSION_SAMPLE, path, e.question))
        _qa(plan, "regression", leaf, examples[:REGRESSION_PER_LEAF], pool)
    if empty:
        plan.skipped.append(
            Skip(
                "regression",
                REGRESSION_SAMPLE,
                "qa",
                empty,
                "untouched leaves with no held-out Q&A",
            )
        )
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
            Item("regression", name, "qa", q, q, row["answer"], q, options, correct, short=True)
        )
    return items
