"""Batched autoregressive decoding with a KV cache, for any Hugging Face causal LM.

Our own loop rather than `model.generate` because sampling must draw from one
torch.Generator per request (HF samples the whole batch from the global RNG, so a
request's output would depend on its batch-mates), and finished rows are dropped from the
batch so short answers stop costing compute.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import DynamicCache

from trainer.models.base import FinishReason, Generation, GenerationParams, find_stop

Detokenize = Callable[[Sequence[int]], str]  # ids -> visible text (special tokens skipped)


class Sampler:
    """Greedy argmax, or temperature/top-p sampling with one generator per request."""

    def __init__(self, params: GenerationParams, seeds: Sequence[int], device: torch.device):
        self.params = params
        self.generators = (
            []
            if params.temperature == 0
            else [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
        )

    def choose(self, logits: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        """Next token per active row; rows[j] is the request index of logits[j]."""
        if not self.generators:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / self.params.temperature, dim=-1)
        if self.params.top_p < 1:
            probs = top_p_filter(probs, self.params.top_p)
        # One draw per row from its own stream: the stream advances identically whatever
        # the batch looks like.
        return torch.cat(
            [
                torch.multinomial(probs[j], 1, generator=self.generators[r])
                for j, r in enumerate(rows)
            ]
        )


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero all but the smallest set of most likely tokens whose mass reaches top_p."""
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)
    return torch.zeros_like(probs).scatter_(-1, order, sorted_probs)


def left_pad(
    prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        if p:
            ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p) :] = 1
    return ids.to(device), mask.to(device)


class StopWatcher:
    """Detects stop strings by decoding only the tail of each row's output."""

    def __init__(self, stops: Sequence[str], detokenize: Detokenize):
        self.stops = tuple(stops)
        self.detokenize = detokenize
        # A byte-level token can carry a quarter of a character: 4 tokens per char is safe.
        self.window = 4 * max((len(s) for s in stops), default=0) + 4

    def hit(self, ids: Sequence[int]) -> bool:
        if not self.stops:
            return False
        tail = self.detokenize(ids[-self.window :])
        return any(s in tail for s in self.stops)


@functools.cache
def _cache_keyword(forward: Callable[..., Any]) -> str:
    params = inspect.signature(forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_arg(model: Any, cache: Any) -> dict[str, Any]:
    """The KV cache under the name this transformers version's forward takes: `cache` from
    5.2x (where `past_key_values` warns on every call that it is going away), else
    `past_key_values`."""
    return {_cache_keyword(type(model).forward): cache}


@torch.inference_mode()
def generate_batch(
    model: Any,
    prompts: Sequence[Sequence[int]],
    params: GenerationParams,
    seeds: Sequence[int],
    *,
    pad_id: int,
    eos_ids: set[int],
    detokenize: Detokenize,
) -> list[Generation]:
    """Generate for one batch of tokenised prompts (left-padded, so all rows end together)."""
    device = model.device
    ids, mask = left_pad(prompts, pad_id, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    logits = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        **cache_arg(model, cache),
        use_cache=True,
        logits_to_keep=1,
    ).logits[:, -1]
    next_pos = mask.sum(-1, keepdim=True)
    sampler = Sampler(params, seeds, device)
    watcher = StopWatcher(params.stop, detokenize)
    rows = list(range(len(prompts)))  # active row j -> request rows[j]
    out: list[list[int]] = [[] for _ in prompts]
    finish: list[FinishReason] = ["length"] * len(prompts)
    for _ in range(params.max_new_tokens):
        tokens = sampler.choose(logits, rows)
        keep = []
        for j, (r, token) in enumerate(zip(rows, tokens.tolist(), strict=True)):
            out[r].append(token)
            if token in eos_ids or watcher.hit(out[r]):
                finish[r] = "stop"
            elif len(out[r]) < params.max_new_tokens:
                keep.append(j)
        if not keep:
            break
        if len(keep) < len(rows):  # drop finished rows: their cache and compute go too
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            mask, next_pos, tokens = mask[index], next_pos[index], tokens[index]
            rows = [rows[j] for j in keep]
        mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
        logits = model(
            input_ids=tokens[:, None],
            attention_mask=mask,
            position_ids=next_pos,
            **cache_arg(model, cache),
            use_cache=True,
        ).logits[:, -1]
        next_pos = next_pos + 1
    results = []
    for r, prompt in enumerate(prompts):
        text = detokenize(out[r])
        cut = find_stop(text, params.stop)
        if cut is not None:
            text, finish[r] = text[:cut], "stop"
        results.append(Generation(text, finish[r], len(prompt), len(out[r])))
    return results
