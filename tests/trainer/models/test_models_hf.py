"""The transformers backend on a tiny random Llama: batching, determinism, scoring."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.tiny import build_tiny_model
from tests.trainer.models.conftest import CONVERSATIONS
from trainer.models import ChatModel, GenerationParams, ModelError, load_model, model_fingerprint
from trainer.models.hf import HFChatModel

GREEDY = GenerationParams(max_new_tokens=16)
SAMPLED = GenerationParams(max_new_tokens=16, temperature=1.0, top_p=0.9, seed=7)


def test_batched_greedy_equals_one_at_a_time(tiny: ChatModel) -> None:
    batched = tiny.generate(CONVERSATIONS, GREEDY)
    single = [tiny.generate([c], GREEDY)[0] for c in CONVERSATIONS]
    assert batched == single
    assert {g.prompt_tokens for g in batched} != {batched[0].prompt_tokens}  # padding happened
    assert all(g.completion_tokens >= 1 and g.text for g in batched)


def test_token_budget_splits_batches_without_changing_results(
    tiny_dir: Path, tiny: ChatModel
) -> None:
    small = load_model(f"hf:{tiny_dir}", device="cpu", max_batch_tokens=40)
    assert isinstance(small, HFChatModel)
    assert small.generate(CONVERSATIONS, GREEDY) == tiny.generate(CONVERSATIONS, GREEDY)
    assert small.generate(CONVERSATIONS, SAMPLED) == tiny.generate(CONVERSATIONS, SAMPLED)


def test_sampling_is_seeded_per_request(tiny: ChatModel) -> None:
    first = tiny.generate(CONVERSATIONS, SAMPLED)
    assert tiny.generate(CONVERSATIONS, SAMPLED) == first
    other_seed = tiny.generate(
        CONVERSATIONS, GenerationParams(max_new_tokens=16, temperature=1.0, top_p=0.9, seed=8)
    )
    assert other_seed != first
    # A request's sample does not depend on its batch-mates or its position...
    alone = tiny.generate([CONVERSATIONS[3]], SAMPLED)
    assert alone[0] == first[3]
    reordered = tiny.generate(CONVERSATIONS[::-1], SAMPLED)
    assert reordered[::-1] == first
    # ...while repeated conversations still get different samples.
    twice = tiny.generate([CONVERSATIONS[0]] * 2, SAMPLED)
    assert twice[0] == first[0] and twice[1] != twice[0]


def test_explicit_seeds(tiny: ChatModel) -> None:
    convs = [CONVERSATIONS[0]] * 3
    out = tiny.generate(convs, SAMPLED, seeds=[1, 2, 1])
    assert out[0] == out[2] != out[1]
    with pytest.raises(ValueError, match="2 seeds for 3"):
        tiny.generate(convs, SAMPLED, seeds=[1, 2])


def test_stop_strings_and_length(tiny: ChatModel) -> None:
    free = tiny.generate(CONVERSATIONS, GREEDY)
    assert any(g.finish_reason == "length" for g in free)
    for g in free:
        if g.finish_reason == "length":
            assert g.completion_tokens == GREEDY.max_new_tokens
    target = next(g for g in free if len(g.text) > 6)
    stop = target.text[3:6]
    index = CONVERSATIONS[free.index(target)]
    stopped = tiny.generate([index], GenerationParams(max_new_tokens=16, stop=(stop, "zzzq")))[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == target.text[: target.text.find(stop)]
    assert stopped.completion_tokens <= target.completion_tokens


def test_loglikelihood_matches_a_manual_forward_pass(tiny: ChatModel) -> None:
    assert isinstance(tiny, HFChatModel)
    requests = [
        (CONVERSATIONS[0], "Paris is the capital."),
        (CONVERSATIONS[1], " red green blue"),
        (CONVERSATIONS[4], " the lazy dog"),
        (CONVERSATIONS[2], ""),
    ]
    scores = tiny.loglikelihood(requests)
    hf_tok, model = tiny.tokenizer.hf, tiny.model
    for (context, continuation), score in zip(requests[:3], scores, strict=False):
        prefix = tiny.tokenizer.encode_chat(context)
        cont = hf_tok.encode(continuation, add_special_tokens=False)
        ids = torch.tensor([prefix + cont])
        with torch.no_grad():
            logprobs = model(ids).logits[0].log_softmax(-1)
        expected = sum(logprobs[len(prefix) - 1 + k, t].item() for k, t in enumerate(cont))
        assert score.num_tokens == len(cont)
        assert score.logprob == pytest.approx(expected, abs=1e-4)
        greedy = all(logprobs[len(prefix) - 1 + k].argmax().item() == t for k, t in enumerate(cont))
        assert score.is_greedy == greedy
    assert (scores[3].logprob, scores[3].num_tokens, scores[3].is_greedy) == (0.0, 0, True)


def test_greedy_output_scores_as_greedy(tiny: ChatModel) -> None:
    assert isinstance(tiny, HFChatModel)
    prompt = tiny.tokenizer.encode_chat(CONVERSATIONS[0])
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = tiny.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=8,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    generated = out[0].tolist()
    [tokens] = tiny.score_tokens([(generated, len(prompt))])
    assert len(tokens) == 8 and all(t.is_greedy for t in tokens)
    assert [t.top_token for t in tokens] == generated[len(prompt) :]


def test_scoring_batches_by_budget(tiny_dir: Path, tiny: ChatModel) -> None:
    small = load_model(f"hf:{tiny_dir}", device="cpu", max_batch_tokens=30)
    requests = [(c, "the capital of France " * (i + 1)) for i, c in enumerate(CONVERSATIONS)]
    for a, b in zip(small.loglikelihood(requests), tiny.loglikelihood(requests), strict=True):
        assert a.num_tokens == b.num_tokens and a.logprob == pytest.approx(b.logprob, abs=1e-4)


def test_too_long_is_a_clear_error(tiny: ChatModel) -> None:
    with pytest.raises(ModelError, match="exceed"):
        tiny.generate([[{"role": "user", "content": "word " * 300}]], GREEDY)


def test_bad_conversations_are_rejected(tiny: ChatModel) -> None:
    with pytest.raises(ValueError, match="no messages"):
        tiny.generate([[]], GREEDY)
    with pytest.raises(ValueError, match="role"):
        tiny.generate([[{"content": "x"}]], GREEDY)
    assert tiny.generate([], GREEDY) == []


def test_fingerprint_tracks_weights(tiny_dir: Path, tiny: ChatModel, tmp_path: Path) -> None:
    fingerprint = tiny.fingerprint
    assert fingerprint.startswith("transformers:float32:sha256:")
    assert load_model(f"hf:{tiny_dir}", device="cpu").fingerprint == fingerprint
    assert model_fingerprint(f"hf:{tiny_dir}", device="cpu") == fingerprint  # no loading
    assert model_fingerprint(tiny_dir, dtype="bfloat16") == fingerprint.replace(
        "float32", "bfloat16"
    )
    copy = shutil.copytree(tiny_dir, tmp_path / "copy")
    assert load_model(copy, device="cpu").fingerprint == fingerprint  # content, not path
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert load_model(f"hf:{other}", device="cpu").fingerprint != fingerprint


def test_tokenizer_modes(tiny: ChatModel) -> None:
    tok = tiny.tokenizer
    prompt = tok.decode(tok.encode_chat(CONVERSATIONS[0]))
    assert prompt.endswith("<|im_start|>assistant\n")
    done = tok.decode(tok.encode_chat(CONVERSATIONS[3], add_generation_prompt=False))
    assert done.endswith("skills.<|im_end|>\n")
    continued = tok.decode(tok.encode_chat(CONVERSATIONS[4]))
    assert continued.endswith("<|im_start|>assistant\njumps over")
    assert tok.decode(tok.encode("Paris, France")) == "Paris, France"


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such directory"):
        load_model(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_model(f"hf:{tmp_path}")
    plain = build_tiny_model(tmp_path / "plain", chat_template=None)
    with pytest.raises(ModelError, match="no chat template"):
        load_model(f"hf:{plain}", device="cpu")
    with pytest.raises(ModelError, match="unknown dtype"):
        load_model(f"hf:{plain}", device="cpu", dtype="float8")


def test_generation_and_scoring_build_no_autograd_graph(tiny: ChatModel) -> None:
    """Every forward pass runs under inference mode: a decoding step that recorded a graph
    kept each step's activations alive (the embedded model's generation grew past 20 GB)."""
    assert isinstance(tiny, HFChatModel)
    seen: list[bool] = []
    hook = tiny.model.register_forward_hook(
        lambda _m, _args, _out: seen.append(torch.is_inference_mode_enabled())
    )
    try:
        tiny.generate(CONVERSATIONS[:2], GREEDY)
        tiny.loglikelihood([(CONVERSATIONS[0], "a reply")])
    finally:
        hook.remove()
    assert len(seen) >= 3 and all(seen)
