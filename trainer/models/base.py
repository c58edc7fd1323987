"""The model interface every backend implements, and the data it exchanges.

Consumers type against the `ChatModel` protocol; backends subclass `ChatModelBase`, which
turns the two primitives a backend must provide (`_generate` with explicit per-request seeds
and `score_tokens`) into the public `generate` and `loglikelihood`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol, Self

Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
Conversation = Sequence[Message]
FinishReason = Literal["stop", "length"]


class ModelError(RuntimeError):
    """A model could not be loaded or a backend call failed; the message is for humans."""


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings shared by a whole `generate` call.

    temperature 0 means greedy decoding (top_p is then ignored). `seed` selects the random
    stream of every request when sampling; see `ChatModel.generate` for what is guaranteed.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if isinstance(self.stop, str) or any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError("stop must be a tuple of non-empty strings")
        object.__setattr__(self, "stop", tuple(self.stop))


GREEDY = GenerationParams()


def sampling_fields(params: GenerationParams, seed: int) -> dict[str, Any]:
    """One request's sampling settings, one completion each, under the names the OpenAI
    API's request body and vLLM's `SamplingParams` share; `stop` only when there is one."""
    fields: dict[str, Any] = {
        "n": 1,
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "seed": seed,
    }
    if params.stop:
        fields["stop"] = list(params.stop)
    return fields


@dataclass(frozen=True)
class Generation:
    text: str  # the reply, cut before the first stop string; no end-of-turn token
    finish_reason: FinishReason  # "stop": end-of-turn token or stop string; "length": budget
    prompt_tokens: int
    completion_tokens: int  # tokens the model produced, including an end-of-turn token


@dataclass(frozen=True)
class Score:
    logprob: float  # sum of log p(token) over the continuation's tokens (natural log)
    num_tokens: int
    is_greedy: bool  # every continuation token was the model's most likely one

    @property
    def nll_per_token(self) -> float:
        return -self.logprob / self.num_tokens if self.num_tokens else 0.0


class TokenLogprob(NamedTuple):
    logprob: float  # log p(actual token | everything before it)
    top_logprob: float  # log p of the most likely token at this position
    top_token: int | None = None  # its id, where the backend reports ids

    @property
    def is_greedy(self) -> bool:
        return self.logprob >= self.top_logprob


class LoglikelihoodRequest(NamedTuple):
    """Score `continuation` as the assistant's reply to `context`.

    If the context ends with an assistant message, the continuation extends that message
    (useful for "The answer is" prefixes); otherwise it is a new assistant turn.
    """

    context: Conversation
    continuation: str


TokenScoreRequest = tuple[Sequence[int], int]  # (token ids, index of the first token scored)


class Tokenizer(Protocol):
    """Token counting and chat rendering with the model's own tokenizer and template."""

    def encode(self, text: str) -> list[int]:
        """Token ids of plain text, never adding special tokens."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids, special tokens included (the inverse of encode_chat)."""
        ...

    def encode_chat(
        self, messages: Conversation, *, add_generation_prompt: bool = True
    ) -> list[int]:
        """The conversation through the chat template.

        add_generation_prompt=True: a prompt for the next assistant turn (a trailing assistant
        message is left open to be continued). False: the conversation as a finished document,
        e.g. to count the tokens of a training example.
        """
        ...


class ChatModel(Protocol):
    @property
    def name(self) -> str:
        """What the user asked for (the spec string), for logs and /v1/models."""
        ...

    @property
    def fingerprint(self) -> str:
        """Stable id of weights + backend + numeric precision, for cache keys."""
        ...

    @property
    def tokenizer(self) -> Tokenizer: ...

    def generate(
        self,
        conversations: Sequence[Conversation],
        params: GenerationParams = GREEDY,
        *,
        seeds: Sequence[int] | None = None,
    ) -> list[Generation]:
        """One reply per conversation, in order.

        Greedy (temperature 0) needs no seed. When sampling, request i draws from its own
        random stream seeded by seeds[i], by default derived from (params.seed, the
        conversation, how many identical conversations came before it in this call), so its
        stream never depends on the other requests or on how the backend batches them.

        Guaranteed (local backends): the same call on the same machine and software gives
        the same replies. Batching does not change the computation, only float rounding
        (padding changes matrix shapes), which could flip a near-tie between two tokens:
        not observed - tests hold batched == one-at-a-time, greedy and sampled. Remote
        backends pass seeds[i] as the request's `seed`; `bot serve` keeps this guarantee,
        vLLM its own (seeded per request).
        """
        ...

    def loglikelihood(self, requests: Sequence[tuple[Conversation, str]]) -> list[Score]:
        """Log-probability of each continuation given its chat-templated context."""
        ...

    def score_tokens(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        """Per-token log-probs of ids[start:] for each (ids, start), start >= 1."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ChatModelBase(ABC):
    """Shared front half of every backend: validation, seeds, loglikelihood."""

    _fingerprint: str  # set by the backend's __init__ (or `fingerprint` overridden)
    _tokenizer: Tokenizer

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    @abstractmethod
    def _generate(
        self, conversations: Sequence[Conversation], params: GenerationParams, seeds: Sequence[int]
    ) -> list[Generation]: ...

    @abstractmethod
    def score_tokens(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]: ...

    def generate(
        self,
        conversations: Sequence[Conversation],
        params: GenerationParams = GREEDY,
        *,
        seeds: Sequence[int] | None = None,
    ) -> list[Generation]:
        for i, conversation in enumerate(conversations):
            check_conversation(conversation, f"conversation {i}")
        if seeds is None:
            seeds = derive_seeds(conversations, params.seed)
        elif len(seeds) != len(conversations):
            raise ValueError(f"{len(seeds)} seeds for {len(conversations)} conversations")
        return self._generate(conversations, params, seeds) if conversations else []

    def loglikelihood(self, requests: Sequence[tuple[Conversation, str]]) -> list[Score]:
        token_requests: list[TokenScoreRequest] = []
        for i, (context, continuation) in enumerate(requests):
            check_conversation(context, f"request {i}", allow_empty=True)
            prefix = self.tokenizer.encode_chat(context)
            # Tokenised apart and concatenated, so the scored tokens are exactly the
            # continuation's own tokens whatever the template ends with.
            token_requests.append(([*prefix, *self.tokenizer.encode(continuation)], len(prefix)))
        scorable = [i for i, (ids, start) in enumerate(token_requests) if len(ids) > start]
        per_token = self.score_tokens([token_requests[i] for i in scorable])
        scores = [Score(0.0, 0, True) for _ in requests]
        for i, tokens in zip(scorable, per_token, strict=True):
            scores[i] = Score(
                sum(t.logprob for t in tokens), len(tokens), all(t.is_greedy for t in tokens)
            )
        return scores

    def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing
        """Release the weights / connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_conversation(conversation: Conversation, what: str, *, allow_empty: bool = False) -> None:
    if isinstance(conversation, str | bytes) or not isinstance(conversation, Sequence):
        raise ValueError(f"{what}: expected a list of messages, got {type(conversation).__name__}")
    if not conversation and not allow_empty:
        raise ValueError(f"{what}: no messages")
    for j, message in enumerate(conversation):
        if (
            not isinstance(message, Mapping)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise ValueError(f"{what}, message {j}: needs string 'role' and 'content'")


def derive_seeds(conversations: Sequence[Conversation], seed: int) -> list[int]:
    """One 63-bit seed per request from (seed, conversation, occurrence number).

    Content-derived rather than position-derived: adding or reordering other requests (a new
    leaf in the taxonomy) leaves every other request's samples unchanged, while repeated
    identical conversations still get different samples.
    """
    seen: Counter[str] = Counter()
    seeds = []
    for conversation in conversations:
        key = json.dumps([sorted(m.items()) for m in conversation], ensure_ascii=False)
        digest = hashlib.sha256(f"{seed}\0{seen[key]}\0{key}".encode()).digest()
        seen[key] += 1
        seeds.append(int.from_bytes(digest[:8], "big") >> 1)
    return seeds


def find_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index of the earliest stop string in text, or None."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None
