"""Shared-prefix scoring (trainer/models/prefix.py) against scoring each request alone."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from itertools import pairwise
from pathlib import Path

import pytest

from trainer.evaluation.run import LL_CHUNK, ll_chunks
from trainer.models import load_model
from trainer.models.base import TokenLogprob, TokenScoreRequest
from trainer.models.hf import HFChatModel
from trainer.models.prefix import plan_rows

Requests = list[TokenScoreRequest]


def random_requests(seed: int, vocab: int = 380) -> Requests:
    """MC-like groups (one context, 1-5 continuations), plus the awkward cases."""
    rng = random.Random(seed)

    def tokens(lo: int, hi: int) -> list[int]:
        return [rng.randrange(3, vocab) for _ in range(rng.randrange(lo, hi))]

    system = tokens(5, 12)  # what a chat template puts before every request
    out: Requests = []
    for _ in range(rng.randrange(3, 8)):
        context = [*system, *tokens(1, 40)] if rng.random() < 0.7 else tokens(1, 40)
        for _ in range(rng.randrange(1, 6)):
            out.append(([*context, *tokens(1, 15)], len(context)))
    ids, start = out[0]
    out.append((list(ids), start))  # identical
    out.append((ids[: start + 1], start))  # a prefix of another request
    out.append((list(ids), 1))  # the same ids, scored from the first token
    out.append((tokens(3, 20), 2))  # shares nothing
    rng.shuffle(out)
    return out


@pytest.fixture(scope="module")
def model(tiny_dir: Path) -> Iterator[HFChatModel]:
    loaded = load_model(f"hf:{tiny_dir}", device="cpu")
    assert isinstance(loaded, HFChatModel) and loaded.share_prefixes
    yield loaded
    loaded.close()


def score(model: HFChatModel, requests: Requests, *, share: bool) -> list[list[TokenLogprob]]:
    model.share_prefixes = share
    try:
        return model.score_tokens(requests)
    finally:
        model.share_prefixes = True


def assert_same(a: Sequence[list[TokenLogprob]], b: Sequence[list[TokenLogprob]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y)
        for s, t in zip(x, y, strict=True):
            assert s.logprob == pytest.approx(t.logprob, abs=1e-4)
            assert s.top_logprob == pytest.approx(t.top_logprob, abs=1e-4)
            assert (s.top_token, s.is_greedy) == (t.top_token, t.is_greedy)


@pytest.mark.parametrize("seed", range(4))
def test_rows_are_tries_that_hold_every_request(seed: int) -> None:
    requests = random_requests(seed)
    rows = plan_rows(requests, capacity=120)
    assert sorted(i for row in rows for i in row.members) == list(range(len(requests)))
    for row in rows:
        assert len(row) <= 120 or len(row.members) == 1
        for i, path in zip(row.members, row.paths, strict=True):
            ids = requests[i][0]
            assert [row.tokens[p] for p in path] == list(ids)
            assert [row.depths[p] for p in path] == list(range(len(ids)))
            assert all(a < b for a, b in pairwise(path))  # depth-first: ancestors first
    assert sum(len(r) for r in rows) < sum(len(ids) for ids, _ in requests)


def test_options_of_one_context_share_a_row() -> None:
    context = list(range(10, 70))
    options = [[5, 6, 7], [5, 8], [9], [5, 6, 7, 4]]
    requests: Requests = [([*context, *o], len(context)) for o in options]
    [row] = plan_rows(requests, capacity=512)
    assert len(row) == len(context) + 3 + 1 + 1 + 1  # 5,6,7 | 8 | 9 | 4
    # Too small for the whole item: split, but every request is still whole in its row.
    rows = plan_rows(requests, capacity=len(context) + 2)
    assert len(rows) > 1 and sorted(i for r in rows for i in r.members) == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(6))
def test_shared_scores_equal_unshared(model: HFChatModel, seed: int) -> None:
    requests = random_requests(seed)
    assert_same(score(model, requests, share=True), score(model, requests, share=False))


def test_small_rows_and_batches_change_nothing(
    tiny_dir: Path, model: HFChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [r for seed in range(3) for r in random_requests(10 + seed)]
    expected = score(model, requests, share=False)
    small = load_model(f"hf:{tiny_dir}", device="cpu", max_batch_tokens=150)
    assert isinstance(small, HFChatModel)
    monkeypatch.setattr("trainer.models.prefix.ROW_TOKENS", 64)
    assert len(plan_rows(requests)) > 4  # many rows, batches mixing groups
    assert_same(small.score_tokens(requests), expected)
    # A request's scores do not depend on its batch-mates.
    alone = [model.score_tokens([r])[0] for r in requests[:8]]
    assert_same(alone, expected[:8])


def test_requests_longer_than_a_row_are_scored_alone(
    model: HFChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = random_requests(30)
    expected = score(model, requests, share=False)
    monkeypatch.setattr("trainer.models.prefix.ROW_TOKENS", 30)
    assert any(len(ids) > 30 for ids, _ in requests) and any(len(i) <= 30 for i, _ in requests)
    assert_same(model.score_tokens(requests), expected)


def test_eager_attention_takes_the_same_mask(tiny_dir: Path, model: HFChatModel) -> None:
    eager = load_model(f"hf:{tiny_dir}", device="cpu")
    assert isinstance(eager, HFChatModel)
    eager.model.set_attn_implementation("eager")
    assert eager.model.config._attn_implementation == "eager"
    requests = random_requests(20)
    assert_same(eager.score_tokens(requests), score(model, requests, share=False))


def test_loglikelihood_of_options_through_shared_rows(model: HFChatModel) -> None:
    context = [{"role": "user", "content": "What is the capital of France? Answer briefly."}]
    options = [" Paris", " The capital of France is Paris.", " red green blue", " Paris"]
    pairs = [(context, o) for o in options]
    shared = model.loglikelihood(pairs)
    model.share_prefixes = False
    try:
        alone = model.loglikelihood(pairs)
    finally:
        model.share_prefixes = True
    for a, b in zip(shared, alone, strict=True):
        assert (a.num_tokens, a.is_greedy) == (b.num_tokens, b.is_greedy)
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
    assert shared[0] == shared[3]


def test_benchmark_chunks_keep_a_prompts_options_together() -> None:
    pairs = [(f"prompt {p}" + "x" * (p % 7), f"option {o}") for p in range(40) for o in range(5)]
    random.Random(0).shuffle(pairs)
    chunks = ll_chunks(pairs)
    assert sorted(k for c in chunks for k in c) == sorted(pairs)
    where = {k[0]: n for n, c in enumerate(chunks) for k in c}
    assert all(where[p] == n for n, c in enumerate(chunks) for p, _ in c)
    assert all(len(c) <= LL_CHUNK for c in chunks) and len(chunks) > 1


@pytest.mark.slow
def test_embedded_model_on_real_multiple_choice_items() -> None:
    from trainer.evaluation.suites import general_items

    model = load_model("embedded", device="cpu")
    assert isinstance(model, HFChatModel) and model.share_prefixes
    pairs = [
        ([{"role": "user", "content": item.mc_prompt or ""}], option)
        for item in general_items()[:3]
        for option in item.options
    ]
    tok = model.tokenizer
    requests: Requests = []
    for context, option in pairs:
        prefix = tok.encode_chat(context)
        requests.append(([*prefix, *tok.encode(option)], len(prefix)))
    assert len(plan_rows(requests)) == 1  # 3 items x 4 options: one row
    assert_same(score(model, requests, share=True), score(model, requests, share=False))
    model.close()
