"""SPIN-style pairs and the DPO phase on a tiny Llama: the loss is the textbook one, pairs
reject the model's own replies, and training widens the implicit reward margin."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.trainer.train.conftest import conversation
from trainer.data.pack import collate_padded
from trainer.data.render import IGNORE
from trainer.data.rows import DataError
from trainer.models import ChatModel, Conversation, Generation, GenerationParams, load_model
from trainer.train.checkpoint import checkpoints
from trainer.train.config import TrainConfig
from trainer.train.dpo import (
    DPOJob,
    DPOStepEvent,
    dpo_loss,
    read_pair_examples,
    render_pair,
    sequence_logps,
    train_dpo,
)
from trainer.train.loop import LOG, TrainError
from trainer.train.pairs import (
    Pair,
    PairConfig,
    build_pairs,
    read_pairs,
    read_sft_rows,
    write_pairs,
)

FAST = TrainConfig(batch_size=4, max_tokens=128, lr=1e-3, warmup_steps=1, epochs=3)
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


def test_dpo_loss_on_hand_computed_log_probs() -> None:
    # Policy -1 / -3 and reference -2 / -2.5 for chosen / rejected: the policy prefers the
    # chosen answer by 1.5 nats more than the reference does.
    out = dpo_loss(
        torch.tensor([-1.0, -2.0]),
        torch.tensor([-3.0, -2.0]),
        torch.tensor([-2.0, -2.0]),
        torch.tensor([-2.5, -2.0]),
        beta=0.1,
    )
    assert out.losses[0].item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.1 * 1.5))))
    assert out.losses[1].item() == pytest.approx(math.log(2))  # policy == reference
    assert out.chosen_rewards.tolist() == pytest.approx([0.1, 0.0])
    assert out.rejected_rewards.tolist() == pytest.approx([-0.05, 0.0])


def test_only_the_final_reply_is_scored(tiny_base: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    prompt = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Rivers flow into the sea."},  # context, not scored
        {"role": "user", "content": "Name three colours"},
    ]
    chosen, rejected = render_pair(tok, Pair(prompt, "red, green and blue", "The fox"))
    for side, text in ((chosen, "red, green and blue"), (rejected, "The fox")):
        scored = [
            t for t, label in zip(side.input_ids, side.labels, strict=True) if label != IGNORE
        ]
        assert tok.decode(scored) == text + "<|im_end|>"
    # Padded together, each side's log-prob is what it is alone, summed over its reply.
    model: Any = AutoModelForCausalLM.from_pretrained(tiny_base)
    model.eval()
    with torch.no_grad():
        batch = sequence_logps(model, collate_padded([chosen, rejected], 0), torch.device("cpu"))
        for got, side in zip(batch, (chosen, rejected), strict=True):
            logp = model(torch.tensor([side.input_ids])).logits[0].log_softmax(-1)
            want = sum(
                logp[i - 1, side.input_ids[i]].item()
                for i in range(1, len(side.labels))
                if side.labels[i] != IGNORE
            )
            assert got.item() == pytest.approx(want, abs=1e-4)


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


def test_dpo_widens_the_reward_margin(
    tiny_base: Path, tiny_chat: ChatModel, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    built = build_pairs(sft_rows(8), tiny_chat, PairConfig(max_new_tokens=8))
    data = tmp_path / "pairs.jsonl"
    write_pairs(data, built.pairs)
    events: list[DPOStepEvent] = []
    result = train_dpo(DPOJob("dpo", tiny_base, data, tmp_path / "out", FAST), events.append)

    assert result.steps == len(events) == 6 and result.samples == 24
    assert abs(events[0].margin) < 1e-4  # the first step scores the reference itself
    assert events[0].loss == pytest.approx(math.log(2), abs=1e-4)
    margins = [e.margin for e in events]
    assert margins[-1] > margins[2] > 0.1  # the margin grows
    assert events[-1].accuracy == 1.0 and events[-1].loss < 0.6
    assert result.final_loss == events[-1].loss and result.final_margin == margins[-1]
    log = [json.loads(line) for line in (tmp_path / "out" / LOG).read_text().splitlines()]
    assert [row["margin"] for row in log] == margins

    # Independently of the loop's bookkeeping: the saved policy prefers the chosen answers
    # more than the base does.
    tok = AutoTokenizer.from_pretrained(result.checkpoint)
    examples, _, _ = read_pair_examples(data, tok, 128)
    sides = [e[0] for e in examples] + [e[1] for e in examples]
    batch = collate_padded(sides, tok.pad_token_id)
    gaps = []
    for path in (tiny_base, Path(result.checkpoint)):
        model: Any = AutoModelForCausalLM.from_pretrained(path)
        model.eval()
        with torch.no_grad():
            logps = sequence_logps(model, batch, torch.device("cpu"))
        gaps.append(logps[: len(examples)] - logps[len(examples) :])
    assert bool(((gaps[1] - gaps[0]) > 0).all())


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
    assert [c.meta.step for c in checkpoints(job.out)] == [2]
    with pytest.raises(TrainError, match="resume=True"):
        train_dpo(job)
    resumed = train_dpo(DPOJob("dpo", tiny_base, data, job.out, cfg, resume=True))
    assert resumed.final_loss == pytest.approx(whole.final_loss, abs=1e-5)
    a = AutoModelForCausalLM.from_pretrained(whole.checkpoint).state_dict()
    b = AutoModelForCausalLM.from_pretrained(resumed.checkpoint).state_dict()
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=1e-5)
    with pytest.raises(TrainError, match="data or settings changed"):
        train_dpo(DPOJob("dpo", tiny_base, data, job.out, cfg, beta=0.5, resume=True))
