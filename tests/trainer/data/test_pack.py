"""Packing: rows respect capacity, and packed logits equal unpacked ones on a real model."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tiny import build_tiny_model
from trainer.data.pack import collate, collate_padded, pack
from trainer.data.render import IGNORE, Rendered


@given(st.lists(st.integers(1, 64), max_size=60), st.integers(64, 200))
@settings(max_examples=200, deadline=None)
def test_every_example_lands_in_exactly_one_row_within_capacity(
    lengths: list[int], capacity: int
) -> None:
    rows = pack(lengths, capacity)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= capacity or len(row) == 1 for row in rows)
    assert rows == pack(lengths, capacity)  # deterministic
    # Best-fit never leaves two rows that could have been one.
    sizes = sorted(sum(lengths[i] for i in row) for row in rows)
    assert len(sizes) < 2 or sizes[0] + sizes[1] > capacity


def test_best_fit_decreasing_fills_rows() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(40, 400) for _ in range(500)]
    rows = pack(lengths, 1024)
    assert sum(lengths) / (len(rows) * 1024) > 0.97


def test_an_example_longer_than_a_row_gets_a_row_of_its_own() -> None:
    assert pack([5, 20, 4], 10) == [[1], [0, 2]]


def example(ids: list[int], first_trained: int) -> Rendered:
    return Rendered(ids, [IGNORE] * first_trained + ids[first_trained:])


def test_collate_restarts_positions_and_never_trains_across_examples() -> None:
    a, b = example([5, 6, 7], 0), example([8, 9], 1)
    batch = collate([[a, b], [b]], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 9], [8, 9, 0, 0, 0]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1], [0, 1, 0, 0, 0]]
    # An example's first token is never a target, whatever its own labels said.
    assert batch.labels.tolist() == [[IGNORE, 6, 7, IGNORE, 9], [IGNORE, 9] + [IGNORE] * 3]
    mask = batch.attention_mask
    assert mask is not None and mask.shape == (2, 1, 5, 5)
    assert mask[0, 0].int().tolist() == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 1, 1],
    ]
    assert batch.tokens == 7 and batch.processed_tokens == 10 and batch.trained_tokens == 4


def test_padded_baseline_counts_padding() -> None:
    batch = collate_padded([example([5, 6, 7], 1), example([8], 0)], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.attention_mask is not None
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.tokens == 4 and batch.processed_tokens == 6


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoModelForCausalLM

    path = build_tiny_model(Path(tmp_path_factory.mktemp("tiny")))
    return AutoModelForCausalLM.from_pretrained(path).eval()


def test_packed_logits_equal_unpacked_ones(tiny_model: Any) -> None:
    gen = torch.Generator().manual_seed(0)
    examples = [
        example(torch.randint(3, 300, (n,), generator=gen).tolist(), 1) for n in (37, 12, 50, 9)
    ]
    rows = [[examples[i] for i in row] for row in pack([37, 12, 50, 9], 64)]
    batch = collate(rows, pad_id=0)
    with torch.no_grad():
        packed = tiny_model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
        ).logits
        at = {
            id(ex): (r, sum(len(e.input_ids) for e in row[:k]))
            for r, row in enumerate(rows)
            for k, ex in enumerate(row)
        }
        worst = 0.0
        for ex in examples:
            alone = tiny_model(input_ids=torch.tensor([ex.input_ids])).logits[0]
            r, start = at[id(ex)]
            got = packed[r, start : start + len(ex.input_ids)]
            worst = max(worst, (got - alone).abs().max().item())
        # Without the block mask, restarting position ids alone leaks across examples.
        leaky = tiny_model(input_ids=batch.input_ids, position_ids=batch.position_ids).logits
    assert worst < 1e-4
    assert any(
        (leaky[r, s : s + len(ex.input_ids)] - packed[r, s : s + len(ex.input_ids)]).abs().max()
        > 1e-3
        for ex in examples
        for r, s in [at[id(ex)]]
        if s > 0
    )
