"""Checkpoint chooser for the trainer: pick a phase's checkpoint by benchmark, as LAB did.

LAB chose the knowledge phases' checkpoint by MMLU and the skills phase's by MT-Bench. Here
the items are the validation split of the generated data (rows never trained on), never
the held-out items a benchmark reports, so choosing cannot tune on what is reported:

- knowledge phase: the knowledge leaves' validation rows (suite "branch");
- skills phase: the skill leaves' validation rows (branch) plus the knowledge leaves'
  (suite "regression"), so a checkpoint that learnt the skills by forgetting the rest loses.

Objective (lower wins): the mean per-token NLL of the reference answers, averaged over the
phase's suites with equal weight; NLL is the most sensitive of the metrics on a few dozen
items and needs no generation. Ties (within 1e-9) go to the higher mean multiple-choice
accuracy, then to the earlier checkpoint (less drift from the base).

    choice = choose_checkpoint([ckpt1, ckpt2], "skills", items)
    choice.best, choice.table            # the chosen folder, and every checkpoint's scores

`choose(phase, table)` is the pure part; `make_chooser(...)` adapts it to the trainer's
`Chooser = Callable[[str, list[Checkpoint]], Checkpoint]` (anything with a `.path`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from trainer.evaluation.cache import ScoreCache
from trainer.evaluation.compare import item_metrics
from trainer.evaluation.items import Item
from trainer.evaluation.run import ItemScores, ScoreSettings, run_model

PHASE_SUITES: dict[str, tuple[str, ...]] = {
    "knowledge": ("branch",),
    "skills": ("branch", "regression"),
}
CHOOSER_SETTINGS = ScoreSettings(answers=False)


@dataclass(frozen=True)
class CheckpointScore:
    path: Path
    fingerprint: str
    suites: Mapping[str, Mapping[str, float]]  # suite -> metric -> mean over its items
    objective: float  # lower is better

    def accuracy(self, phase: str) -> float:
        values = [
            v
            for s in PHASE_SUITES[phase]
            for m, v in self.suites.get(s, {}).items()
            if m in ("mc_acc", "doc_mc_acc")
        ]
        return statistics.fmean(values) if values else 0.0


@dataclass(frozen=True)
class Choice:
    phase: str
    best: Path
    table: list[CheckpointScore] = field(default_factory=list)  # in the order given


def objective(phase: str, suites: Mapping[str, Mapping[str, float]]) -> float:
    """Mean over the phase's suites of their mean NLL; inf when a suite has no NLL."""
    if phase not in PHASE_SUITES:
        raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASE_SUITES)}")
    values = [suites.get(s, {}).get("nll") for s in PHASE_SUITES[phase]]
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else float("inf")


def choose(phase: str, table: Sequence[CheckpointScore]) -> Choice:
    """The best checkpoint of a scored table (pure: no model, no file)."""
    if not table:
        raise ValueError("no checkpoints to choose from")
    objective(phase, {})  # validates the phase name
    best = min(
        range(len(table)),
        key=lambda i: (round(table[i].objective, 9), -table[i].accuracy(phase), i),
    )
    return Choice(phase, table[best].path, list(table))


def validation_items(rows: Mapping[str, Sequence[Mapping[str, Any]]], suite: str) -> list[Item]:
    """Items from validation rows (leaf -> rows): the row's user turn as the prompt, its
    assistant turn as the reference answer; scored by NLL only."""
    items = []
    for leaf, found in sorted(rows.items()):
        for row in found:
            turns = {m["role"]: m["content"] for m in row["messages"]}
            prompt, answer = turns.get("user", ""), turns.get("assistant", "")
            if prompt and answer:
                items.append(
                    Item(
                        suite, leaf, "qa", prompt, prompt, answer, origin="validation", source=leaf
                    )
                )
    return items


def suite_means(
    items: Sequence[Item], scores: Mapping[str, ItemScores]
) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, list[float]]] = {}
    for item in items:
        for metric, value in item_metrics(item, scores[item.id]).items():
            values.setdefault(item.suite, {}).setdefault(metric, []).append(value)
    return {s: {m: statistics.fmean(v) for m, v in ms.items()} for s, ms in values.items()}


def score_checkpoints(
    checkpoints: Sequence[Path],
    phase: str,
    items: Sequence[Item],
    *,
    cache: ScoreCache | None = None,
    device: str | None = None,
) -> list[CheckpointScore]:
    table = []
    for path in checkpoints:
        run = run_model(f"hf:{path}", items, CHOOSER_SETTINGS, cache=cache, device=device)
        means = suite_means(items, run.scores)
        table.append(CheckpointScore(Path(path), run.fingerprint, means, objective(phase, means)))
    return table


def choose_checkpoint(
    checkpoints: Sequence[Path],
    phase: str,
    items: Sequence[Item],
    *,
    cache: ScoreCache | None = None,
    device: str | None = None,
) -> Choice:
    """Score each checkpoint folder on the phase's items and choose (see module doc)."""
    objective(phase, {})
    if not checkpoints:
        raise ValueError("no checkpoints to choose from")
    if not items:
        raise ValueError(f"no benchmark items for the {phase} phase (no held-out Q&A)")
    return choose(phase, score_checkpoints(checkpoints, phase, items, cache=cache, device=device))


class HasPath(Protocol):
    @property
    def path(self) -> Path: ...


C = TypeVar("C", bound=HasPath)


def make_chooser(
    items_for: Callable[[str], Sequence[Item]],
    *,
    cache: ScoreCache | None = None,
    device: str | None = None,
) -> Callable[[str, list[C]], C]:
    """A chooser in the trainer's shape: (phase name, checkpoints) -> the chosen one.
    `items_for(phase)` gives the items a phase is judged on (the bot builds them)."""

    def chooser(phase: str, found: list[C]) -> C:
        choice = choose_checkpoint(
            [c.path for c in found], phase, items_for(phase), cache=cache, device=device
        )
        return next(c for c in found if c.path == choice.best)

    return chooser
