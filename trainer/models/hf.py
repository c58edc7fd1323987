"""Local Hugging Face models through transformers: CPU (fp32) or GPU (bf16)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from trainer.models import prefix
from trainer.models.base import (
    ChatModelBase,
    Conversation,
    Generation,
    GenerationParams,
    ModelError,
    TokenLogprob,
    TokenScoreRequest,
)
from trainer.models.batching import plan_batches
from trainer.models.cache import dir_fingerprint
from trainer.models.decoding import generate_batch, left_pad
from trainer.models.hf_tokenizer import HFTokenizer

hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # rich reports progress

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
# Padded prompt + new tokens per batch. On a CPU, decoding one row re-reads every weight per
# token (memory-bound), so tens of rows cost little more than one; 16k tokens of fp32 KV cache
# is ~0.75 GB for the 135M embedded model. A GPU holds far more.
DEFAULT_BATCH_TOKENS = {"cpu": 16_384, "cuda": 65_536}
LOGITS_BUDGET_BYTES = 1 << 30  # scoring keeps float32 logits for at most this much at once


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    if dtype in (None, "auto"):
        # bf16 halves GPU memory at no quality cost; CPUs run fp32 far faster than bf16.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ModelError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}") from None


def dir_weights_id(path: Path) -> str:
    return f"sha256:{dir_fingerprint(path)[:16]}"


def fingerprint(weights_id: str, dtype: torch.dtype) -> str:
    """Weights and precision: the same weights in bf16 and fp32 give different outputs."""
    return f"transformers:{str(dtype).removeprefix('torch.')}:{weights_id}"


class HFChatModel(ChatModelBase):
    _tokenizer: HFTokenizer

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        device: str | None = None,
        dtype: str | None = None,
        max_batch_tokens: int | None = None,
        weights_id: str | None = None,
        share_prefixes: bool = True,
    ) -> None:
        super().__init__(name)
        if not (path / "config.json").is_file():
            raise ModelError(
                f"{name}: {path} is not a Hugging Face model directory (no "
                "config.json); hub ids are not downloaded - pass a local "
                "directory, or vllm:ORG/NAME on a GPU runner"
            )
        self.path = path
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(
                path, dtype=self.dtype, local_files_only=True
            )
            self.model = model.to(self.device).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(f"{name}: cannot load {path}: {exc}") from exc
        self._tokenizer = HFTokenizer(tokenizer, name)
        self.max_batch_tokens = max_batch_tokens or DEFAULT_BATCH_TOKENS.get(
            self.device.type, DEFAULT_BATCH_TOKENS["cuda"]
        )
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = self._tokenizer.eos_ids | set([eos] if isinstance(eos, int) else eos or [])
        self.context_length: int | None = getattr(
            self.model.config, "max_position_embeddings", None
        )
        self._weights_id = weights_id
        # Score requests that share a prefix as one trie per row (see prefix.py); the
        # tree-shaped mask needs an attention that takes an arbitrary 4D mask.
        self.share_prefixes = share_prefixes and self.model.config._attn_implementation in (
            "sdpa",
            "eager",
        )
        # One batch at a time: concurrent callers would only fight over the same cores/GPU.
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> HFTokenizer:
        return self._tokenizer

    @property
    def fingerprint(self) -> str:
        if self._weights_id is None:  # hashing the weights takes ~1 s/GB: only when asked
            self._weights_id = dir_weights_id(self.path)
        return fingerprint(self._weights_id, self.dtype)

    def _generate(
        self, conversations: Sequence[Conversation], params: GenerationParams, seeds: Sequence[int]
    ) -> list[Generation]:
        prompts = [self._tokenizer.encode_chat(c) for c in conversations]
        for i, prompt in enumerate(prompts):
            self._check_length(len(prompt) + params.max_new_tokens, f"conversation {i}")
        results: list[Generation | None] = [None] * len(prompts)
        for batch in plan_batches(
            [len(p) for p in prompts], self.max_batch_tokens, extra=params.max_new_tokens
        ):
            with self._lock:
                outputs = generate_batch(
                    self.model,
                    [prompts[i] for i in batch],
                    params,
                    [seeds[i] for i in batch],
                    pad_id=self._tokenizer.pad_id,
                    eos_ids=self.eos_ids,
                    detokenize=self._visible,
                )
            for i, generation in zip(batch, outputs, strict=True):
                results[i] = generation
        return [r for r in results if r is not None]

    def score_tokens(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        for i, (ids, start) in enumerate(requests):
            if not 1 <= start <= len(ids):
                raise ValueError(f"request {i}: start {start} outside 1..{len(ids)}")
            self._check_length(len(ids), f"request {i}")
        results: list[list[TokenLogprob]] = [[] for _ in requests]
        # Longer requests than a trie row gain nothing from one and would cost a
        # width^2 mask: they are scored alone, under the causal mask sdpa builds itself.
        shared = [
            i
            for i, (ids, _) in enumerate(requests)
            if self.share_prefixes and len(ids) <= prefix.ROW_TOKENS
        ]
        alone = sorted(set(range(len(requests))) - set(shared))
        for indices, score in ((shared, self._score_shared), (alone, self._score_alone)):
            if indices:
                for i, scores in zip(indices, score([requests[i] for i in indices]), strict=True):
                    results[i] = scores
        return results

    def _width_budget(self) -> int:
        vocab = int(self.model.config.get_text_config().vocab_size)
        return max(1, LOGITS_BUDGET_BYTES // (4 * vocab))

    def _score_shared(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        rows = prefix.plan_rows(requests)
        results: list[list[TokenLogprob]] = [[] for _ in requests]
        for batch in plan_batches(
            [len(r) for r in rows],
            self.max_batch_tokens,
            widths=[len(r.scored_nodes([requests[i][1] for i in r.members])) for r in rows],
            width_budget=self._width_budget(),
        ):
            with self._lock:
                scored = prefix.score_rows(
                    self.model, [rows[b] for b in batch], requests, pad_id=self._tokenizer.pad_id
                )
            for i, scores in scored.items():
                results[i] = scores
        return results

    def _score_alone(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        results: list[list[TokenLogprob]] = [[] for _ in requests]
        for batch in plan_batches(
            [len(ids) for ids, _ in requests],
            self.max_batch_tokens,
            widths=[len(ids) - start + 1 for ids, start in requests],
            width_budget=self._width_budget(),
        ):
            with self._lock:
                scored = self._score_batch([requests[i] for i in batch])
            for i, scores in zip(batch, scored, strict=True):
                results[i] = scores
        return results

    @torch.inference_mode()
    def _score_batch(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        # Left padding right-aligns every continuation, so one `logits_to_keep` suffices
        # and vocabulary-sized logits exist only for the positions being scored.
        ids, mask = left_pad([r[0] for r in requests], self._tokenizer.pad_id, self.device)
        keep = max(len(r[0]) - r[1] for r in requests) + 1
        logits = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            logits_to_keep=keep,
        ).logits
        results = []
        for row, (token_ids, start) in enumerate(requests):
            n = len(token_ids) - start
            logprobs = logits[row, keep - 1 - n : keep - 1].float().log_softmax(dim=-1)
            targets = torch.tensor(token_ids[start:], device=self.device)
            chosen = logprobs.gather(-1, targets[:, None])[:, 0]
            top, top_ids = logprobs.max(dim=-1)
            results.append(
                [
                    TokenLogprob(c, t, i)
                    for c, t, i in zip(chosen.tolist(), top.tolist(), top_ids.tolist(), strict=True)
                ]
            )
        return results

    def _visible(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def _check_length(self, tokens: int, what: str) -> None:
        if self.context_length and tokens > self.context_length:
            raise ModelError(
                f"{what}: {tokens} tokens exceed {self.name}'s context of {self.context_length}"
            )

    def close(self) -> None:
        # Drop the weights now rather than at garbage collection (GPU memory, mostly).
        self.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
