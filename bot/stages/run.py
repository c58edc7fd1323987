"""`bot run`, the main job: validate -> generate -> train (mix + replay, phases) ->
benchmark -> site, each stage skipped when its inputs have not changed.

It calls the stages exactly as the single commands do (bot/stages/), so `bot run` is `bot
validate`, `bot generate`, `bot train` and `bot benchmark` in sequence, plus the bookkeeping
that makes a second run cheap:
- generation is incremental by itself (content-addressed store: unchanged leaves cost no
  model call);
- the retrain is keyed by the exported data, the training settings and the base model
  (bot/stages/train.py): a key seen last time reuses its run, a new key trains what the
  replay buffer has not absorbed (the changed leaves) plus replay, continuing from the last
  trained model;
- benchmark scores are cached per (model, item), so unchanged models are not re-scored;
  the report is kept in `<work>/history/` once per model (bot/site/archive.py);
- the site (bot/stages/site.py) reuses the validate stage's report: pages only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import interrupts
from bot.stages.errors import StageFailed, UsageError
from bot.stages.progress import Progress
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.validation.engine import Report


@dataclass
class Stage:
    name: str
    status: str = "pending"  # ran | skipped | failed
    seconds: float = 0.0
    detail: str = ""
    tokens: int = 0  # model tokens the stage produced or trained on


@dataclass
class RunResult:
    stages: list[Stage] = field(default_factory=list)
    validation: Report | None = None  # the validate stage's report (to show its errors)
    report: dict[str, Any] | None = None  # report.json of the benchmark
    report_dir: Path | None = None
    model: str = ""
    previous: str | None = None  # the model this run's retrain continued from (None: base)
    trained: tuple[str, ...] = ()  # the leaves this run's retrain trained as new
    site: Path | None = None  # the project site's overview page
    exit_code: int = 0


@dataclass(frozen=True)
class RunRequest:
    base_model: str = "embedded"  # the student every retrain of this workspace descends from
    changed: bool = False  # only leaves changed vs base_ref
    base_ref: str | None = None


def _timed(result: RunResult, name: str, fn: Callable[[Stage], None]) -> None:
    stage = Stage(name)
    result.stages.append(stage)
    start = time.monotonic()
    try:
        fn(stage)
        interrupts.check()  # a signal whose exception a library swallowed still stops here
    except StageFailed:
        stage.status = "failed"
        raise
    except UsageError as exc:  # a stage refused its settings: bot.yaml or the flags
        stage.status = "failed"
        raise StageFailed(name, str(exc), 2) from None
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM within bot.interrupts.interruptible
        stage.status = "failed"
        raise StageFailed(
            name,
            f"{interrupts.what(exc)} during {name}; run `bot run` again to continue",
            interrupts.exit_code(exc),
        ) from None
    except MemoryError:
        stage.status = "failed"
        raise StageFailed(name, _oom(name)) from None
    except OSError as exc:
        stage.status = "failed"
        if exc.errno == 28:  # ENOSPC
            raise StageFailed(
                name,
                f"{name}: disk full writing {exc.filename or 'a file'}; free space or "
                "point --work at a larger disk, then run `bot run` again to continue",
            ) from None
        raise
    except RuntimeError as exc:
        stage.status = "failed"
        if "out of memory" in str(exc).lower():
            raise StageFailed(name, _oom(name)) from None
        raise
    finally:
        stage.seconds = time.monotonic() - start
    if stage.status == "pending":
        stage.status = "ran"


def _oom(stage: str) -> str:
    hint = {
        "train": "lower train.max_tokens or train.batch_size in bot.yaml (or use --lora)",
        "generate": "lower generate.samples, or use a smaller teacher",
        "benchmark": "benchmark on a machine with more memory, or fewer leaves (--changed)",
    }.get(stage, "free memory")
    return f"{stage}: out of memory; {hint}, then run `bot run` again to continue"


def _validate(ws: Workspace, req: RunRequest, stage: Stage, result: RunResult) -> None:
    from bot.stages.validate import ValidateRequest, validate

    report = validate(ws, ValidateRequest(changed=req.changed, base_ref=req.base_ref))
    result.validation = report
    stage.detail = (
        f"{len(report.files)} leaf files, {report.errors} errors, {report.warnings} warnings"
    )
    if report.errors:
        raise StageFailed(
            "validate", "the taxonomy has errors; fix them (bot validate) and run again"
        )


def _generate(ws: Workspace, req: RunRequest, stage: Stage, progress: Progress) -> None:
    from bot.stages.generate import GenerateRequest, generate

    done = generate(ws, GenerateRequest(changed=req.changed, base_ref=req.base_ref), progress)
    if done.failed:
        raise StageFailed("generate", "; ".join(f"{j.path}: {j.reason}" for j in done.failed))
    stage.tokens = done.tokens
    stage.detail = f"{len(done.jobs)} leaves, {done.model_calls} model calls"
    if done.model_calls == 0:
        stage.status = "skipped"
        stage.detail += " (every leaf's data was in the store)"


def _train(
    ws: Workspace, req: RunRequest, stage: Stage, result: RunResult, progress: Progress
) -> None:
    from bot.stages.train import RetrainRequest, retrain

    done = retrain(ws, RetrainRequest(base_model=req.base_model), progress)
    result.model = str(done.model)
    result.previous = done.start if done.start != req.base_model else None
    result.trained = tuple(done.new_leaves)
    if done.skipped:
        stage.status = "skipped"
        stage.detail = f"data and settings unchanged since run {done.key}"
        return
    phases = done.summary["phases"]
    stage.tokens = done.tokens
    stage.detail = ", ".join(f"{p['name']} {p['steps']} steps" for p in phases) or (
        "no new leaves to train"
    )
    if got := [e for _, _, e in done.exposure()]:
        passes = min(e["seen"] / max(e["rows"], 1) for e in got)
        full = min(e["full_rate_steps"] for e in got)
        stage.detail += f"; new leaves: rows seen >= {passes:.1f}x, >= {full} full-rate steps"


def _benchmark(
    ws: Workspace, req: RunRequest, stage: Stage, result: RunResult, progress: Progress
) -> None:
    from bot.site.archive import HistoryNote
    from bot.stages.benchmark import BenchmarkRequest, benchmark

    bench = BenchmarkRequest(
        model=f"hf:{result.model}",
        base_model=req.base_model,
        previous_model=result.previous,
        out=ws.layout.report,
        changed=req.changed,
        base_ref=req.base_ref,
        history=HistoryNote("bot run", result.trained),
    )
    done = benchmark(ws, bench, progress)
    result.report, result.report_dir = done.doc, done.out
    scored = done.doc["base"]["items_scored"] + done.doc["candidate"]["items_scored"]
    stage.detail = f"{done.doc['summary']['items']} items, {scored} scored"
    if scored == 0:
        stage.status = "skipped"
        stage.detail += " (every score was cached: models and items unchanged)"


def _site(ws: Workspace, req: RunRequest, stage: Stage, result: RunResult) -> None:
    from bot.stages.site import SiteRequest, site

    # The validate stage's report covers the whole taxonomy unless --changed narrowed it.
    report = None if req.changed else result.validation
    done = site(ws, SiteRequest(out=ws.layout.site, validation=report))
    result.site = done.overview
    page, size = done.largest
    stage.detail = f"{done.pages} pages, largest {page} ({size / 1024:.0f} KiB)"
    if done.problems:
        stage.detail += f"; {len(done.problems)} unreadable inputs shown as such"


def run(ws: Workspace, req: RunRequest, progress: Progress | None = None) -> RunResult:
    """Every stage in order; the first that fails ends the run with its exit code and what
    to do in `result.stages[-1].detail`."""
    progress = progress or Progress()
    result = RunResult()
    try:
        _timed(result, "validate", lambda s: _validate(ws, req, s, result))
        _timed(result, "generate", lambda s: _generate(ws, req, s, progress))
        _timed(result, "train", lambda s: _train(ws, req, s, result, progress))
        _timed(result, "benchmark", lambda s: _benchmark(ws, req, s, result, progress))
        _timed(result, "site", lambda s: _site(ws, req, s, result))
    except StageFailed as exc:
        result.exit_code = exc.code
        result.stages[-1].detail = str(exc)
    return result
