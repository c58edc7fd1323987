"""A model behind an OpenAI-compatible HTTP API: `vllm serve` in production, `bot serve`.

Generation uses /v1/chat/completions, one request per conversation, many in flight (the
server batches them). Token counting and scoring need two extensions that vLLM and
`bot serve` both provide: /tokenize + /detokenize at the server root, and /v1/completions
with a token-id prompt, echo, logprobs and max_tokens 0 (prompt log-probs, no generation).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import openai

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
from trainer.models.spec import OpenAISpec

SCORE_CHUNK = 8  # prompts per /v1/completions request: few round trips, short requests
NEEDS_LOCAL = "use a local backend (embedded, hf:DIR, vllm:MODEL) or a vLLM / `bot serve` server"
ATTEMPTS = 6  # tries per request; the openai client backs off with jitter between them
T = TypeVar("T")


class HTTPStatusError(ModelError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class OpenAIChatModel(ChatModelBase):
    """Through the `openai` client: its connection pool, timeouts and retries (408, 409, 429
    and 5xx, and dropped connections, with exponential backoff, jitter and the server's
    Retry-After)."""

    def __init__(
        self,
        spec: OpenAISpec,
        *,
        concurrency: int = 16,
        timeout_s: float = 600.0,
        attempts: int = ATTEMPTS,
        api_key: str | None = None,
    ) -> None:
        super().__init__(str(spec))
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.attempts = attempts
        # A server without keys ignores the header; the client insists on some key.
        self.api = openai.OpenAI(
            base_url=spec.base_url,
            api_key=key or "none",
            timeout=timeout_s,
            max_retries=attempts - 1,
        )
        # vLLM serves /tokenize beside /v1, not under it.
        self.root = self.api.with_options(base_url=spec.base_url.removesuffix("/v1"))
        self.model, self._fingerprint = self._pick_model(spec)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="openai")
        self._tokenizer = RemoteTokenizer(self, self.model)

    def call(self, what: str, request: Callable[[], T]) -> T:
        """`request()`, with the client's errors as ModelError saying what failed and how
        many attempts were made."""
        try:
            return request()
        except openai.APIStatusError as exc:
            status = exc.status_code
            tries = self.attempts if status in (408, 409, 429) or status >= 500 else 1
            message = f"{what}: HTTP {status}: {_error_message(exc)}"
            raise HTTPStatusError(status, _attempts(message, tries)) from None
        except openai.APIConnectionError as exc:  # refused, reset, timed out
            reason = exc.__cause__ or exc
            raise ModelError(_attempts(f"{what}: {reason}", self.attempts)) from None

    def _pick_model(self, spec: OpenAISpec) -> tuple[str, str]:
        listing = self.call(f"GET {self.api.base_url}models", self.api.models.list)
        entries = [e.to_dict() for e in listing.data if getattr(e, "id", None)]
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
            body["extra_body"] = {"add_generation_prompt": False, "continue_final_message": True}
        return body

    def _chat(self, body: dict[str, Any]) -> Generation:
        url = f"POST {self.api.base_url}chat/completions"
        response = self.call(url, lambda: self.api.chat.completions.create(**body))
        try:
            choice = response.choices[0]
            usage = response.usage
            reason: FinishReason = "length" if choice.finish_reason == "length" else "stop"
            return Generation(
                choice.message.content or "",
                reason,
                int(usage.prompt_tokens if usage else 0),
                int(usage.completion_tokens if usage else 0),
            )
        except (IndexError, TypeError, AttributeError) as exc:
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
        def request() -> Any:
            return self.api.completions.create(
                model=self.model,
                prompt=[list(ids) for ids, _ in requests],
                max_tokens=0,
                echo=True,
                logprobs=1,
                temperature=0.0,
            )

        try:
            response = self.call(f"POST {self.api.base_url}completions", request)
        except HTTPStatusError as exc:
            raise ModelError(
                f"{self.name}: scoring needs /v1/completions with echo and "
                f"logprobs, which this server refused ({exc}); {NEEDS_LOCAL}"
            ) from exc
        found = [c.to_dict() for c in response.choices or []]
        choices = sorted(found, key=lambda c: c.get("index", 0))
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
        self.api.close()


def _attempts(message: str, attempts: int) -> str:
    return f"{message} (after {attempts} attempts)" if attempts > 1 else message


def _error_message(exc: openai.APIStatusError) -> str:
    """The server's own words: OpenAI's {"error": {"message"}}, or vLLM's older
    {"message"} (the client hands over the inner object as the body)."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return str(exc.response.reason_phrase or exc.message)


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

    def __init__(self, model: OpenAIChatModel, name: str) -> None:
        self._owner = model
        self._model = name

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
        root = self._owner.root
        url = f"{str(root.base_url).rstrip('/')}{path}"
        try:
            return self._owner.call(
                f"POST {url}", lambda: root.post(path, cast_to=object, body=body)
            )
        except HTTPStatusError as exc:
            if exc.status in (404, 405):
                raise ModelError(
                    f"{str(root.base_url).rstrip('/')} has no {path} endpoint (vLLM and "
                    f"`bot serve` have one); token counting and scoring need "
                    f"it: {NEEDS_LOCAL}"
                ) from exc
            raise
