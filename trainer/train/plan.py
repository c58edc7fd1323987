"""The data order of a phase, fixed before the first step.

Every optimizer step is planned up front as a list of micro-batches, each a list of rows,
each a list of example indices. The plan depends only on the examples' lengths and the
config, and its hash is stored with every checkpoint: a resumed run replays the same plan
from the next step, so no sample is lost or seen twice, and a resume over changed data is
refused instead of silently mixing two orders.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from trainer.data.pack import pack
from trainer.train.config import TrainConfig
from trainer.train.schedule import warmup_steps


@dataclass(frozen=True)
class Step:
    epoch: int
    micro_batches: tuple[tuple[tuple[int, ...], ...], ...]  # micro-batch -> row -> example

    @property
    def examples(self) -> list[int]:
        return [i for mb in self.micro_batches for row in mb for i in row]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    digest: str  # of the steps and the data they index
    epochs: int = 1  # passes over the data (each part's, when short examples go first)

    @property
    def samples(self) -> int:
        return sum(len(s.examples) for s in self.steps)


def _rows(lengths: Sequence[int], group: list[int], config: TrainConfig) -> list[list[int]]:
    """The group's examples packed into rows (or one per row), as indices into `lengths`."""
    if not config.packing:
        return [[i] for i in group]
    packed = pack([lengths[i] for i in group], config.pack_tokens)
    return [[group[k] for k in row] for row in packed]


def _epoch(rows: list[list[int]], label: int, config: TrainConfig) -> list[Step]:
    """One pass over the rows, shuffled by (seed, label), cut into steps of >= batch_size."""
    order = list(rows)
    random.Random(f"{config.seed}:{label}").shuffle(order)
    steps: list[Step] = []
    current: list[tuple[int, ...]] = []
    for row in order:
        current.append(tuple(row))
        if sum(len(r) for r in current) >= config.batch_size:
            steps.append(_step(label, current, config))
            current = []
    if current:
        steps.append(_step(label, current, config))
    return steps


def _steps(groups: list[list[list[int]]], epochs: int, config: TrainConfig) -> list[Step]:
    """Every epoch of the first group, then of the next; labels tell each pass apart."""
    return [
        step
        for g, rows in enumerate(groups)
        for epoch in range(epochs)
        for step in _epoch(rows, g * epochs + epoch, config)
    ]


def make_plan(
    lengths: Sequence[int], config: TrainConfig, data_digest: str, short: Sequence[bool] = ()
) -> Plan:
    """Rows shuffled per epoch (seeded), grouped into steps of >= batch_size samples.

    Examples marked in `short` train first, every epoch of them, then the rest (LAB's
    short-then-long knowledge phase); each part's epochs are labelled apart, so each ends
    in a checkpoint.
    """
    everything = list(range(len(lengths)))
    if short:
        parts = [[i for i in everything if short[i] == first] for first in (True, False)]
    else:
        parts = [everything]
    groups = [_rows(lengths, g, config) for g in parts if g]
    epochs = config.epochs
    steps = _steps(groups, epochs, config)
    while len(steps) < config.min_steps and epochs < config.max_epochs:
        epochs += 1  # a step's row count varies with the order: count, do not estimate
        steps = _steps(groups, epochs, config)
    if config.max_steps is not None:
        steps = steps[: config.max_steps]
    body = json.dumps(
        [data_digest, [[s.epoch, s.micro_batches] for s in steps]], separators=(",", ":")
    )
    return Plan(tuple(steps), hashlib.sha256(body.encode()).hexdigest(), epochs)


def _step(epoch: int, rows: list[tuple[int, ...]], config: TrainConfig) -> Step:
    k = config.micro_batch_rows
    return Step(epoch, tuple(tuple(rows[i : i + k]) for i in range(0, len(rows), k)))


def leaf_exposure(
    plan: Plan, leaves: Sequence[str], config: TrainConfig
) -> dict[str, dict[str, int]]:
    """Per leaf: its rows, how many times the plan trains them, in how many steps, and in
    how many of those past the warm-up (at the full rate): what a merged leaf really got."""
    found: dict[str, dict[str, int]] = {}
    for leaf in leaves:
        entry = found.setdefault(leaf, {"rows": 0, "seen": 0, "steps": 0, "full_rate_steps": 0})
        entry["rows"] += 1
    warmup = warmup_steps(config.warmup_steps, len(plan.steps))
    for n, step in enumerate(plan.steps):
        for leaf, count in Counter(leaves[i] for i in step.examples).items():
            found[leaf]["seen"] += count
            found[leaf]["steps"] += 1
            found[leaf]["full_rate_steps"] += n >= warmup
    return found
