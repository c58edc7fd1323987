"""A model behind an OpenAI-compatible HTTP API: `vllm serve` in production, `bot serve`.

Generation uses /v1/chat/completions, one request per conversation, many in flight (the
server batches them). Token counting and scoring need two extensions that vLLM and
`bot serve` both provide: /tokenize + /detokenize at the server root, and /v1/completions
with a token-id prompt, echo, logprobs and max_tokens 0 (prompt log-probs, no generation).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from trainer.models.base import (
    ChatModelBase,
    Conversation,
    FinishReason,
    Generation,
    GenerationParams,
    ModelError,
    TokenLogprob,
    TokenScoreRequest,
    sampling_fields,
)
from trainer.models.httpclient import HTTPStatusError, JSONClient, RetryPolicy
from trainer.models.spec import OpenAISpec

SCORE_CHUNK = 8  # prompts per /v1/completions request: few round trips, short requests
NEEDS_LOCAL = "use a local backend (embedded, hf:DIR, vllm:MODEL) or a vLLM / `bot serve` server"


class OpenAIChatModel(ChatModelBase):
    def __init__(
        self,
        spec: OpenAISpec,
        *,
        concurrency: int = 16,
        timeout_s: float = 600.0,
        retry: RetryPolicy | None = None,
        api_key: str | None = None,
    ) -> None:
        super().__init__(str(spec))
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.api = JSONClient(spec.base_url, timeout_s=timeout_s, retry=retry, api_key=key)
        # vLLM serves /tokenize beside /v1, not under it.
        root = spec.base_url.removesuffix("/v1")
        self.root = JSONClient(root, timeout_s=timeout_s, retry=retry, api_key=key)
        self.model, self._fingerprint = self._pick_model(spec)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="openai")
        self._tokenizer = RemoteTokenizer(self.root, self.model)

    def _pick_model(self, spec: OpenAISpec) -> tuple[str, str]:
        listing = self.api.get("/models")
        entries = (
            [e for e in listing.get("data", []) if isinstance(e, dict) and "id" in e]
            if isinstance(listing, dict)
            else []
        )
        ids = [str(e["id"]) for e in entries]
        if spec.model is None and len(ids) != 1:
            raise ModelError(
                f"{spec}: the server has models {ids or 'none'}; name one as {spec}#MODEL"
            )
        model = spec.model or ids[0]
        if model not in ids:
            raise ModelError(f"{spec}: the server has no model {model!r} (it has {ids})")
        entry = entries[ids.index(model)]
        # `bot serve` reports its backend's fingerprint; for vLLM the model id (a hub id or
        # path) is the best stable name of the weights there is.
        return model, f"openai:{entry.get('fingerprint') or model}"

    def _generate(
        self, conversations: Sequence[Conversation], params: GenerationParams, seeds: Sequence[int]
    ) -> list[Generation]:
        bodies = [self._chat_body(c, params, s) for c, s in zip(conversations, seeds, strict=True)]
        return list(self._pool.map(self._chat, bodies))

    def _chat_body(
        self, conversation: Conversation, params: GenerationParams, seed: int
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in conversation],
            **sampling_fields(params, seed),
        }
        if conversation[-1].get("role") == "assistant":  # continue it (vLLM extension)
            body |= {"add_generation_prompt": False, "continue_final_message": True}
        return body

    def _chat(self, body: dict[str, Any]) -> Generation:
        response = self.api.post("/chat/completions", body)
        try:
            choice = response["choices"][0]
            usage = response.get("usage") or {}
            reason: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
            return Generation(
                choice["message"].get("content") or "",
                reason,
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
            )
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"{self.name}: unexpected chat completion response: {str(response)[:300]}"
            ) from exc

    def score_tokens(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        for i, (ids, start) in enumerate(requests):
            if not 1 <= start <= len(ids):
                raise ValueError(f"request {i}: start {start} outside 1..{len(ids)}")
        chunks = [requests[i : i + SCORE_CHUNK] for i in range(0, len(requests), SCORE_CHUNK)]
        return [scores for chunk in self._pool.map(self._score_chunk, chunks) for scores in chunk]

    def _score_chunk(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        body = {
            "model": self.model,
            "prompt": [list(ids) for ids, _ in requests],
            "max_tokens": 0,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
        }
        try:
            response = self.api.post("/completions", body)
        except HTTPStatusError as exc:
            raise ModelError(
                f"{self.name}: scoring needs /v1/completions with echo and "
                f"logprobs, which this server refused ({exc}); {NEEDS_LOCAL}"
            ) from exc
        choices = sorted(response.get("choices", []), key=lambda c: c.get("index", 0))
        if len(choices) != len(requests):
            raise ModelError(
                f"{self.name}: {len(choices)} completions for {len(requests)} "
                f"prompts; {NEEDS_LOCAL}"
            )
        return [
            _prompt_logprobs(choice, ids, start, self.name)
            for choice, (ids, start) in zip(choices, requests, strict=True)
        ]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _prompt_logprobs(
    choice: dict[str, Any], ids: Sequence[int], start: int, name: str
) -> list[TokenLogprob]:
    logprobs = choice.get("logprobs") or {}
    values = logprobs.get("token_logprobs")
    tops = logprobs.get("top_logprobs") or [None] * len(ids)
    if (
        not isinstance(values, list)
        or len(values) < len(ids)
        or any(v is None for v in values[start : len(ids)])
    ):
        raise ModelError(
            f"{name}: the server returned no prompt log-probs (echo + logprobs "
            f"unsupported); {NEEDS_LOCAL}"
        )
    result = []
    for value, top in zip(values[start : len(ids)], tops[start : len(ids)], strict=True):
        best = max([float(value), *(float(v) for v in (top or {}).values())])
        result.append(TokenLogprob(float(value), best))
    return result


class RemoteTokenizer:
    """The server's own tokenizer and chat template, through /tokenize and /detokenize."""

    def __init__(self, root: JSONClient, model: str) -> None:
        self._root = root
        self._model = model

    def encode(self, text: str) -> list[int]:
        return self._tokenize({"prompt": text, "add_special_tokens": False})

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._call("/detokenize", {"model": self._model, "tokens": list(ids)})["prompt"])

    def encode_chat(
        self, messages: Conversation, *, add_generation_prompt: bool = True
    ) -> list[int]:
        continue_last = (
            add_generation_prompt and bool(messages) and messages[-1].get("role") == "assistant"
        )
        return self._tokenize(
            {
                "messages": [dict(m) for m in messages],
                "add_special_tokens": False,
                "add_generation_prompt": add_generation_prompt and not continue_last,
                "continue_final_message": continue_last,
            }
        )

    def _tokenize(self, body: dict[str, Any]) -> list[int]:
        return [int(t) for t in self._call("/tokenize", {"model": self._model, **body})["tokens"]]

    def _call(self, path: str, body: dict[str, Any]) -> Any:
        try:
            return self._root.post(path, body)
        except HTTPStatusError as exc:
            if exc.status in (404, 405):
                raise ModelError(
                    f"{self._root.base_url} has no {path} endpoint (vLLM and "
                    f"`bot serve` have one); token counting and scoring need "
                    f"it: {NEEDS_LOCAL}"
                ) from exc
            raise
