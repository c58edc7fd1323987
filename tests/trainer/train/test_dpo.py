"""SPIN-style pairs and the DPO phase (TRL's DPOTrainer) on a tiny Llama: pairs reject the
model's own replies, training widens the reward margin while the chosen replies' likelihood
rises on held-out pairs (the RPO term; plain DPO lowers it), LoRA trains adapters only, and a
killed phase resumes to the same weights."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.trainer.train.conftest import conversation
from trainer.data.rows import DataError
from trainer.models import ChatModel, Conversation, Generation, GenerationParams, load_model
from trainer.train.checkpoint import checkpoints
from trainer.train.config import TrainConfig
from trainer.train.dpo import TRAINER, DPOJob, DPOStepEvent, dpo_trainer, read_pair_rows, train_dpo
from trainer.train.loop import LOG, TrainError
from trainer.train.pairs import (
    Pair,
    PairConfig,
    build_pairs,
    read_pairs,
    read_sft_rows,
    write_pairs,
)

FAST = TrainConfig(batch_size=4, max_tokens=128, dpo_lr=1e-3, warmup_steps=1, epochs=3)
PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def tiny_chat(tiny_base: Path) -> Any:
    with load_model(f"hf:{tiny_base}", device="cpu") as model:
        yield model


def sft_rows(n: int) -> list[dict[str, Any]]:
    return [{**conversation(i), "metadata": {"leaf": f"knowledge/l{i % 2}"}} for i in range(n)]


def greedy(model: ChatModel, prompt: Conversation) -> str:
    (reply,) = model.generate([prompt], GenerationParams(max_new_tokens=8))
    return reply.text.strip()


def test_only_the_final_reply_is_a_completion(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    prompt = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Rivers flow into the sea."},  # context, not scored
        {"role": "user", "content": "Name three colours"},
    ]
    data = tmp_path / "pairs.jsonl"
    write_pairs(data, [Pair(prompt, "red, green and blue", "The fox")])
    rows = read_pair_rows(data, tok, 128).rows
    trainer = dpo_trainer(DPOJob("dpo", tiny_base, data, tmp_path / "out", FAST), rows, [])
    (row,) = trainer.train_dataset
    # Earlier turns are prompt; each side scores its reply and the end of its turn.
    assert tok.decode(row["prompt_ids"]).endswith(
        "Rivers flow into the sea.<|im_end|>\n<|im_start|>user\nName three colours<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert tok.decode(row["chosen_ids"]) == "red, green and blue<|im_end|>\n"
    assert tok.decode(row["rejected_ids"]) == "The fox<|im_end|>\n"
    # The reference log-probs were computed before training, from the model as loaded.
    assert row["ref_chosen_logps"] < 0 and row["ref_rejected_logps"] < 0


class Scripted:
    """A model whose replies are given; enough for build_pairs' bookkeeping."""

    fingerprint = "scripted:fp"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies

    def generate(
        self, conversations: Sequence[Conversation], params: GenerationParams, **_: Any
    ) -> list[Generation]:
        out = [Generation(self.replies.pop(0), "stop", 1, 1) for _ in conversations]
        return out


def test_pairs_reject_the_models_own_greedy_reply(tiny_chat: ChatModel, tmp_path: Path) -> None:
    rows = sft_rows(5)
    # Row 2's reference is what the model says anyway: nothing to learn, skipped.
    rows[2]["messages"][-1]["content"] = greedy(tiny_chat, rows[2]["messages"][:-1])
    result = build_pairs(rows, tiny_chat, PairConfig(max_new_tokens=8, batch_size=2))
    assert (result.identical, result.empty, len(result.pairs)) == (1, 0, 4)
    assert result.truncated == 4  # a random model never says <|im_end|> in 8 tokens
    for pair, row in zip(result.pairs, rows[:2] + rows[3:], strict=True):
        assert pair.prompt == row["messages"][:-1]
        assert pair.chosen == row["messages"][-1]["content"]
        assert pair.rejected == greedy(tiny_chat, pair.prompt) != pair.chosen
        assert pair.metadata["leaf"] == row["metadata"]["leaf"]
        assert pair.metadata["rejected_by"] == tiny_chat.fingerprint
    write_pairs(tmp_path / "pairs.jsonl", result.pairs)
    assert [p for _, p in read_pairs(tmp_path / "pairs.jsonl")] == result.pairs

    scripted = Scripted(["  ", "The capital of France is Paris.", "Lyon"])
    three = [{"messages": [*PROMPT, {"role": "assistant", "content": c}]} for c in ("a", "b")]
    three.append({"messages": [*PROMPT, {"role": "assistant", "content": "Paris"}]})
    three[1]["messages"][-1]["content"] = "The capital of France is Paris."
    scripted_result = build_pairs(three, scripted, PairConfig(batch_size=8))  # type: ignore[arg-type]
    assert (scripted_result.empty, scripted_result.identical) == (1, 1)
    assert [(p.chosen, p.rejected) for p in scripted_result.pairs] == [("Paris", "Lyon")]


def test_bad_input_names_its_file_and_line(tiny_base: Path, tmp_path: Path) -> None:
    sft = tmp_path / "sft.jsonl"
    unanswered = {"messages": PROMPT}
    sft.write_text("\n".join(json.dumps(r) for r in [conversation(0), unanswered]) + "\n")
    with pytest.raises(DataError) as err:
        read_sft_rows(sft)
    assert str(err.value) == (
        f"{sft}:2: the last message must be the assistant's reference answer (none found)"
    )
    with pytest.raises(ValueError, match="row 0: the last message must be the assistant"):
        build_pairs([unanswered], Scripted([]), PairConfig())  # type: ignore[arg-type]

    pairs = tmp_path / "pairs.jsonl"
    good = {"prompt": PROMPT, "chosen": "Paris", "rejected": "Lyon"}
    answered = {**good, "prompt": [*PROMPT, {"role": "assistant", "content": "Paris"}]}
    pairs.write_text(f"{json.dumps(good)}\n\n{json.dumps({**good, 'rejected': ''})}\n")
    with pytest.raises(TrainError, match=rf"^{pairs}:3: 'rejected' must be a non-empty string"):
        train_dpo(DPOJob("dpo", tiny_base, pairs, tmp_path / "out", FAST))
    pairs.write_text(json.dumps(answered) + "\n")
    with pytest.raises(TrainError, match=rf"^{pairs}:1: the prompt must end before the answer"):
        train_dpo(DPOJob("dpo", tiny_base, pairs, tmp_path / "out", FAST))
    assert not (tmp_path / "out").exists()


def run_on(pair: Pair) -> Pair:
    """The small model's usual miss: the right answer, then on past where it should stop."""
    return Pair(pair.prompt, pair.chosen, pair.chosen + " red red")


def held_out_logps(path: Path, pairs: Sequence[Pair]) -> tuple[float, float]:
    """Mean summed log-prob of the chosen and of the rejected replies, scored by the model
    layer (not the trainer's code)."""
    with load_model(f"hf:{path}", device="cpu") as model:
        chosen = model.loglikelihood([(p.prompt, p.chosen) for p in pairs])
        rejected = model.loglikelihood([(p.prompt, p.rejected) for p in pairs])
    return (
        sum(s.logprob for s in chosen) / len(pairs),
        sum(s.logprob for s in rejected) / len(pairs),
    )


@pytest.fixture(scope="module")
def run_on_pairs() -> tuple[list[Pair], list[Pair]]:
    """18 pairs to train on and 6 held out (other prompts)."""
    pairs = [
        run_on(Pair(c["messages"][:-1], c["messages"][-1]["content"], "-"))  # type: ignore[index]
        for c in (conversation(i) for i in range(100, 124))
    ]
    return pairs[:18], pairs[18:]


def test_dpo_raises_the_chosen_replies_on_held_out_pairs(
    tiny_base: Path, tmp_path: Path, run_on_pairs: tuple[list[Pair], list[Pair]]
) -> None:
    train, held = run_on_pairs
    data = tmp_path / "pairs.jsonl"
    write_pairs(data, train)
    before = held_out_logps(tiny_base, held)
    events: list[DPOStepEvent] = []
    result = train_dpo(DPOJob("dpo", tiny_base, data, tmp_path / "rpo", FAST), events.append)

    assert result.steps == len(events) == 15 and result.samples == 54
    assert events[0].margin == 0 and events[0].lr == 0  # the reference itself, in warm-up
    margins = [e.margin for e in events]
    assert margins[-1] > 0.5 and events[-1].accuracy == 1.0  # the margin grows
    log = [json.loads(line) for line in (tmp_path / "rpo" / LOG).read_text().splitlines()]
    assert [row["margin"] for row in log] == margins
    assert result.tokens == sum(row["tokens"] for row in log) > 0
    assert Path(result.checkpoint) == checkpoints(tmp_path / "rpo")[-1].path

    after = held_out_logps(Path(result.checkpoint), held)
    assert after[0] > before[0] + 10  # the chosen replies rise (-96 -> -54 nats)
    assert after[0] - after[1] > before[0] - before[1]  # and beat the run-on ones by more

    # Plain DPO (no NLL term; the objective of the hand-written trainer this replaced) wins
    # the margin by pushing the chosen replies down with the rejected ones (-96 -> -122).
    plain = TrainConfig(**{**FAST.__dict__, "dpo_rpo_alpha": 0.0})
    dpo = train_dpo(DPOJob("dpo", tiny_base, data, tmp_path / "plain", plain))
    assert dpo.final_margin > 0.5 and dpo.final_accuracy == 1.0
    assert held_out_logps(Path(dpo.checkpoint), held)[0] < before[0] - 10


def test_dpo_with_lora_trains_adapters_against_the_base(
    tiny_base: Path, tmp_path: Path, run_on_pairs: tuple[list[Pair], list[Pair]]
) -> None:
    from transformers import AutoModelForCausalLM

    train, held = run_on_pairs
    data = tmp_path / "pairs.jsonl"
    write_pairs(data, train)
    cfg = TrainConfig(**{**FAST.__dict__, "lora": True, "dpo_lr": 1e-2})
    result = train_dpo(DPOJob("dpo", tiny_base, data, tmp_path / "out", cfg))
    folder = Path(result.checkpoint)
    assert (folder / "adapter" / "adapter_config.json").is_file()
    trained = AutoModelForCausalLM.from_pretrained(folder).state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_base).state_dict()
    moved = [k for k in base if not torch.equal(base[k], trained[k])]
    assert moved and all("proj" in k for k in moved)  # merged adapters, nothing else
    assert result.final_margin > 0.1
    assert held_out_logps(folder, held)[0] > held_out_logps(tiny_base, held)[0]


def test_a_killed_dpo_phase_resumes_to_the_same_weights(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    pairs = [Pair([{"role": "user", "content": f"Q{i}"}], f"Paris {i}", "Lyon") for i in range(8)]
    data = tmp_path / "pairs.jsonl"
    write_pairs(data, pairs)
    cfg = TrainConfig(**{**FAST.__dict__, "epochs": 2, "save_every": 2})
    whole = train_dpo(DPOJob("dpo", tiny_base, data, tmp_path / "whole", cfg))

    def kill(event: DPOStepEvent) -> None:
        if event.step == 3:
            raise KeyboardInterrupt

    job = DPOJob("dpo", tiny_base, data, tmp_path / "cut", cfg)
    with pytest.raises(KeyboardInterrupt):
        train_dpo(job, kill)
    assert [p.name for p in (job.out / TRAINER).glob("checkpoint-*")] == ["checkpoint-2"]
    assert not checkpoints(job.out)  # no final checkpoint before the phase ends
    with pytest.raises(TrainError, match="resume=True"):
        train_dpo(job)
    resumed = train_dpo(DPOJob("dpo", tiny_base, data, job.out, cfg, resume=True))
    assert resumed.final_loss == pytest.approx(whole.final_loss, abs=1e-5)
    assert resumed.steps == whole.steps == 4 and resumed.tokens == whole.tokens
    log = [json.loads(line)["step"] for line in (job.out / LOG).read_text().splitlines()]
    assert log == [1, 2, 3, 4]  # the lost step 3 was dropped from the log and redone
    a = AutoModelForCausalLM.from_pretrained(whole.checkpoint).state_dict()
    b = AutoModelForCausalLM.from_pretrained(resumed.checkpoint).state_dict()
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=1e-5)
    changed = TrainConfig(**{**cfg.__dict__, "dpo_beta": 0.5})
    with pytest.raises(TrainError, match="data or settings changed"):
        train_dpo(DPOJob("dpo", tiny_base, data, job.out, changed, resume=True))
