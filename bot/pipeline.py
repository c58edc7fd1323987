"""`bot run`: the main job. validate -> generate -> mix + replay -> phased training ->
benchmark -> report, each stage skipped when its inputs have not changed.

Stages reuse the commands' own code paths (same arguments, same files), so `bot run` is
exactly `bot validate`, `bot generate`, `bot train` and `bot benchmark` in sequence, plus
the bookkeeping that makes a second run cheap:
- generation is incremental by itself (content-addressed store: unchanged leaves cost no
  model call);
- training is keyed by the exported data, the training settings and the starting model;
  a key seen before reuses its run, a new key trains only what the replay buffer has not
  absorbed (the changed leaves) plus replay, starting from the last trained model;
- benchmark scores are cached per (model, item), so unchanged models are not re-scored.
`<work>/run/state.json` remembers the last trained model and its key.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import interrupts
from bot.config import Config

STATE = "run/state.json"


class StageFailed(Exception):
    """A stage ended the run; `code` is the exit status, the message says what to do."""

    def __init__(self, stage: str, message: str, code: int = 1) -> None:
        self.stage, self.code = stage, code
        super().__init__(message)


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
    report: dict[str, Any] | None = None  # report.json of the benchmark
    report_dir: Path | None = None
    model: str = ""
    exit_code: int = 0


@dataclass(frozen=True)
class RunOptions:
    root: Path
    work: Path
    config: Config
    base: str = "embedded"
    changed: bool = False
    base_ref: str | None = None


def command_args(command: str, argv: list[str]) -> argparse.Namespace:
    """`argv` parsed by `bot <command>`'s own parser, as if typed after `bot <command>`: a
    stage (or a release step) calling a command's code gets exactly the defaults the command
    has. Exits 2 on arguments the command refuses, like the command line would."""
    from bot.cli import parser

    return parser([command]).parse_args([command, *argv])


def _timed(result: RunResult, name: str, fn: Callable[[Stage], None]) -> None:
    stage = Stage(name)
    result.stages.append(stage)
    start = time.monotonic()
    try:
        fn(stage)
    except StageFailed:
        stage.status = "failed"
        raise
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


def _changed(opts: RunOptions, base_flag: str = "--base") -> list[str]:
    """`--changed [<base_flag> REF]` for a stage's command when the run is incremental."""
    if not opts.changed:
        return []
    return ["--changed", *([base_flag, opts.base_ref] if opts.base_ref else [])]


def validate(opts: RunOptions, stage: Stage) -> None:
    from bot.commands.validate import build_report

    report = build_report(command_args("validate", _changed(opts)))
    if isinstance(report, int):
        raise StageFailed("validate", "validate: bad arguments", report)
    stage.detail = (
        f"{len(report.files)} leaf files, {report.errors} errors, {report.warnings} warnings"
    )
    if report.errors:
        from rich.console import Console

        from bot.report.text import render

        render(report, Console(stderr=True, highlight=False))
        raise StageFailed(
            "validate", "the taxonomy has errors; fix them (bot validate) and run again"
        )


def generate(opts: RunOptions, stage: Stage) -> None:
    from bot.commands.generate import execute  # shows its own progress

    done = execute(command_args("generate", ["--work", str(opts.work), *_changed(opts)]))
    if isinstance(done, int):
        raise StageFailed("generate", "generate: bad arguments", done)
    jobs, _ = done
    failed = [j for j in jobs if j.status == "failed"]
    if failed:
        raise StageFailed("generate", "; ".join(f"{j.path}: {j.reason}" for j in failed))
    calls = sum(j.model_calls for j in jobs)
    stage.tokens = sum(j.tokens for j in jobs)
    stage.detail = f"{len(jobs)} leaves, {calls} model calls"
    if calls == 0:
        stage.status = "skipped"
        stage.detail += " (every leaf's data was in the store)"


def _digest_data(data: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(data.rglob("*.jsonl")):
        h.update(str(f.relative_to(data)).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _state(work: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads((work / STATE).read_text())
        return found
    except (OSError, ValueError):
        return {}


def train(opts: RunOptions, stage: Stage, result: RunResult) -> None:
    from bot.retraining import retrain_with_progress
    from trainer.models.loader import local_model_dir, model_fingerprint
    from trainer.sdg.store import write_atomic
    from trainer.train.phases import SUMMARY
    from trainer.train.retrain import RetrainJob
    from trainer.train.session import TrainError

    data = opts.work / "data"
    state = _state(opts.work)
    settings = json.dumps(
        [repr(opts.config.train), repr(opts.config.mix), repr(opts.config.replay), opts.base]
    )
    key = hashlib.sha256(
        (_digest_data(data) + settings + model_fingerprint(opts.base)).encode()
    ).hexdigest()[:16]
    out = opts.work / "runs" / key
    if state.get("key") == key and (out / SUMMARY).is_file():
        result.model = state["model"]
        stage.status = "skipped"
        stage.detail = f"data and settings unchanged since run {key}"
        return
    # Continual: start from the last trained model of the same base; the replay buffer
    # decides which leaves are new and what is replayed.
    previous = state.get("model") if state.get("base") == opts.base else None
    start = Path(previous) if previous and Path(previous).is_dir() else local_model_dir(opts.base)
    job = RetrainJob(
        base=start,
        base_spec=str(previous or opts.base),
        work=opts.work,
        data=data,
        out=out,
        train=opts.config.train,
        mix=opts.config.mix,
        replay=opts.config.replay,
        resume=out.exists(),
    )
    try:
        done = retrain_with_progress(opts.root, job)
    except TrainError as exc:
        raise StageFailed("train", f"train: {exc}") from None
    summary = json.loads((out / SUMMARY).read_text())
    stage.tokens = sum(p["tokens"] for p in summary["phases"])
    stage.detail = ", ".join(f"{p['name']} {p['steps']} steps" for p in summary["phases"]) or (
        "no new leaves to train"
    )
    result.model = str(done.final)
    write_atomic(
        opts.work / STATE,
        json.dumps(
            {"key": key, "model": result.model, "base": opts.base, "run": str(out)}, indent=2
        )
        + "\n",
    )


def benchmark(opts: RunOptions, stage: Stage, result: RunResult) -> None:
    from bot.commands.benchmark import execute

    out = opts.work / "report"
    argv = [
        "--base",
        opts.base,
        "--candidate",
        f"hf:{result.model}",
        "--out",
        str(out),
        "--work",
        str(opts.work),
        *_changed(opts, "--base-ref"),
    ]
    done = execute(command_args("benchmark", argv))
    if isinstance(done, int):
        raise StageFailed("benchmark", "benchmark: could not run (see above)", done)
    doc, folder = done
    result.report, result.report_dir = doc, folder
    scored = doc["base"]["items_scored"] + doc["candidate"]["items_scored"]
    stage.detail = f"{doc['summary']['items']} items, {scored} scored"
    if scored == 0:
        stage.status = "skipped"
        stage.detail += " (every score was cached: models and items unchanged)"


def run(opts: RunOptions) -> RunResult:
    result = RunResult()
    try:
        _timed(result, "validate", lambda s: validate(opts, s))
        _timed(result, "generate", lambda s: generate(opts, s))
        _timed(result, "train", lambda s: train(opts, s, result))
        _timed(result, "benchmark", lambda s: benchmark(opts, s, result))
    except StageFailed as exc:
        result.exit_code = exc.code
        result.stages[-1].detail = str(exc)
    return result
