"""No library deprecation warnings from our calls: generation passes the KV cache under the
name the installed transformers takes, and the one warning raised inside peft is silenced
at that call only."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from trainer.models import GenerationParams, load_model
from trainer.train.config import TrainConfig
from trainer.train.loop import with_lora


def _library_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    kinds = (DeprecationWarning, FutureWarning, PendingDeprecationWarning)
    return [str(w.message) for w in caught if issubclass(w.category, kinds)]


def test_generation_raises_no_deprecation_warning(tiny_base: Path) -> None:
    with load_model(f"hf:{tiny_base}") as model, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [reply] = model.generate(
            [[{"role": "user", "content": "What is the capital of France?"}]],
            GenerationParams(max_new_tokens=4),
        )
    assert reply.completion_tokens >= 1
    assert _library_warnings(caught) == []


def test_lora_silences_only_peft_s_own_read(tiny_base: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32)
    cfg = TrainConfig(lora=True, lora_r=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrapped = with_lora(model, cfg)
    assert _library_warnings(caught) == []
    assert wrapped.num_parameters(only_trainable=True) > 0
    # The filter does not outlive the call: our own read of the old name still warns.
    if hasattr(type(model), "is_activation_checkpointing"):
        with pytest.warns(FutureWarning, match="is_gradient_checkpointing"):
            _ = model.is_gradient_checkpointing
