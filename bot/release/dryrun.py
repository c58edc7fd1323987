"""`bot release --dry-run`: exactly what a release would hold, changing nothing."""

from __future__ import annotations

from typing import Any

from bot.release import collect as col
from bot.release import gitops, models
from bot.release.plan import context, plan
from bot.workspace import Workspace


def describe(ws: Workspace, version: str | None, base_model: str | None) -> str:
    """What `bot release` would do, in the release notes' Markdown."""
    repo = col.open_repo(ws.root)
    cfg = ws.config.release
    tags = col.release_tags(repo, cfg.tag_prefix)
    collected = col.collect(ws.root, ws.layout.cache, version, cfg.tag_prefix)
    ctx = context(ws, collected.version, base_model)
    prev = col.manifest_at(repo, collected.previous) if collected.previous else None
    baseline = ctx.base
    if prev is not None and collected.previous is not None:
        folder = models.folder_for(ctx.store, str(prev["model"]["digest"]))
        baseline = f"hf:{folder}"
    mode, start, new = plan(ctx, collected, baseline)
    lines = [
        f"## Release {collected.tag} (dry run: nothing was changed)",
        "",
        f"- version `{collected.version}`, tag `{collected.tag}`"
        + (f" (after {', '.join(t.name for t in tags[-3:])})" if tags else " (first release)"),
        f"- taxonomy commit `{collected.commit}`, {len(collected.leaves)} leaves",
        f"- previous release: {_previous(collected, prev)}",
        f"- training: {_training(mode, start, new, ws, collected)}",
        f"- benchmark: against `{baseline}`"
        + ("" if cfg.max_regression else " (default regression limits)")
        + ("; refuses to tag if a suite regresses past its limit (unless --force)"),
        f"- model store: `{ctx.store}`",
        f"- files: `releases/{collected.version}/manifest.yaml`, `MODEL_CARD.md`, "
        "`CHANGELOG.md`, and the top-level `CHANGELOG.md`",
    ]
    dirty = gitops.dirty(repo, ["taxonomy/", "bot.yaml", f"releases/{collected.version}/"])
    if dirty:
        lines.append(f"- ⚠️ would refuse: uncommitted changes in {', '.join(dirty[:5])}")
    since = f"since {collected.previous.name}" if collected.previous else "(first release)"
    lines += ["", f"### Leaves {since}", ""]
    for kind in ("added", "changed", "removed"):
        for path in getattr(collected, kind):
            digest = collected.leaves.get(path) or (prev or {}).get("leaves", {}).get(path, "")
            lines.append(f"- **{kind}** `{path}` (`{str(digest)[:12]}`)")
    if not (collected.added or collected.changed or collected.removed):
        lines.append("- no leaf changed")
    return "\n".join(lines) + "\n"


def _previous(collected: col.Collected, prev: dict[str, Any] | None) -> str:
    if collected.previous is None or prev is None:
        return "none (benchmarked against the base model)"
    return f"`{collected.previous.name}` (model `{prev['model']['digest']}`)"


def _training(mode: str, start: str, new: list[str], ws: Workspace, c: col.Collected) -> str:
    from trainer.data import replay as buffers

    try:
        buffer = buffers.load(ws.layout.replay)
        replay = f"replay buffer version `{buffer.version}` ({len(buffer.leaves)} leaves)"
    except buffers.ReplayError as exc:
        replay = f"replay buffer unreadable ({exc})"
    what = (
        "full retrain"
        if mode == "full"
        else f"continue from {c.previous.name if c.previous else ''}"
    )
    return f"{what} from `{start}` on {len(new)} new leaves plus replay ({replay})"
