"""The SFT loop on a tiny Llama: the loss falls, packing changes nothing but speed,
checkpoints load as Hugging Face models, and a killed phase resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.trainer.train.conftest import write_rows
from trainer.data.pack import collate, collate_padded
from trainer.train.checkpoint import checkpoints
from trainer.train.config import TrainConfig
from trainer.train.loop import LOG, PhaseJob, StepEvent, TrainError, _loss_sum, read_examples
from trainer.train.loop import train_phase as run

FAST = TrainConfig(
    batch_size=4, max_tokens=128, pack_tokens=128, micro_batch_rows=1, lr=1e-3, warmup_steps=1
)


def job(base: Path, tmp: Path, config: TrainConfig = FAST, **kw: Any) -> PhaseJob:
    data = kw.pop("data", None) or write_rows(tmp / "data.jsonl", 24)
    return PhaseJob("knowledge", base, data, tmp / "out", config, **kw)


def test_loss_falls_and_the_summary_adds_up(tiny_base: Path, tmp_path: Path) -> None:
    losses: list[float] = []
    result = run(
        job(tiny_base, tmp_path, TrainConfig(**{**FAST.__dict__, "epochs": 3})),
        on_step=lambda e: losses.append(e.loss),
    )
    assert result.steps == len(losses) >= 6  # rows of packed samples, >= 4 samples a step
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3
    assert result.samples == 72 and result.final_loss == losses[-1]
    assert result.tokens == result.processed_tokens > 0  # one row per micro-batch: no padding
    log = [json.loads(line) for line in (tmp_path / "out" / LOG).read_text().splitlines()]
    assert [row["step"] for row in log] == list(range(1, result.steps + 1))
    seen = [i for row in log for i in row["samples"]]
    assert sorted(seen) == sorted(list(range(24)) * 3)  # every sample once per epoch


def test_a_checkpoint_is_a_hugging_face_model(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = run(job(tiny_base, tmp_path))
    path = Path(result.checkpoint)
    assert (path / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(path)
    assert AutoTokenizer.from_pretrained(path).chat_template
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    changed = any(
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), base.state_dict().values(), strict=True)
    )
    assert changed


def test_packed_and_padded_batches_give_the_same_loss(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    examples, _, _, _ = read_examples(write_rows(tmp_path / "d.jsonl", 6), tok, 128)
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    with torch.no_grad():
        packed = _loss_sum(model, collate([examples[:3], examples[3:]], 0), torch.device("cpu"))
        padded = _loss_sum(model, collate_padded(examples, 0), torch.device("cpu"))
    assert abs(packed.item() - padded.item()) < 1e-3 * abs(padded.item())


class Kill(Exception):
    pass


def test_resume_after_a_kill_continues_the_same_data_order(tiny_base: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(**{**FAST.__dict__, "epochs": 2, "save_every": 2})
    data = write_rows(tmp_path / "data.jsonl", 20)
    whole = run(PhaseJob("k", tiny_base, data, tmp_path / "whole", cfg))

    def kill_at_step_5(event: StepEvent) -> None:
        if event.step == 5:  # after checkpoint 4: step 5 is lost work
            raise Kill

    with pytest.raises(Kill):
        run(PhaseJob("k", tiny_base, data, tmp_path / "cut", cfg), on_step=kill_at_step_5)
    assert [c.meta.step for c in checkpoints(tmp_path / "cut")][-1] == 4
    resumed = run(PhaseJob("k", tiny_base, data, tmp_path / "cut", cfg, resume=True))

    def log(out: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (tmp_path / out / LOG).read_text().splitlines()]

    assert [r["samples"] for r in log("cut")] == [r["samples"] for r in log("whole")]
    assert [r["loss"] for r in log("cut")] == pytest.approx([r["loss"] for r in log("whole")])
    assert resumed.samples == whole.samples and resumed.steps == whole.steps
    from safetensors.torch import load_file

    a = load_file(Path(whole.checkpoint) / "model.safetensors")
    b = load_file(Path(resumed.checkpoint) / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_refuses_changed_data_and_a_rerun_without_resume(
    tiny_base: Path, tmp_path: Path
) -> None:
    data = write_rows(tmp_path / "data.jsonl", 8)
    run(job(tiny_base, tmp_path, data=data))
    with pytest.raises(TrainError, match="resume=True"):
        run(job(tiny_base, tmp_path, data=data))
    write_rows(data, 9)
    with pytest.raises(TrainError, match="changed"):
        run(job(tiny_base, tmp_path, data=data, resume=True))


def test_bad_rows_are_located(tiny_base: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", 2)
    data.write_text(data.read_text() + '{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(TrainError, match=r"data.jsonl:3: .*end with an assistant"):
        run(job(tiny_base, tmp_path, data=data))
    data.write_text("{oops\n")
    with pytest.raises(TrainError, match=r"data.jsonl:1: .*not JSON"):
        run(job(tiny_base, tmp_path, data=data))


def test_too_long_rows_are_dropped_and_counted(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    data = write_rows(tmp_path / "data.jsonl", 24)
    examples, _, _, _ = read_examples(data, AutoTokenizer.from_pretrained(tiny_base), 1000)
    lengths = sorted(len(e.input_ids) for e in examples)
    assert lengths[0] < lengths[-1]
    cfg = TrainConfig(**{**FAST.__dict__, "max_tokens": lengths[-1] - 1})
    result = run(job(tiny_base, tmp_path, cfg, data=data))
    assert result.dropped_too_long == lengths.count(lengths[-1])


def test_lora_trains_adapters_only_and_saves_a_merged_model(
    tiny_base: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    cfg = TrainConfig(**{**FAST.__dict__, "lora": True, "lora_r": 4, "epochs": 2})
    losses: list[float] = []
    result = run(job(tiny_base, tmp_path, cfg), on_step=lambda e: losses.append(e.loss))
    assert losses[-1] < losses[0]
    path = Path(result.checkpoint)
    assert (path / "adapter" / "adapter_config.json").is_file()
    merged = load_file(path / "model.safetensors")
    base = load_file(tiny_base / "model.safetensors")
    assert set(merged) == set(base)  # a plain model: no lora_A/lora_B keys
    changed = {k for k in base if not torch.equal(base[k], merged[k])}
    assert changed and all(k.endswith("proj.weight") for k in changed)  # linear layers only


def test_a_small_phase_trains_enough_short_answers_first_and_says_per_leaf(
    tiny_base: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    data = write_rows(tmp_path / "data.jsonl", 8)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    for i, row in enumerate(rows):  # two new rows among six replayed ones
        row["metadata"] = {"leaf": "knowledge/new" if i < 2 else "knowledge/old"}
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples, leaves, _, _ = read_examples(data, AutoTokenizer.from_pretrained(tiny_base), 128)
    assert leaves == [r["metadata"]["leaf"] for r in rows]
    cut = min(e.trained_tokens for e in examples)  # the answers without " red" are short
    short = {i for i, e in enumerate(examples) if e.trained_tokens <= cut}
    assert 0 < len(short) < 8
    cfg = TrainConfig(**{**FAST.__dict__, "min_steps": 6, "short_tokens": cut, "warmup_steps": 5})
    result = run(job(tiny_base, tmp_path, cfg, data=data, short_then_long=True))
    assert result.steps >= 6 and result.epochs == 3  # 8 rows make 2-3 steps an epoch
    new = result.leaves["knowledge/new"]
    assert (new["rows"], new["seen"]) == (2, 6)
    assert new["full_rate_steps"] == new["steps"] >= 3  # no warm-up in under 10 steps
    assert result.leaves["knowledge/old"]["seen"] == 18
    log = [json.loads(line) for line in (tmp_path / "out" / LOG).read_text().splitlines()]
    order = [i for row in log for i in row["samples"]]
    assert set(order[: 3 * len(short)]) == short  # every short epoch before any long one
