"""The optional judge suite (MT-Bench-branch analogue): a judge model rates answers 1-10.

For every branch QA item, the judge sees the question (with its context), the reference
answer and one model's greedy answer, and must reply with its rating in MT-Bench's format,
`Rating: [[N]]`, N an integer from 1 to 10. Parsing is strict: exactly one such marker,
anywhere in the reply; anything else (no marker, two markers, 0, 11, 7.5) is a parse
failure, counted per model and never guessed. Ratings are cached by (judge fingerprint,
prompt).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from trainer.evaluation.cache import ScoreCache
from trainer.evaluation.items import Item
from trainer.models import ChatModel, GenerationParams

JUDGE_VERSION = "judge.1"
_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
PROMPT = """You are a strict grader. Rate how well the assistant's answer responds to the \
question, using the reference answer as the standard for correctness.

{question}

[Reference answer]
{reference}

[Assistant's answer]
{answer}

Give a short justification, then your rating from 1 (useless) to 10 (as good as the \
reference) in exactly this format: Rating: [[N]]"""


@dataclass(frozen=True)
class JudgeSettings:
    max_new_tokens: int = 64


@dataclass(frozen=True)
class Rating:
    value: int | None  # None: the reply did not parse
    reply: str


def parse_rating(reply: str) -> int | None:
    """N from exactly one `[[N]]` in the reply, N an integer 1..10; None otherwise."""
    found = _RATING.findall(reply)
    if len(found) != 1 or "." in found[0]:
        return None
    value = int(found[0])
    return value if 1 <= value <= 10 else None


def judge_prompt(item: Item, answer: str) -> str:
    return PROMPT.format(question=item.prompt, reference=item.answer, answer=answer)


def rate(
    judge: ChatModel,
    jobs: Sequence[tuple[Item, str]],
    settings: JudgeSettings,
    cache: ScoreCache | None = None,
) -> list[Rating]:
    """One rating per (item, answer), batched; cached by the judge's fingerprint."""
    key = json.dumps({"judge": JUDGE_VERSION, "max_new_tokens": settings.max_new_tokens})
    prompts = [judge_prompt(item, answer) for item, answer in jobs]
    ids = [hashlib.sha256(p.encode()).hexdigest()[:24] for p in prompts]
    known = cache.load(judge.fingerprint, key) if cache else {}
    missing = sorted({i: p for i, p in zip(ids, prompts, strict=True) if i not in known}.items())
    if missing:
        params = GenerationParams(max_new_tokens=settings.max_new_tokens, temperature=0.0)
        outputs = judge.generate([[{"role": "user", "content": p}] for _, p in missing], params)
        fresh = {i: out.text for (i, _), out in zip(missing, outputs, strict=True)}
        known = {**known, **fresh}
        if cache:
            cache.save(judge.fingerprint, key, fresh)
    return [Rating(parse_rating(str(known[i])), str(known[i])) for i in ids]
