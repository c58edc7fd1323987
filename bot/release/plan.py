"""What a release trains and compares with: the base model, the previous release's model,
and whether it retrains from the base (every leaf new) or continues from the last release
(the added and changed leaves new, the rest replayed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.release import models
from bot.release.collect import Collected
from bot.release.state import ReleaseError
from bot.workspace import Workspace


@dataclass(frozen=True)
class Context:
    ws: Workspace
    base: str  # base model spec (bot.yaml release.base, or --base-model)
    store: Path  # the model store
    folder: Path  # <work>/release/<version>


def context(ws: Workspace, version: str, base: str | None) -> Context:
    cfg = ws.config.release
    return Context(
        ws=ws,
        base=base or cfg.base,
        store=models.store_root(cfg.model_store, ws.layout.work, ws.root),
        folder=ws.layout.release(version),
    )


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
    if ctx.ws.config.release.continue_from_last and collected.previous is not None:
        new = sorted(collected.added + collected.changed)
        if not new:
            raise ReleaseError(
                f"nothing added or changed since {collected.previous.name}: nothing to train "
                "(set release.continue_from_last: false for a full retrain)"
            )
        return "continue", previous_spec, new
    return "full", ctx.base, sorted(collected.leaves)
