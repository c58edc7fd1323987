"""The release's model: generate (incremental), a phased retrain with the replay buffer,
the result copied into the model store; then benchmarked against the previous release.

Generation and benchmarking go through bot/pipeline.py, i.e. the commands' own code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.release import models
from bot.release.collect import Collected
from bot.release.state import ReleaseError


@dataclass(frozen=True)
class Context:
    root: Path
    work: Path
    config: Config
    base: str  # base model spec (bot.yaml release.base, or --base)
    store: Path  # the model store
    folder: Path  # <work>/release/<version>


def base_digest(spec: str) -> str:
    from trainer.models.hf import dir_weights_id
    from trainer.models.loader import local_model_dir

    return dir_weights_id(local_model_dir(spec))


def previous_model(ctx: Context, collected: Collected, previous: dict[str, Any] | None) -> str:
    """Spec of the model this release is compared with (and may continue from)."""
    if previous is None or collected.previous is None:
        return ctx.base
    digest = str(previous["model"]["digest"])
    return f"hf:{models.find(ctx.store, digest, collected.previous.version)}"


def plan(ctx: Context, collected: Collected, previous_spec: str) -> tuple[str, str, list[str]]:
    """(mode, start spec, leaves trained as new): a full retrain from the base trains every
    leaf; continuing from the last release trains what was added or changed, plus replay."""
    if ctx.config.release.continue_from_last and collected.previous is not None:
        new = sorted(collected.added + collected.changed)
        if not new:
            raise ReleaseError(
                f"nothing added or changed since {collected.previous.name}: nothing to train "
                "(set release.continue_from_last: false for a full retrain)"
            )
        return "continue", previous_spec, new
    return "full", ctx.base, sorted(collected.leaves)


def retrain(ctx: Context, collected: Collected, previous_spec: str) -> dict[str, Any]:
    from bot import pipeline
    from bot.retraining import retrain_with_progress
    from trainer.data import replay as buffers
    from trainer.models.loader import local_model_dir
    from trainer.train.retrain import RetrainJob
    from trainer.train.session import TrainError

    mode, start, new = plan(ctx, collected, previous_spec)
    opts = pipeline.RunOptions(ctx.root, ctx.work, ctx.config, base=ctx.base)
    try:
        pipeline.generate(opts, pipeline.Stage("generate"))
    except pipeline.StageFailed as exc:
        raise ReleaseError(str(exc), exc.code) from None
    out = ctx.folder / "train"
    job = RetrainJob(
        base=local_model_dir(start),
        base_spec=start,
        work=ctx.work,
        data=ctx.work / "data",
        out=out,
        train=ctx.config.train,
        mix=ctx.config.mix,
        replay=ctx.config.replay,
        resume=out.exists(),
        new_leaves=tuple(new),
    )
    try:
        done = retrain_with_progress(ctx.root, job)
    except TrainError as exc:
        raise ReleaseError(f"train: {exc}") from None
    digest, stored = models.put(done.final, ctx.store)
    summary = json.loads((out / "train_summary.json").read_text())
    version = done.replay_version or buffers.load(ctx.work / "replay").version
    return {
        "mode": mode,
        "start": start,
        "base": ctx.base,
        "base_digest": base_digest(ctx.base),
        "digest": digest,
        "model": str(stored),
        "new_leaves": new,
        "datasets": {
            name: {k: m[k] for k in ("sha256", "rows", "new_rows", "replay_rows")}
            for name, m in summary.get("mix", {}).items()
        },
        "replay_version": version,
        "steps": {p["name"]: p["steps"] for p in summary.get("phases", [])},
    }


def benchmark(ctx: Context, model: str, baseline: str) -> dict[str, Any]:
    from bot import pipeline
    from bot.commands.benchmark import execute

    out = ctx.folder / "benchmark"
    argv = ["--base", baseline, "--candidate", f"hf:{model}", "--out", str(out)]
    argv += ["--work", str(ctx.work)]
    for limit in ctx.config.release.max_regression:
        argv += ["--max-regression", limit]
    if not ctx.config.release.general:
        argv.append("--no-general")
    done = execute(pipeline.command_args("benchmark", argv))
    if isinstance(done, int):
        raise ReleaseError("benchmark: could not run (see above)", done)
    doc, folder = done
    return {
        "report": str(folder / "report.json"),
        "baseline": baseline,
        "failed": bool(doc["summary"]["failed"]),
    }
