"""Packing: rows respect capacity, and packed logits equal unpacked ones on a real model under
every attention setting the trainer offers (or a clear refusal where one cannot run)."""

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
from trainer.train.config import TrainConfig
from trainer.train.loop import forward_logits
from trainer.train.session import TrainError, load_for_training


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
    # Positions restart at every example; each pad is a one-token "example" of its own.
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1], [0, 1, 0, 0, 0]]
    # An example's first token is never a target, whatever its own labels said.
    assert batch.labels.tolist() == [[IGNORE, 6, 7, IGNORE, 9], [IGNORE, 9] + [IGNORE] * 3]
    # No hand-made mask: the attention implementation builds its own from the positions.
    assert batch.attention_mask is None
    assert batch.tokens == 7 and batch.processed_tokens == 10 and batch.trained_tokens == 4


def test_padded_baseline_counts_padding() -> None:
    batch = collate_padded([example([5, 6, 7], 1), example([8], 0)], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.attention_mask is not None
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.tokens == 4 and batch.processed_tokens == 6


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(Path(tmp_path_factory.mktemp("tiny")))


LENGTHS = (37, 12, 50, 9, 1, 30)


def packed_vs_alone(model: Any, rows_per_batch: int) -> tuple[float, float]:
    """(largest |packed - alone| logit over every example, the same without restarts): the
    trainer's own forward (forward_logits) on packed rows, against each example run alone."""
    gen = torch.Generator().manual_seed(0)
    examples = [example(torch.randint(3, 300, (n,), generator=gen).tolist(), 1) for n in LENGTHS]
    rows = [[examples[i] for i in row] for row in pack(LENGTHS, 64)]
    assert any(len(row) > 1 for row in rows)
    device = next(model.parameters()).device
    worst = leak = 0.0
    with torch.no_grad():
        for at in range(0, len(rows), rows_per_batch):
            group = rows[at : at + rows_per_batch]
            batch = collate(group, pad_id=0)
            packed = forward_logits(model, batch, device).float().cpu()
            # The same rows read as one sequence each: what packing without boundaries sees.
            flat = batch._replace(
                position_ids=torch.arange(batch.input_ids.shape[1]).expand_as(batch.input_ids)
            )
            leaky = forward_logits(model, flat, device).float().cpu()
            for r, row in enumerate(group):
                start = 0
                for ex in row:
                    k = len(ex.input_ids)
                    alone = (
                        model(
                            input_ids=torch.tensor([ex.input_ids], device=device), use_cache=False
                        )
                        .logits[0]
                        .float()
                        .cpu()
                    )
                    worst = max(worst, (packed[r, start : start + k] - alone).abs().max().item())
                    if start:
                        got = leaky[r, start : start + k]
                        leak = max(leak, (got - alone).abs().max().item())
                    start += k
    return worst, leak


@pytest.mark.parametrize("attention", ["sdpa", "eager", "auto"])
@pytest.mark.parametrize("rows_per_batch", [1, 3])
def test_packed_logits_equal_unpacked_ones(
    tiny_path: Path, attention: str, rows_per_batch: int
) -> None:
    cfg = TrainConfig(attention=attention, micro_batch_rows=rows_per_batch)  # type: ignore[arg-type]
    model = load_for_training(tiny_path, cfg).eval()
    implementation = "sdpa" if attention == "auto" else attention  # no flash-attention here
    assert model.config._attn_implementation == implementation
    worst, leak = packed_vs_alone(model, rows_per_batch)
    assert worst < 1e-4, f"{attention}: packed logits differ from unpacked by {worst}"
    assert leak > 1e-2  # the check can fail: without boundaries, examples see each other


def test_varlen_without_flash_attention_is_refused_by_name(tiny_path: Path) -> None:
    if flash_available():
        pytest.skip("flash-attention is available here: tested below")
    cfg = TrainConfig(attention="varlen")
    with pytest.raises(TrainError) as err:
        load_for_training(tiny_path, cfg)
    why = "flash-attn is not installed" if torch.cuda.is_available() else "no CUDA GPU"
    assert str(err.value) == (
        f"train.attention: varlen needs flash-attention on a CUDA GPU ({why}); "
        "use attention: auto, sdpa or eager"
    )
    # A flattened row is the only batch the varlen kernel splits at the restarts.
    with pytest.raises(ValueError, match="varlen packs one row per forward pass"):
        TrainConfig(attention="varlen", micro_batch_rows=2)


def flash_available() -> bool:
    from transformers.utils import is_flash_attn_2_available, is_flash_attn_3_available

    return bool(is_flash_attn_2_available() or is_flash_attn_3_available())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_packed_logits_equal_unpacked_ones_under_varlen_on_gpu(tiny_path: Path) -> None:
    if not flash_available():
        pytest.skip("needs flash-attn")
    model = load_for_training(tiny_path, TrainConfig(attention="varlen")).cuda().eval()
    assert str(model.config._attn_implementation).startswith("flash_attention")
    with torch.autocast("cuda", dtype=torch.bfloat16):  # flash-attention runs in bf16
        worst, leak = packed_vs_alone(model, 1)
    assert worst < 2e-2 and leak > 0.5  # bf16 rounding, not leakage (that is ~30)
