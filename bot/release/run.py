"""`bot release`, stage by stage: collect -> retrain -> benchmark -> write -> commit -> tag.

Each finished stage is recorded in `<work>/release/<version>/state.json` with its outputs,
so a failed or interrupted release continues after its last finished stage. Progress goes
to stderr; the return value is the release notes (stdout, for release.yml to post)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import Config
from bot.release import collect as col
from bot.release import gitops, manifest, models, notes
from bot.release.state import ReleaseError, State, load
from bot.release.train_stage import Context, benchmark, previous_model, retrain

Say = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    root: Path
    work: Path
    config: Config
    version: str | None = None
    base: str | None = None  # overrides bot.yaml release.base
    force: bool = False


def context(req: Request, version: str) -> Context:
    cfg = req.config.release
    return Context(
        root=req.root,
        work=req.work,
        config=req.config,
        base=req.base or cfg.base,
        store=models.store_root(cfg.model_store, req.work, req.root),
        folder=req.work / "release" / version,
    )


def _version(req: Request, repo: Any) -> str:
    tags = col.release_tags(repo, req.config.release.tag_prefix)
    version = req.version or col.next_version(tags)
    col.parse_version(version)
    return version


def _files(version: str) -> list[str]:
    folder = f"releases/{version}"
    names = ("manifest.yaml", "MODEL_CARD.md", "CHANGELOG.md")
    return [*(f"{folder}/{name}" for name in names), "CHANGELOG.md"]


def release(req: Request, say: Say) -> str:
    repo = col.open_repo(req.root)
    version = _version(req, repo)
    ctx = context(req, version)
    state = load(req.work, version)
    if state.has("tag"):
        say(f"{state['tag']['tag']} is already released; nothing to do")
        return (ctx.folder / "notes.md").read_text("utf-8")
    guarded = [] if state.has("commit") else ["taxonomy/", "bot.yaml"]
    # Once collected, these files may be this release's own (a write cut short).
    guarded += [] if state.has("collect") else [f"releases/{version}/", "CHANGELOG.md"]
    found = gitops.dirty(repo, guarded)
    if found:
        raise ReleaseError(
            f"uncommitted changes in {', '.join(found[:5])}: commit or remove them first", 2
        )
    if not state.has("collect"):
        collected = col.collect(req.root, req.work, version, req.config.release.tag_prefix)
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        state.record("collect", {"collected": collected.to_json(), "created": created})
        say(f"collect: {_summary(collected)}")
    collected = col.Collected.from_json(state["collect"]["collected"])
    if not state.has("commit") and str(repo.head.target) != collected.commit:
        raise ReleaseError(
            f"HEAD moved since release {version} started (at {collected.commit[:12]}); "
            f"delete {state.path} to start it over"
        )
    prev = col.manifest_at(repo, collected.previous) if collected.previous else None
    _model_stages(ctx, state, collected, prev, say)
    bench_doc = json.loads(Path(state["benchmark"]["report"]).read_text("utf-8"))
    summary = manifest.benchmark_summary(bench_doc)
    if summary["failed"] and not req.force:
        report = Path(state["benchmark"]["report"]).with_name("report.md")
        raise ReleaseError(
            f"not tagging {collected.tag}: the benchmark regressed past its limits "
            f"({notes.failures(summary)}); see {report}; fix it or pass --force",
            3,
        )
    if not state.has("write"):
        _write(req, ctx, state, collected, summary, bench_doc)
        say(f"write: {', '.join(_files(version))}")
    text = (ctx.folder / "notes.md").read_text("utf-8")
    sig = gitops.signature(req.config.release)
    if not state.has("commit"):
        commit = gitops.commit_files(
            repo, req.root, _files(version), f"Release {collected.tag}", sig
        )
        state.record("commit", {"commit": commit})
        say(f"commit: {commit[:12]}")
    if not state.has("tag"):
        oid = gitops.tag(repo, collected.tag, state["commit"]["commit"], text, sig)
        state.record("tag", {"tag": collected.tag, "id": oid})
        say(f"tag: {collected.tag}")
    return text


def _summary(c: col.Collected) -> str:
    since = f"since {c.previous.name}" if c.previous else "(first release)"
    return (
        f"{c.tag}: {len(c.leaves)} leaves, {len(c.added)} added, {len(c.changed)} changed, "
        f"{len(c.removed)} removed {since}"
    )


def _model_stages(
    ctx: Context, state: State, collected: col.Collected, prev: dict[str, Any] | None, say: Say
) -> None:
    if state.has("retrain") and state.has("benchmark"):
        return
    baseline = previous_model(ctx, collected, prev)
    if not state.has("retrain"):
        say(f"retrain: from {ctx.base if not prev else baseline} (release.continue_from_last "
            f"{ctx.config.release.continue_from_last})")  # fmt: skip
        state.record("retrain", retrain(ctx, collected, baseline))
        say(f"retrain: model {state['retrain']['digest']} in {state['retrain']['model']}")
    if not state.has("benchmark"):
        say(f"benchmark: {state['retrain']['digest']} vs {baseline}")
        state.record("benchmark", benchmark(ctx, state["retrain"]["model"], baseline))


def _write(
    req: Request,
    ctx: Context,
    state: State,
    collected: col.Collected,
    summary: dict[str, Any],
    bench_doc: dict[str, Any],
) -> None:
    from trainer.sdg.store import write_atomic

    doc = manifest.build(
        collected,
        state["collect"]["created"],
        req.config,
        state["retrain"],
        summary,
        f"taxonomy-bot {__version__}",
    )
    deltas = manifest.leaf_deltas(bench_doc)
    text = notes.release_notes(doc, deltas, f"hf:{state['retrain']['model']}")
    folder = req.root / "releases" / collected.version
    write_atomic(folder / "manifest.yaml", manifest.dump(doc))
    write_atomic(folder / "MODEL_CARD.md", notes.model_card(doc))
    entry = notes.changelog_entry(doc, deltas)
    write_atomic(folder / "CHANGELOG.md", "# Changelog\n\n" + entry)
    top = req.root / "CHANGELOG.md"  # from HEAD: a re-run after a cut-short write adds once
    write_atomic(top, notes.prepend_changelog(_at_head(req.root, "CHANGELOG.md"), entry))
    write_atomic(ctx.folder / "notes.md", text)
    state.record("write", {"files": _files(collected.version)})


def _at_head(root: Path, rel: str) -> str:
    import pygit2

    repo = col.open_repo(root)
    tree = repo.head.peel(pygit2.Commit).tree
    return tree[rel].data.decode("utf-8") if rel in tree else ""
