"""SPIN-style preference pairs: the reference answer is chosen, the model's own reply to the
same prompt is rejected.

Self-play (SPIN) needs no preference labels: the SFT data already says what a good answer
is, and whatever the current model says instead is, by construction, what it should move
away from. Each round regenerates the rejected side with the latest checkpoint. Where the
model already gives the reference answer (or nothing), there is nothing to learn from the
pair, so it is skipped and counted.

A pairs file is JSONL, one pair a line:
`{"prompt": [messages...], "chosen": str, "rejected": str, "metadata": {...}}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.data.rows import DataError, Row
from trainer.models.cache import write_atomic

if TYPE_CHECKING:
    from trainer.models.base import ChatModel

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class PairConfig:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0: greedy; otherwise sampled with per-prompt seeds from `seed`
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 64  # prompts per generate() call (bounds memory, not results)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("pairs batch_size must be >= 1")


@dataclass(frozen=True)
class Pair:
    prompt: list[dict[str, str]]  # ends with a user (or system) message
    chosen: str
    rejected: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "chosen": self.chosen,
            "rejected": self.rejected,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class PairsResult:
    pairs: list[Pair]
    identical: int  # skipped: the model already answers with the reference
    empty: int  # skipped: the model's reply was empty
    truncated: int  # kept: the rejected reply ran out of max_new_tokens


def _messages_problem(messages: Any, what: str) -> str | None:
    if not isinstance(messages, list) or not messages:
        return f"'{what}' must be a non-empty list of messages"
    for i, m in enumerate(messages):
        if (
            not isinstance(m, dict)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            return f"{what}[{i}] needs a role ({', '.join(ROLES)}) and string content"
    return None


def check_sft_row(row: Any) -> str | None:
    """Why `row` cannot seed a pair, or None: it needs messages ending in a non-empty
    assistant answer (the chosen side) after at least one message (the prompt)."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    messages: Any = row.get("messages")
    problem = _messages_problem(messages, "messages")
    if problem:
        return problem
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        return "the last message must be the assistant's reference answer (none found)"
    if len(messages) < 2:
        return "no prompt before the assistant's answer"
    if "metadata" in row and not isinstance(row["metadata"], dict):
        return "'metadata' must be an object"
    return None


def parse_pair(obj: Any) -> Pair:
    """A pair from its JSON form; raises ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    problem = _messages_problem(obj.get("prompt"), "prompt")
    if problem:
        raise ValueError(problem)
    if obj["prompt"][-1]["role"] == "assistant":
        raise ValueError("the prompt must end before the answer (its last message is 'assistant')")
    for side in ("chosen", "rejected"):
        if not isinstance(obj.get(side), str) or not obj[side].strip():
            raise ValueError(f"'{side}' must be a non-empty string")
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError("'metadata' must be an object")
    return Pair(list(obj["prompt"]), obj["chosen"], obj["rejected"], metadata)


def _jsonl(path: Path) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, 0, f"cannot read: {exc}") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DataError(path, n, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    return out


def read_sft_rows(path: Path) -> list[Row]:
    """SFT rows that can seed pairs; a row that cannot fails with its file:line."""
    rows = []
    for n, row in _jsonl(path):
        problem = check_sft_row(row)
        if problem:
            raise DataError(path, n, problem)
        rows.append(row)
    return rows


def read_pairs(path: Path) -> list[tuple[int, Pair]]:
    """The pairs of a file, each with its 1-based line number (for later error messages)."""
    pairs = []
    for n, obj in _jsonl(path):
        try:
            pairs.append((n, parse_pair(obj)))
        except ValueError as exc:
            raise DataError(path, n, str(exc)) from None
    return pairs


def write_pairs(path: Path, pairs: Sequence[Pair]) -> None:
    """Write atomically: a killed run leaves the old file or the new one, never half."""
    write_atomic(path, "".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in pairs))


def build_pairs(rows: Sequence[Row], model: ChatModel, config: PairConfig) -> PairsResult:
    """One pair per row whose reference answer differs from `model`'s reply to the messages
    before it. Metadata is the row's, plus the rejecting model's fingerprint and how its
    reply ended."""
    from trainer.models.base import GenerationParams, derive_seeds

    for i, row in enumerate(rows):
        problem = check_sft_row(row)
        if problem:
            raise ValueError(f"row {i}: {problem}")
    params = GenerationParams(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        seed=config.seed,
    )
    prompts = [list(r["messages"][:-1]) for r in rows]
    # Seeds over the whole list, so batch_size never changes a sampled reply.
    seeds = derive_seeds(prompts, config.seed)
    pairs: list[Pair] = []
    identical = empty = truncated = 0
    for start in range(0, len(rows), config.batch_size):
        batch = slice(start, start + config.batch_size)
        replies = model.generate(prompts[batch], params, seeds=seeds[batch])
        for row, prompt, gen in zip(rows[batch], prompts[batch], replies, strict=True):
            reference = row["messages"][-1]["content"]
            rejected = gen.text.strip()
            if not rejected:
                empty += 1
                continue
            if rejected == reference.strip():
                identical += 1
                continue
            truncated += gen.finish_reason == "length"
            meta = {
                **row.get("metadata", {}),
                "rejected_by": model.fingerprint,
                "rejected_finish": gen.finish_reason,
            }
            pairs.append(Pair([dict(m) for m in prompt], reference, rejected, meta))
    return PairsResult(pairs, identical, empty, truncated)
