"""Checkpoint saving: accelerate's note about a tied model's shared tensor is not printed
on every save, and nothing else it logs is hidden."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from trainer.train.checkpoint import (
    ACCELERATE_SAVE_LOGGER,
    SHARED_TENSOR_NOTE,
    CheckpointMeta,
    checkpoints,
    save,
)


def test_saving_a_tied_model_does_not_warn_about_its_shared_tensor(
    tiny_base: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from accelerate import Accelerator
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_base)
    config.tie_word_embeddings = True  # as SmolLM2, the embedded model
    model = AutoModelForCausalLM.from_config(config)
    accelerator = Accelerator(cpu=True)
    model, _ = accelerator.prepare(model, torch.optim.AdamW(model.parameters()))
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)

    def notes() -> list[str]:
        return [r.getMessage() for r in caplog.records if SHARED_TENSOR_NOTE in r.getMessage()]

    with caplog.at_level(logging.WARNING):
        accelerator.save_state(str(tmp_path / "bare"))  # accelerate's own save says it
        assert notes(), "accelerate no longer warns: the filter in checkpoint.py can go"
        caplog.clear()
        for step in (1, 2):
            meta = CheckpointMeta(step, 0, 0, 0, 0.0, "plan")
            save(tmp_path / "run", meta, model, tokenizer, accelerator, keep=2)
        assert notes() == []
        logging.getLogger(ACCELERATE_SAVE_LOGGER).warning("something else")
    assert [c.meta.step for c in checkpoints(tmp_path / "run")] == [1, 2]
    assert "something else" in caplog.text  # only that message, only while saving
    assert not logging.getLogger(ACCELERATE_SAVE_LOGGER).filters
