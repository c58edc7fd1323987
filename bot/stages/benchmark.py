"""Benchmark: a base and a candidate model on the same items, per leaf, with intervals
(trainer/evaluation/). Writes report.json, report.md and deltas.png.

    result = benchmark(ws, BenchmarkRequest(model="hf:out/ckpt", changed=True), progress)
    result.doc["summary"]["exit_code"], result.out
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.stages.errors import UsageError
from bot.stages.progress import Progress
from bot.stages.select import select
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.site.archive import HistoryNote
    from trainer.evaluation.benchmark import BenchConfig

LIMITED = ("nll",)  # only the primary metric can fail a run


@dataclass(frozen=True)
class BenchmarkRequest:
    model: str  # the candidate model spec
    base_model: str = "embedded"  # the lineage's base: always scored, for the vs-base column
    previous_model: str | None = None  # the model the candidate replaces: the verdicts' reference
    paths: tuple[Path, ...] = ()  # the branch suite's leaves (files or folders); empty: all
    changed: bool = False  # the branch suite: leaves changed vs base_ref
    base_ref: str | None = None
    judge: str | None = None  # a judge model adds the judge suite
    out: Path | None = None  # the reports' folder (default <work>/benchmark/latest)
    seed: int = 0  # bootstrap seed
    resamples: int = 10_000
    answers: bool = True  # greedy answers for the descriptive ROUGE-L and exact match
    max_new_tokens: int = 48  # their budget
    short_new_tokens: int = 16
    judge_max_new_tokens: int = 64
    max_regression: dict[str, float] = field(default_factory=dict)  # nll -> limit (bot.yaml's)
    regression: bool = True  # the untouched leaves' sample
    general: bool = True  # the general set
    use_cache: bool = True
    device: str | None = None  # cpu | cuda | cuda:N (default: GPU if any)
    history: HistoryNote | None = None  # keep the report in <work>/history/ (the site's matrix)


@dataclass(frozen=True)
class BenchmarkResult:
    doc: dict[str, Any]  # report.json's document
    out: Path  # the folder holding report.json, report.md, deltas.png
    kept: Path | None = None  # the history entry written (None: not kept, or a repeat)

    @property
    def exit_code(self) -> int:
        """0, or 3 when a suite regressed past its limit."""
        return int(self.doc["summary"]["exit_code"])


def parse_limits(pairs: list[str] | tuple[str, ...]) -> dict[str, float]:
    """METRIC=X strings (--max-regression, bot.yaml release.max_regression) as limits."""
    limits: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in LIMITED:
            raise UsageError(
                f"--max-regression {pair!r}: expected nll=X (only the primary metric, nll, "
                "can fail a run; the others are descriptive)"
            )
        try:
            limits[name] = float(value)
        except ValueError:
            raise UsageError(f"--max-regression {pair!r}: {value!r} is not a number") from None
    return limits


def _check(req: BenchmarkRequest) -> None:
    from trainer.models import parse_spec

    for name in ("resamples", "max_new_tokens", "short_new_tokens", "judge_max_new_tokens"):
        if getattr(req, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
    for name, limit in req.max_regression.items():
        if name not in LIMITED or math.isnan(limit) or limit < 0:
            raise UsageError(f"--max-regression {name}={limit}: expected nll=X with X >= 0")
    specs = (req.base_model, req.model, req.previous_model, req.judge)
    for spec in (s for s in specs if s):
        try:
            parse_spec(spec)
        except ValueError as exc:  # SpecError names the accepted forms
            raise UsageError(str(exc)) from None


def noise_bands(ws: Workspace) -> dict[str, tuple[float, float]]:
    """The A/A noise bands bot.yaml's evaluate.noise_band names ({} when none is set)."""
    from trainer.evaluation.noise import NoiseError, load_bands

    name = ws.config.evaluate.noise_band
    if not name:
        return {}
    try:
        return load_bands(ws.root / name)
    except NoiseError as exc:
        raise UsageError(f"bot.yaml evaluate.noise_band: {exc}") from None


def _answers(ws: Workspace, req: BenchmarkRequest) -> bool:
    """Greedy answers cost about as much as all the log-likelihoods on a CPU; they feed only
    descriptive metrics, so a profile may go without them (a judge still needs them)."""
    return req.answers and (ws.config.evaluate.answers or req.judge is not None)


def _config(ws: Workspace, req: BenchmarkRequest) -> BenchConfig:
    from trainer.evaluation.benchmark import BenchConfig
    from trainer.evaluation.compare import StatSettings
    from trainer.evaluation.judge import JudgeSettings
    from trainer.evaluation.run import ScoreSettings

    _check(req)
    ev = ws.config.evaluate
    limits = {"nll": ev.max_regression, **req.max_regression}
    return BenchConfig(
        base=req.base_model,
        candidate=req.model,
        previous=req.previous_model,
        score=ScoreSettings(req.max_new_tokens, req.short_new_tokens, _answers(ws, req)),
        stats=StatSettings(req.seed, req.resamples, ev.alpha, limits, noise_bands(ws)),
        facts=ev.facts,
        doc_mc_per_leaf=ev.memorization,
        regression=req.regression,
        general=req.general,
        judge=req.judge,
        judge_settings=JudgeSettings(req.judge_max_new_tokens),
        device=req.device,
        use_cache=req.use_cache,
        training=training_ngrams(ws),
    )


def training_ngrams(ws: Workspace) -> frozenset[tuple[str, ...]]:
    """The word 8-grams of every row training can show a model here: the exported data and
    the replay buffer (older versions of leaves included). No evaluation item may share one."""
    from trainer.data import replay
    from trainer.data.rows import DataError, load_exported
    from trainer.text.overlap import training_ngrams as grams

    try:
        rows = [r for leaf in load_exported(ws.layout.data).values() for r in leaf.rows]
    except DataError as exc:
        raise UsageError(f"training data: {exc}") from None
    try:
        buffer = replay.load(ws.layout.replay)
    except replay.ReplayError:
        buffer = replay.Buffer()  # no buffer yet (or unreadable: training says so itself)
    rows += [r for leaf in buffer.leaves.values() for r in leaf.rows]
    return frozenset(grams(rows))


def _branch(ws: Workspace, req: BenchmarkRequest) -> tuple[list[Path], dict[str, Any]]:
    """The branch suite's leaf files and how they were chosen (for the report)."""
    chosen = select(ws, req.paths, req.changed, req.base_ref)
    if not chosen.files:
        if chosen.mode == "changed":
            raise UsageError(f"no changed leaves vs {chosen.base_ref}")
        where = ", ".join(ws.relative(p) for p in req.paths) if req.paths else ws.taxonomy
        raise UsageError(f"no leaves (qna.yaml) under {where}")
    selection: dict[str, Any] = {"mode": chosen.mode}
    if chosen.base_ref:
        selection["base_ref"] = chosen.base_ref
    selection["leaves"] = [ws.relative(p) for p in chosen.files]
    return chosen.files, selection


def benchmark(
    ws: Workspace, req: BenchmarkRequest, progress: Progress | None = None
) -> BenchmarkResult:
    """Score, compare and write the reports. Raises UsageError for a request that cannot be
    run (bad settings or models, no leaves, no items)."""
    progress = progress or Progress()
    ws.layout.prepare()
    config = _config(ws, req)
    files, selection = _branch(ws, req)
    from bot.taxonomy.leaves import Leaves
    from trainer.evaluation.benchmark import run_benchmark
    from trainer.evaluation.reports import write_reports
    from trainer.models import ModelError

    leaves = Leaves(ws.leaf_files(), ws.root, ws.layout.cache, ws.layout.evaluation / "items")
    selected = [leaves.add(f) for f in files]
    progress.begin("benchmark")
    try:
        result = run_benchmark(
            config,
            selected,
            leaves,
            scores=ws.layout.scores,
            selection=selection,
            progress=progress.scoring,
        )
    except (ModelError, ValueError) as exc:
        raise UsageError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    finally:
        progress.end("benchmark")
    if not result.plan.items:
        raise UsageError("no items to benchmark (see the skipped leaves: bot validate)")
    out = (req.out or ws.layout.benchmark).absolute()
    doc = write_reports(result, out)
    kept = None
    if req.history is not None:
        from bot.site.archive import keep

        kept = keep(ws.layout.history, doc, req.history)
    return BenchmarkResult(doc, out, kept)
