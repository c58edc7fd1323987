"""Candidate vs reference: per-item metrics, per-leaf and per-suite decisions, failures.

One primary metric, declared here before anything is scored: the reference answer's
negative log-likelihood per token (`nll`), paired per item. A leaf's verdict comes from it
alone: a paired test (trainer/evaluation/significance.py: exact sign flips up to 20 items,
a bootstrap clustered by source above), Holm-corrected across the leaves of a suite, and a
change whose interval reaches into the noise band measured between two trainings of the
same data (trainer/evaluation/noise.py) is no change. Multiple choice, ROUGE-L, exact match and a
judge are descriptive: a mean difference and its interval, never a verdict.

Knowledge items with a placebo twin add a difference in differences: how much more the true
answer gained than its twin with a fact in no document (`nll_vs_placebo`, lower is better).

The reference is the model this change replaces (the previous release or retrain) when
there is one, else the base; the candidate is also compared with the base, descriptively.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from trainer.evaluation.items import Item
from trainer.evaluation.judge import Rating
from trainer.evaluation.metrics import Better, choose_option, exact_match, nll_per_token, rouge_l
from trainer.evaluation.run import ItemScores
from trainer.evaluation.significance import Decision, PairedTest, decide, paired_test
from trainer.evaluation.suites import Group

PRIMARY = "nll"
PLACEBO = "nll_vs_placebo"
DESCRIPTIVE = ("mc_acc", "doc_mc_acc", "rouge_l", "exact", "judge")
SUITES = ("branch", "regression", "memorization", "judge")
# The suites whose verdicts count: what the change taught, and what it may have forgotten.
DECIDED = ("branch", "regression")
# Largest tolerated worsening of a suite's primary metric (nats per token) before a
# significant regression beyond the noise band fails the run.
DEFAULT_MAX_REGRESSION: dict[str, float] = {PRIMARY: 0.05}

Bands = Mapping[str, tuple[float, float]]  # "leaf:nll", "suite:nll", ... -> A/A delta band


@dataclass(frozen=True)
class StatSettings:
    seed: int = 0
    resamples: int = 10_000
    alpha: float = 0.05
    max_regression: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_MAX_REGRESSION)
    )
    noise: Bands = field(default_factory=dict)


@dataclass(frozen=True)
class GroupResult:
    suite: str
    name: str
    kind: str
    origins: dict[str, int]  # items by origin (seed, fact, teacher, general, document)
    primary: Decision | None  # candidate vs reference, the verdict
    placebo: Decision | None = None  # knowledge: true answer vs its placebo twin
    vs_base: PairedTest | None = None  # candidate vs base on the primary metric
    descriptive: list[PairedTest] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return self.primary.verdict if self.primary else "too few items"


@dataclass(frozen=True)
class Failure:
    suite: str
    metric: str
    delta: float
    threshold: float


@dataclass(frozen=True)
class Comparison:
    suites: list[GroupResult]  # one per suite, pooled over its items
    groups: list[GroupResult]
    failures: list[Failure]


def item_metrics(item: Item, scores: ItemScores) -> dict[str, float]:
    """The metric values one model earned on one item."""
    out: dict[str, float] = {}
    if scores.answer_logprob is not None:  # doc_mc: the document's own sentence (memorization)
        nll = nll_per_token(scores.answer_logprob, scores.answer_tokens)
        if nll is not None:
            out[PRIMARY] = nll
    if item.placebo is not None and scores.placebo_logprob is not None:
        twin = nll_per_token(scores.placebo_logprob, scores.placebo_tokens)
        if twin is not None:
            out["placebo_nll"] = twin
    if item.has_mc and scores.option_logprobs:
        pick = choose_option(scores.option_logprobs, item.options, normalize=item.type == "qa")
        out["mc_acc" if item.type == "qa" else "doc_mc_acc"] = float(pick == item.correct)
    if item.type == "qa" and scores.generation is not None:
        out["rouge_l"] = rouge_l(scores.generation, item.answer)
        out["exact"] = exact_match(scores.generation, item.answer)
    return out


@dataclass
class Pairs:
    """Paired values of one group (or suite) per metric, with each item's source."""

    values: dict[str, list[tuple[float, float, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    origins: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, metric: str, ref: float, cand: float, source: str) -> None:
        self.values[metric].append((ref, cand, source))


def collect(
    items: Sequence[Item],
    reference: Mapping[str, ItemScores],
    candidate: Mapping[str, ItemScores],
    base: Mapping[str, ItemScores] | None = None,
    judged: Mapping[str, tuple[Rating, Rating]] | None = None,
) -> dict[tuple[str, str], Pairs]:
    """(suite, group) -> paired values per metric. `base` adds "nll_vs_base" pairs."""
    out: dict[tuple[str, str], Pairs] = defaultdict(Pairs)
    for item in items:
        r, c = item_metrics(item, reference[item.id]), item_metrics(item, candidate[item.id])
        pairs = out[(item.suite, item.group)]
        pairs.origins[item.origin] += 1
        source = f"{item.group}\0{item.source or item.id}"
        for metric in (PRIMARY, *DESCRIPTIVE):
            if metric in r and metric in c:
                pairs.add(metric, r[metric], c[metric], source)
        if "placebo_nll" in r and "placebo_nll" in c and PRIMARY in r and PRIMARY in c:
            # the twin's change, then the true answer's: lower delta = knowledge, not form
            pairs.add(PLACEBO, c["placebo_nll"] - r["placebo_nll"], c[PRIMARY] - r[PRIMARY], source)
        if base is not None and PRIMARY in c:
            b = item_metrics(item, base[item.id])
            if PRIMARY in b:
                pairs.add("nll_vs_base", b[PRIMARY], c[PRIMARY], source)
        if judged and item.id in judged:
            rb, rc = judged[item.id]
            if rb.value is not None and rc.value is not None:
                out[("judge", item.group)].add("judge", float(rb.value), float(rc.value), source)
    return out


def _test(metric: str, label: str, pairs: Pairs, settings: StatSettings) -> PairedTest | None:
    values = pairs.values.get(metric)
    if not values:
        return None
    key = hashlib.sha256(f"{settings.seed}\0{label}\0{metric}".encode()).digest()
    return paired_test(
        metric.removesuffix("_vs_base"),
        [r for r, _, _ in values],
        [c for _, c, _ in values],
        [s for _, _, s in values],
        seed=int.from_bytes(key[:8], "big"),
        resamples=settings.resamples,
    )


BETTER: dict[str, Better] = {PRIMARY: "lower", PLACEBO: "lower"}


def _within_noise(decision: Decision, band: tuple[float, float] | None) -> Decision:
    """A significant change counts only when its whole interval clears the A/A noise band.

    The item-level interval describes the items, the band the seeds; a point estimate just
    past the band is still within reach of seed noise (a minimum-effect rule: the near end
    of the interval must be beyond the band). The A/A check pairs measure what this buys
    (benchmarks/noise_floor.py)."""
    if band is None or decision.verdict not in ("improved", "regressed"):
        return decision
    lo, hi = band
    near_lo, near_hi = decision.test.ci or (decision.test.delta, decision.test.delta)
    if near_lo > hi or near_hi < lo:
        return decision
    return replace(
        decision,
        verdict="no significant change",
        reason=f"significant over items (p {decision.p_adjusted:.3g}), but its interval "
        f"[{near_lo:+.3f}, {near_hi:+.3f}] reaches into the noise band [{lo:+.3f}, {hi:+.3f}] "
        "of two trainings of the same data",
    )


def _decisions(
    tests: Sequence[PairedTest | None], metric: str, level: str, settings: StatSettings
) -> list[Decision | None]:
    """Holm across one family (the groups of a suite), then the noise band."""
    present = [t for t in tests if t is not None]
    decided = iter(decide(present, {metric: BETTER[metric]}, settings.alpha) if present else [])
    band = settings.noise.get(f"{level}:{metric}")
    return [_within_noise(next(decided), band) if t is not None else None for t in tests]


def _groups(
    collected: Mapping[tuple[str, str], Pairs],
    kinds: Mapping[tuple[str, str], str],
    settings: StatSettings,
) -> list[GroupResult]:
    out = []
    for suite in SUITES:
        keys = sorted(k for k in collected if k[0] == suite)
        tests = [_test(PRIMARY, f"{s}\0{n}", collected[(s, n)], settings) for s, n in keys]
        twins = [_test(PLACEBO, f"{s}\0{n}", collected[(s, n)], settings) for s, n in keys]
        primary = (
            _decisions(tests, PRIMARY, "leaf", settings) if suite in DECIDED else [None] * len(keys)
        )
        placebo = (
            _decisions(twins, PLACEBO, "leaf", settings)
            if suite == "branch"
            else [None] * len(keys)
        )
        for (s, n), dec, twin in zip(keys, primary, placebo, strict=True):
            pairs = collected[(s, n)]
            out.append(GroupResult(
                s, n, kinds.get((s, n)) or kinds.get(("branch", n), ""), dict(pairs.origins),
                dec, twin, _test("nll_vs_base", f"{s}\0{n}", pairs, settings),
                _descriptive(s, f"{s}\0{n}", pairs, settings),
            ))  # fmt: skip
    return out


def _descriptive(suite: str, label: str, pairs: Pairs, settings: StatSettings) -> list[PairedTest]:
    """Intervals without verdicts; a suite that decides nothing (memorization: the training
    documents themselves) reports its NLL here too."""
    metrics = DESCRIPTIVE if suite in DECIDED else (PRIMARY, *DESCRIPTIVE)
    return [t for m in metrics if (t := _test(m, label, pairs, settings))]


def _suites(
    collected: Mapping[tuple[str, str], Pairs], settings: StatSettings
) -> list[GroupResult]:
    out = []
    for suite in SUITES:
        pooled = Pairs()
        for (s, _), pairs in collected.items():
            if s != suite:
                continue
            for metric, values in pairs.values.items():
                pooled.values[metric] += values
            for origin, n in pairs.origins.items():
                pooled.origins[origin] += n
        if not pooled.values:
            continue
        test = _test(PRIMARY, suite, pooled, settings)
        [primary] = _decisions([test], PRIMARY, "suite", settings) if suite in DECIDED else [None]
        [twin] = _decisions([_test(PLACEBO, suite, pooled, settings)], PLACEBO, "suite", settings)
        out.append(GroupResult(
            suite, suite, "suite", dict(pooled.origins), primary,
            twin if suite == "branch" else None, _test("nll_vs_base", suite, pooled, settings),
            _descriptive(suite, suite, pooled, settings),
        ))  # fmt: skip
    return out


def compare(
    groups: Sequence[Group], collected: Mapping[tuple[str, str], Pairs], settings: StatSettings
) -> Comparison:
    kinds = {(g.suite, g.name): g.kind for g in groups}
    suites = _suites(collected, settings)
    failures = []
    for s in suites:
        if s.primary is None or s.primary.verdict != "regressed":
            continue
        limit = settings.max_regression.get(PRIMARY, math.inf)
        if s.primary.test.delta > limit:  # nll: a rise is a worsening
            failures.append(Failure(s.suite, PRIMARY, s.primary.test.delta, limit))
    return Comparison(suites, _groups(collected, kinds, settings), failures)
