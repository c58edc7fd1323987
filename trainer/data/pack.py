"""Sequence packing: many short examples share one row, without seeing each other.

Examples are placed into rows of at most `capacity` tokens by best-fit decreasing, which
on generated data fills rows to well over 95%. Rows are kept short (512 tokens by default):
attention cost grows with the square of the row, and on a CPU a 1,024-token row trains
~25% slower per token than 512-token rows (measured on SmolLM2-135M).

A packed row's position ids restart at every example, and the batch carries no attention
mask: run without a KV cache (`use_cache=False`, as training does), transformers reads each
restart as an example boundary. For `sdpa` and `eager` it builds the block-diagonal causal
mask itself, in the form each one takes (a boolean mask for sdpa, an additive one for
eager); flash-attention's variable-length kernel splits the row at the restarts. One batch
format thus serves every attention implementation, and each example attends only to
itself (tests/trainer/data/test_pack.py compares packed with unpacked logits under each).
A hand-made boolean mask is what this replaced: eager attention adds it to the scores
(True as +1), losing causality. Padding (only with several rows per micro-batch) restarts
at every token, so a pad attends to itself alone and is never a target.

`collate_padded` is the baseline packing is measured against: one example per row, rows
padded to the longest in the micro-batch.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import NamedTuple

import torch

from trainer.data.render import IGNORE, Rendered


def pack(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of examples grouped into rows of at most `capacity` tokens (best-fit
    decreasing; ties broken by index, so the result is deterministic). An example longer
    than a row gets a row of its own."""
    if capacity < 1:
        raise ValueError("capacity must be >= 1")
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (free tokens, row index), sorted
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        n = lengths[i]
        at = bisect.bisect_left(free, (n, -1))
        if at == len(free):
            rows.append([i])
            if n < capacity:
                bisect.insort(free, (capacity - n, len(rows) - 1))
            continue
        room, row = free.pop(at)
        rows[row].append(i)
        if room > n:
            bisect.insort(free, (room - n, row))
    return rows


class Batch(NamedTuple):
    """One forward pass worth of tokens; `tokens` counts real (non-padding) tokens."""

    input_ids: torch.Tensor  # (rows, T)
    labels: torch.Tensor  # (rows, T), IGNORE where no loss applies
    position_ids: torch.Tensor  # (rows, T)
    attention_mask: torch.Tensor | None  # (rows, T) for the padded baseline; None when packed
    tokens: int
    trained_tokens: int

    @property
    def processed_tokens(self) -> int:
        return int(self.input_ids.numel())


def collate(rows: Sequence[Sequence[Rendered]], pad_id: int) -> Batch:
    """Packed rows (each a list of examples) into one batch."""
    width = max(sum(len(ex.input_ids) for ex in row) for row in rows)
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), IGNORE, dtype=torch.long)
    pos = torch.zeros((n, width), dtype=torch.long)  # padding: 0 at every token
    real = 0
    for r, row in enumerate(rows):
        at = 0
        for ex in row:
            k = len(ex.input_ids)
            ids[r, at : at + k] = torch.tensor(ex.input_ids)
            labels[r, at : at + k] = torch.tensor(ex.labels)
            # An example's first token is never a target: it would be "predicted" from
            # the end of the previous example in the row.
            labels[r, at] = IGNORE
            pos[r, at : at + k] = torch.arange(k)
            at += k
        real += at
    return Batch(ids, labels, pos, None, real, int((labels != IGNORE).sum()))


def collate_padded(examples: Sequence[Rendered], pad_id: int) -> Batch:
    """The unpacked baseline: one example per row, padded on the right."""
    width = max(len(ex.input_ids) for ex in examples)
    n = len(examples)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), IGNORE, dtype=torch.long)
    attn = torch.zeros((n, width), dtype=torch.long)
    for r, ex in enumerate(examples):
        k = len(ex.input_ids)
        ids[r, :k] = torch.tensor(ex.input_ids)
        labels[r, :k] = torch.tensor(ex.labels)
        attn[r, :k] = 1
    pos = (attn.cumsum(1) - 1).clamp(min=0)
    return Batch(ids, labels, pos, attn, int(attn.sum()), int((labels != IGNORE).sum()))
