"""One benchmark: build the suites, score base and candidate on the same items, compare.

    result = run_benchmark(BenchConfig("embedded", "hf:out/ckpt"), selected, leaves, scores=dir)
    write_reports(result, out_dir)   # report.json, report.md, deltas.png

Both models see exactly the same items; greedy decoding needs no seed, and the bootstrap is
seeded (`StatSettings.seed`). A candidate with the base's fingerprint is the same model and
is not scored twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from trainer.evaluation.cache import ScoreCache
from trainer.evaluation.compare import Comparison, StatSettings, collect, compare
from trainer.evaluation.judge import JudgeSettings, Rating, rate
from trainer.evaluation.run import ModelRun, Progress, ScoreSettings, run_model
from trainer.evaluation.suites import DEFAULT_DOC_MC_PER_LEAF, LeafSource, Plan, build
from trainer.models import load_model, model_fingerprint

ProgressFactory = Callable[[str], Progress]  # label ("base: embedded") -> callback


@dataclass(frozen=True)
class BenchConfig:
    base: str
    candidate: str
    score: ScoreSettings = field(default_factory=ScoreSettings)
    stats: StatSettings = field(default_factory=StatSettings)
    doc_mc_per_leaf: int = DEFAULT_DOC_MC_PER_LEAF
    regression: bool = True  # the untouched leaves' sample
    general: bool = True  # the general set
    judge: str | None = None
    judge_settings: JudgeSettings = field(default_factory=JudgeSettings)
    device: str | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class JudgeRun:
    spec: str
    fingerprint: str
    ratings: dict[str, tuple[Rating, Rating]]  # item id -> (base, candidate)


@dataclass(frozen=True)
class BenchResult:
    config: BenchConfig
    plan: Plan
    base: ModelRun
    candidate: ModelRun
    comparison: Comparison
    judge: JudgeRun | None
    selection: dict[str, object]  # how the leaves were chosen, for the report
    seconds: float


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
    # Every model is resolved before any is run: a bad spec fails in a second, not after
    # the base has been scored.
    base_fp = model_fingerprint(config.base, device=config.device)
    candidate_fp = model_fingerprint(config.candidate, device=config.device)
    if config.judge:
        model_fingerprint(config.judge, device=config.device)
    plan = build(
        selected,
        source,
        doc_mc_per_leaf=config.doc_mc_per_leaf,
        regression=config.regression,
        general=config.general,
    )
    cache = ScoreCache(scores) if config.use_cache and scores else None

    def bar(label: str) -> Progress | None:
        return progress(label) if progress else None

    base = run_model(
        config.base,
        plan.items,
        config.score,
        cache=cache,
        progress=bar(f"base {config.base}"),
        device=config.device,
        fingerprint=base_fp,
    )
    if candidate_fp == base_fp:
        candidate = replace(base, spec=config.candidate, scored=0, cached=len(base.scores))
    else:
        candidate = run_model(
            config.candidate,
            plan.items,
            config.score,
            cache=cache,
            progress=bar(f"candidate {config.candidate}"),
            device=config.device,
            fingerprint=candidate_fp,
        )
    judged = _judge(config, plan, base, candidate, cache) if config.judge else None
    collected = collect(
        plan.items, base.scores, candidate.scores, judged.ratings if judged else None
    )
    suite_items = {
        s: len({i.id for i in plan.items if i.suite == s}) for s in ("branch", "regression")
    }
    if judged:
        suite_items["judge"] = len(judged.ratings)
    comparison = compare(plan.groups, collected, config.stats, suite_items)
    return BenchResult(
        config,
        plan,
        base,
        candidate,
        comparison,
        judged,
        selection or {},
        time.monotonic() - started,
    )


def _judge(
    config: BenchConfig, plan: Plan, base: ModelRun, candidate: ModelRun, cache: ScoreCache | None
) -> JudgeRun:
    assert config.judge is not None
    items = [i for i in plan.items if i.suite == "branch" and i.type == "qa"]
    items = [i for i in items if base.scores[i.id].generation is not None]
    with load_model(config.judge, device=config.device) as judge:
        jobs = [(i, base.scores[i.id].generation or "") for i in items]
        jobs += [(i, candidate.scores[i.id].generation or "") for i in items]
        ratings = rate(judge, jobs, config.judge_settings, cache)
        fingerprint = judge.fingerprint
    n = len(items)
    pairs = {i.id: (ratings[k], ratings[n + k]) for k, i in enumerate(items)}
    return JudgeRun(config.judge, fingerprint, pairs)
