"""One benchmark: build the suites, score every model on the same items, compare.

    result = run_benchmark(BenchConfig("embedded", "hf:out/ckpt", previous="hf:last"),
                           selected, leaves, scores=dir)
    write_reports(result, out_dir)   # report.json, report.md, deltas.png

The candidate's verdicts are against the reference: the previous model (the release or
retrain this change replaces) when given, else the base; the base is always scored too, so
the report shows both. Every model sees exactly the same items; greedy decoding needs no
seed, and the statistics are seeded (`StatSettings.seed`). Models with the same fingerprint
are one model, scored once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from trainer.evaluation.cache import ScoreCache
from trainer.evaluation.compare import Comparison, StatSettings, collect, compare
from trainer.evaluation.heldout import DEFAULT_FACTS
from trainer.evaluation.judge import JudgeSettings, Rating, rate
from trainer.evaluation.run import ModelRun, Progress, ScoreSettings, run_model
from trainer.evaluation.suites import DEFAULT_DOC_MC_PER_LEAF, LeafSource, Plan, build
from trainer.models import load_model, model_fingerprint

ProgressFactory = Callable[[str], Progress]  # label ("base: embedded") -> callback


@dataclass(frozen=True)
class BenchConfig:
    base: str
    candidate: str
    previous: str | None = None  # the model the candidate replaces (None: the base)
    score: ScoreSettings = field(default_factory=ScoreSettings)
    stats: StatSettings = field(default_factory=StatSettings)
    facts: int = DEFAULT_FACTS  # document facts per knowledge leaf
    doc_mc_per_leaf: int = DEFAULT_DOC_MC_PER_LEAF  # memorization items per knowledge leaf
    regression: bool = True  # the untouched leaves
    general: bool = True  # the general set
    judge: str | None = None
    judge_settings: JudgeSettings = field(default_factory=JudgeSettings)
    device: str | None = None
    use_cache: bool = True
    training: frozenset[tuple[str, ...]] = frozenset()  # training rows' word 8-grams


@dataclass(frozen=True)
class JudgeRun:
    spec: str
    fingerprint: str
    ratings: dict[str, tuple[Rating, Rating]]  # item id -> (reference, candidate)


@dataclass(frozen=True)
class BenchResult:
    config: BenchConfig
    plan: Plan
    base: ModelRun
    previous: ModelRun | None  # None: the base is the reference
    candidate: ModelRun
    comparison: Comparison
    judge: JudgeRun | None
    selection: dict[str, object]  # how the leaves were chosen, for the report
    seconds: float

    @property
    def reference(self) -> ModelRun:
        return self.previous or self.base


def _score_all(
    config: BenchConfig,
    plan: Plan,
    cache: ScoreCache | None,
    progress: ProgressFactory | None,
) -> tuple[ModelRun, ModelRun | None, ModelRun]:
    """Base, previous and candidate scores; a model seen before (same fingerprint) reuses
    the earlier run. Every spec is resolved before anything is scored, so a bad one fails
    in a second."""
    specs = {"base": config.base, "candidate": config.candidate}
    if config.previous:
        specs = {"base": config.base, "previous": config.previous, "candidate": config.candidate}
    prints = {role: model_fingerprint(spec, device=config.device) for role, spec in specs.items()}
    if config.judge:
        model_fingerprint(config.judge, device=config.device)
    runs: dict[str, ModelRun] = {}
    done: dict[str, ModelRun] = {}  # by fingerprint
    for role, spec in specs.items():
        fp = prints[role]
        if fp in done:
            runs[role] = replace(done[fp], spec=spec, scored=0, cached=len(done[fp].scores))
            continue
        bar = progress(f"{role} {spec}") if progress else None
        runs[role] = done[fp] = run_model(
            spec, plan.items, config.score, cache=cache, progress=bar,
            device=config.device, fingerprint=fp,
        )  # fmt: skip
    return runs["base"], runs.get("previous"), runs["candidate"]


def run_benchmark(
    config: BenchConfig,
    selected: Sequence[str],
    source: LeafSource,
    *,
    scores: Path | None = None,
    selection: dict[str, object] | None = None,
    progress: ProgressFactory | None = None,
) -> BenchResult:
    """`selected`: the branch suite's taxonomy paths; `scores`: the score cache's folder.
    Raises ModelError / ValueError for models that cannot be loaded or specs that are bad."""
    started = time.monotonic()
    plan = build(
        selected,
        source,
        facts=config.facts,
        doc_mc_per_leaf=config.doc_mc_per_leaf,
        regression=config.regression,
        general=config.general,
        training=config.training,
    )
    cache = ScoreCache(scores) if config.use_cache and scores else None
    base, previous, candidate = _score_all(config, plan, cache, progress)
    reference = previous or base
    judged = _judge(config, plan, reference, candidate, cache) if config.judge else None
    collected = collect(
        plan.items,
        reference.scores,
        candidate.scores,
        base.scores if previous is not None else None,
        judged.ratings if judged else None,
    )
    comparison = compare(plan.groups, collected, config.stats)
    return BenchResult(
        config,
        plan,
        base,
        previous,
        candidate,
        comparison,
        judged,
        selection or {},
        time.monotonic() - started,
    )


def _judge(
    config: BenchConfig,
    plan: Plan,
    reference: ModelRun,
    candidate: ModelRun,
    cache: ScoreCache | None,
) -> JudgeRun:
    assert config.judge is not None
    items = [i for i in plan.items if i.suite == "branch" and i.type == "qa"]
    items = [i for i in items if reference.scores[i.id].generation is not None]
    with load_model(config.judge, device=config.device) as judge:
        jobs = [(i, reference.scores[i.id].generation or "") for i in items]
        jobs += [(i, candidate.scores[i.id].generation or "") for i in items]
        ratings = rate(judge, jobs, config.judge_settings, cache)
        fingerprint = judge.fingerprint
    n = len(items)
    pairs = {i.id: (ratings[k], ratings[n + k]) for k, i in enumerate(items)}
    return JudgeRun(config.judge, fingerprint, pairs)
