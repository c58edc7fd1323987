"""Score one model on a list of items: batched log-likelihoods and greedy answers.

Every (prompt, continuation) pair is scored once however many items share it (a QA item's
reference answer is also its right option), all of them through `ChatModel.loglikelihood`
in chunks that keep a prompt's continuations together (longest prompts first), and greedy
answers through `ChatModel.generate`, grouped by token budget. Cost is linear in the number
of items. Results are cached per model fingerprint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from trainer.evaluation.cache import ScoreCache
from trainer.evaluation.items import Item
from trainer.models import ChatModel, GenerationParams, load_model, model_fingerprint

SCORER_VERSION = "bench-score.3"
LL_CHUNK = 64  # requests per loglikelihood call: the backend batches within it; progress between
GEN_CHUNK = 32

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class ScoreSettings:
    max_new_tokens: int = 48  # greedy answer budget (ROUGE-L, judge)
    short_new_tokens: int = 16  # the same for few-word references (the general set)
    answers: bool = True  # False: log-likelihoods only (no greedy answers, no ROUGE-L)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.short_new_tokens < 1:
            raise ValueError("token budgets must be >= 1")

    def key(self) -> str:
        return json.dumps({"scorer": SCORER_VERSION, **asdict(self)}, sort_keys=True)

    def budget(self, item: Item) -> int:
        return (
            min(self.short_new_tokens, self.max_new_tokens) if item.short else self.max_new_tokens
        )


@dataclass(frozen=True)
class ItemScores:
    answer_logprob: float | None = None  # qa: sum log p(reference | prompt)
    answer_tokens: int = 0
    option_logprobs: tuple[float, ...] = ()  # in the item's option order
    generation: str | None = None  # qa: the greedy answer
    placebo_logprob: float | None = None  # sum log p(placebo twin | prompt)
    placebo_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "option_logprobs": list(self.option_logprobs)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ItemScores:
        return cls(
            doc.get("answer_logprob"),
            int(doc.get("answer_tokens", 0)),
            tuple(float(x) for x in doc.get("option_logprobs", ())),
            doc.get("generation"),
            doc.get("placebo_logprob"),
            int(doc.get("placebo_tokens", 0)),
        )


@dataclass(frozen=True)
class ModelRun:
    spec: str
    fingerprint: str
    scores: dict[str, ItemScores]  # by item id
    scored: int  # items computed in this run
    cached: int  # items read from the cache
    seconds: float  # wall time, model loading included


def _conv(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def score_items(
    model: ChatModel,
    items: Sequence[Item],
    settings: ScoreSettings,
    progress: Progress | None = None,
) -> dict[str, ItemScores]:
    """Raw scores of each item (by id) from one model, all requests batched."""
    pairs: dict[tuple[str, str], int] = {}
    for item in items:
        pairs.setdefault((item.prompt, item.answer), len(pairs))  # doc_mc: its right option
        if item.placebo is not None:
            pairs.setdefault((item.prompt, item.placebo), len(pairs))
        if item.has_mc:
            assert item.mc_prompt is not None
            for option in item.options:
                pairs.setdefault((item.mc_prompt, option), len(pairs))
    gens: dict[tuple[str, int], int] = {}
    for item in items:
        if item.type == "qa" and settings.answers:
            gens.setdefault((item.prompt, settings.budget(item)), len(gens))
    total = len(pairs) + len(gens)
    done = 0
    report = progress or (lambda phase, done, total: None)
    report("scoring", 0, total)
    logprob: dict[tuple[str, str], tuple[float, int]] = {}
    for chunk in ll_chunks(pairs):
        scores = model.loglikelihood([(_conv(p), c) for p, c in chunk])
        for key, score in zip(chunk, scores, strict=True):
            logprob[key] = (score.logprob, score.num_tokens)
        done += len(chunk)
        report("scoring", done, total)
    answers: dict[tuple[str, int], str] = {}
    for budget in sorted({b for _, b in gens}):
        wanted = sorted((k for k in gens if k[1] == budget), key=lambda k: -len(k[0]))
        params = GenerationParams(max_new_tokens=budget, temperature=0.0)
        for start in range(0, len(wanted), GEN_CHUNK):
            batch = wanted[start : start + GEN_CHUNK]
            outputs = model.generate([_conv(p) for p, _ in batch], params)
            for gen_key, out in zip(batch, outputs, strict=True):
                answers[gen_key] = out.text.strip()
            done += len(batch)
            report("answering", done, total)
    results = {}
    for item in items:
        lp, n = logprob.get((item.prompt, item.answer), (None, 0))
        options: tuple[float, ...] = ()
        if item.has_mc:
            options = tuple(logprob[(item.mc_prompt or "", o)][0] for o in item.options)
        gen = answers.get((item.prompt, settings.budget(item))) if item.type == "qa" else None
        plp, pn = logprob.get((item.prompt, item.placebo), (None, 0)) if item.placebo else (None, 0)
        results[item.id] = ItemScores(lp, n, options, gen, plp, pn)
    return results


def ll_chunks(pairs: Iterable[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Pairs in chunks of about LL_CHUNK, longest prompts first, never splitting a prompt's
    continuations: a backend can then score a shared prompt once for all its options."""
    by_prompt: dict[str, list[tuple[str, str]]] = {}
    for key in pairs:
        by_prompt.setdefault(key[0], []).append(key)
    chunks: list[list[tuple[str, str]]] = [[]]
    for prompt in sorted(by_prompt, key=lambda p: (-len(p), p)):
        if chunks[-1] and len(chunks[-1]) + len(by_prompt[prompt]) > LL_CHUNK:
            chunks.append([])
        chunks[-1].extend(by_prompt[prompt])
    return [c for c in chunks if c]


def run_model(
    spec: str,
    items: Sequence[Item],
    settings: ScoreSettings,
    *,
    cache: ScoreCache | None = None,
    progress: Progress | None = None,
    device: str | None = None,
    loaded: ChatModel | None = None,
    fingerprint: str | None = None,
) -> ModelRun:
    """Scores of every item for the model `spec` names, from the cache where possible.

    The model is loaded only when some item is missing from the cache (or `loaded` given).
    """
    started = time.monotonic()
    if fingerprint is None:
        fingerprint = loaded.fingerprint if loaded else model_fingerprint(spec, device=device)
    key = settings.key()
    known = cache.load(fingerprint, key) if cache else {}
    unique = list({item.id: item for item in items}.values())
    missing = [item for item in unique if item.id not in known]
    scores = {i: ItemScores.from_json(known[i]) for i in {it.id for it in unique} if i in known}
    if missing:
        model = loaded or load_model(spec, device=device)
        try:
            fresh = score_items(model, missing, settings, progress)
        finally:
            if loaded is None:
                model.close()
        scores.update(fresh)
        if cache:
            cache.save(fingerprint, key, {k: v.to_json() for k, v in fresh.items()})
    return ModelRun(
        spec,
        fingerprint,
        scores,
        len(missing),
        len(unique) - len(missing),
        time.monotonic() - started,
    )
