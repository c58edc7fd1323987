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
from collections.abc import Sequence
from dataclasses import dataclass

from trainer.data.pack import pack
from trainer.train.config import TrainConfig


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

    @property
    def samples(self) -> int:
        return sum(len(s.examples) for s in self.steps)


def _rows(lengths: Sequence[int], config: TrainConfig) -> list[list[int]]:
    if config.packing:
        return pack(lengths, config.pack_tokens)
    return [[i] for i in range(len(lengths))]


def make_plan(lengths: Sequence[int], config: TrainConfig, data_digest: str) -> Plan:
    """Rows shuffled per epoch (seeded), grouped into steps of >= batch_size samples."""
    rows = _rows(lengths, config)
    steps: list[Step] = []
    for epoch in range(config.epochs):
        order = list(rows)
        random.Random(f"{config.seed}:{epoch}").shuffle(order)
        current: list[tuple[int, ...]] = []
        for row in order:
            current.append(tuple(row))
            if sum(len(r) for r in current) >= config.batch_size:
                steps.append(_step(epoch, current, config))
                current = []
        if current:
            steps.append(_step(epoch, current, config))
        if config.max_steps is not None and len(steps) >= config.max_steps:
            steps = steps[: config.max_steps]
            break
    body = json.dumps(
        [data_digest, [[s.epoch, s.micro_batches] for s in steps]], separators=(",", ":")
    )
    return Plan(tuple(steps), hashlib.sha256(body.encode()).hexdigest())


def _step(epoch: int, rows: list[tuple[int, ...]], config: TrainConfig) -> Step:
    k = config.micro_batch_rows
    return Step(epoch, tuple(tuple(rows[i : i + k]) for i in range(0, len(rows), k)))
