"""Base vs candidate: per-item metrics, per-leaf and per-suite deltas, verdicts, failures."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from trainer.evaluation.items import Item
from trainer.evaluation.judge import Rating
from trainer.evaluation.metrics import METRIC_ORDER, choose_option, nll_per_token, oriented, rouge_l
from trainer.evaluation.run import ItemScores
from trainer.evaluation.stats import (
    DEFAULT_MIN_ITEMS,
    DEFAULT_RESAMPLES,
    Delta,
    Verdict,
    combine,
    paired_delta,
)
from trainer.evaluation.suites import Group

# Largest tolerated worsening of a suite's mean (in the metric's own unit) before a
# significant regression fails the run: NLL in nats per token, the rest as fractions
# (0.05 = 5 points of accuracy or ROUGE-L), judge ratings in points.
DEFAULT_MAX_REGRESSION: dict[str, float] = {
    "nll": 0.05,
    "mc_acc": 0.05,
    "doc_mc_acc": 0.05,
    "rouge_l": 0.05,
    "judge": 0.5,
}


@dataclass(frozen=True)
class StatSettings:
    seed: int = 0
    resamples: int = DEFAULT_RESAMPLES
    min_items: int = DEFAULT_MIN_ITEMS
    max_regression: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_MAX_REGRESSION)
    )


@dataclass(frozen=True)
class GroupResult:
    suite: str
    name: str
    kind: str
    deltas: list[Delta]
    verdict: Verdict


@dataclass(frozen=True)
class SuiteResult:
    name: str
    groups: int
    items: int
    deltas: list[Delta]
    verdict: Verdict


@dataclass(frozen=True)
class Failure:
    suite: str
    metric: str
    delta: float
    threshold: float


@dataclass(frozen=True)
class Comparison:
    suites: list[SuiteResult]
    groups: list[GroupResult]
    failures: list[Failure]


def item_metrics(item: Item, scores: ItemScores) -> dict[str, float]:
    """The metric values one model earned on one item."""
    out: dict[str, float] = {}
    if item.type == "qa" and scores.answer_logprob is not None:
        nll = nll_per_token(scores.answer_logprob, scores.answer_tokens)
        if nll is not None:
            out["nll"] = nll
    if item.has_mc and scores.option_logprobs:
        pick = choose_option(scores.option_logprobs, item.options, normalize=item.type == "qa")
        out["mc_acc" if item.type == "qa" else "doc_mc_acc"] = float(pick == item.correct)
    if item.type == "qa" and scores.generation is not None:
        out["rouge_l"] = rouge_l(scores.generation, item.answer)
    return out


Pairs = dict[str, list[tuple[float, float]]]  # metric -> (base, candidate) per item


def collect(
    items: Sequence[Item],
    base: Mapping[str, ItemScores],
    candidate: Mapping[str, ItemScores],
    judged: Mapping[str, tuple[Rating, Rating]] | None = None,
) -> dict[tuple[str, str], Pairs]:
    """(suite, group) -> metric -> paired values, judge ratings as suite "judge"."""
    out: dict[tuple[str, str], Pairs] = defaultdict(lambda: defaultdict(list))
    for item in items:
        b, c = item_metrics(item, base[item.id]), item_metrics(item, candidate[item.id])
        for metric in METRIC_ORDER:
            if metric in b and metric in c:
                out[(item.suite, item.group)][metric].append((b[metric], c[metric]))
        if judged and item.id in judged:
            rb, rc = judged[item.id]
            if rb.value is not None and rc.value is not None:
                out[("judge", item.group)]["judge"].append((float(rb.value), float(rc.value)))
    return out


def _deltas(label: str, pairs: Pairs, settings: StatSettings) -> list[Delta]:
    return [
        paired_delta(
            metric,
            [b for b, _ in pairs[metric]],
            [c for _, c in pairs[metric]],
            seed=f"{settings.seed}\0{label}",
            resamples=settings.resamples,
            min_items=settings.min_items,
        )
        for metric in METRIC_ORDER
        if pairs.get(metric)
    ]


def compare(
    groups: Sequence[Group],
    collected: Mapping[tuple[str, str], Pairs],
    settings: StatSettings,
    suite_items: Mapping[str, int],
) -> Comparison:
    group_results = []
    kinds = {(g.suite, g.name): g.kind for g in groups}
    for suite, name in sorted(collected, key=lambda k: (_SUITES.index(k[0]), k[1])):
        deltas = _deltas(f"{suite}\0{name}", collected[(suite, name)], settings)
        kind = kinds.get((suite, name)) or kinds.get(("branch", name), "")
        group_results.append(
            GroupResult(suite, name, kind, deltas, combine([d.verdict for d in deltas]))
        )
    suites, failures = [], []
    for suite in _SUITES:
        pooled: Pairs = defaultdict(list)
        names = [n for s, n in collected if s == suite]
        for name in names:
            for metric, values in collected[(suite, name)].items():
                pooled[metric] += values
        if not pooled and not suite_items.get(suite):
            continue
        deltas = _deltas(suite, pooled, settings)
        verdict = combine([d.verdict for d in deltas])
        suites.append(SuiteResult(suite, len(names), suite_items.get(suite, 0), deltas, verdict))
        for d in deltas:
            limit = settings.max_regression.get(d.metric, math.inf)
            if d.verdict == "regressed" and -oriented(d.metric, d.delta) > limit:
                failures.append(Failure(suite, d.metric, d.delta, limit))
    return Comparison(suites, group_results, failures)


_SUITES = ("branch", "regression", "judge")
