"""QLoRA (`train.quantize: 4bit`): a 4-bit NF4 base through bitsandbytes with LoRA adapters.
Trained where a CUDA GPU and bitsandbytes are present; elsewhere refused in one clear line,
before any data is mixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import run_bot
from tests.trainer.train.conftest import write_rows
from tests.trainer.train.test_train_cli import LEAVES, export
from trainer.train.config import TrainConfig
from trainer.train.loop import PhaseJob, TrainError, train_phase


def qlora_ready() -> bool:
    from transformers.utils import is_bitsandbytes_available

    return torch.cuda.is_available() and is_bitsandbytes_available()


QLORA = TrainConfig(
    batch_size=4,
    max_tokens=128,
    lr=1e-3,
    warmup_steps=0,
    epochs=2,
    packing=False,  # one example per row: 4 steps an epoch
    lora=True,
    quantize="4bit",
)


def test_4bit_needs_lora() -> None:
    with pytest.raises(ValueError, match=r"^train\.quantize: 4bit trains LoRA adapters; set lora"):
        TrainConfig(quantize="4bit")


@pytest.mark.skipif(qlora_ready(), reason="this machine can train QLoRA: tested below")
def test_4bit_without_a_gpu_is_a_clear_message(tiny_base: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "d.jsonl", 8)
    with pytest.raises(TrainError) as err:
        train_phase(PhaseJob("knowledge", tiny_base, data, tmp_path / "out", QLORA))
    assert str(err.value).startswith("train.quantize: 4bit (QLoRA) needs a CUDA GPU")
    assert "use quantize: none" in str(err.value)
    assert not (tmp_path / "out").exists()

    # Through the CLI: one line, exit 1, no traceback, nothing mixed or trained.
    (tmp_path / ".git").mkdir()
    (tmp_path / "bot.yaml").write_text("train:\n  lora: true\n  quantize: 4bit\n")
    export(tmp_path / ".bot", LEAVES)
    out = tmp_path / "run"
    done = run_bot("train", "--base-model", str(tiny_base), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert "train.quantize: 4bit (QLoRA) needs a CUDA GPU" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (out / "mix").exists()


@pytest.mark.skipif(not qlora_ready(), reason="needs a CUDA GPU and bitsandbytes")
def test_qlora_trains_adapters_on_a_4bit_base(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    data = write_rows(tmp_path / "d.jsonl", 16)
    result = train_phase(PhaseJob("knowledge", tiny_base, data, tmp_path / "out", QLORA))
    assert result.steps == 8
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").open()]
    assert log[-1]["loss"] < log[0]["loss"]
    folder = Path(result.checkpoint)
    assert (folder / "adapter" / "adapter_config.json").is_file()
    # The checkpoint is a plain full-precision model: the next phase and benchmarks load it.
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    trained = AutoModelForCausalLM.from_pretrained(folder).state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_base).state_dict()
    moved = [k for k in base if not torch.equal(base[k], trained[k])]
    assert moved and all("proj" in k for k in moved)  # only the adapted linear layers
