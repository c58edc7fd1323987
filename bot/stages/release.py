"""Release: collect -> retrain -> benchmark -> write -> commit -> tag.

    result = release(ws, ReleaseRequest(version="0.3.0"), progress)
    result.notes, result.tag

Each finished stage is recorded in `<work>/release/<version>/state.json` with its outputs,
so a failed or interrupted release continues after its last finished stage. The retrain
and the benchmark are the train and benchmark stages (bot/stages/); progress lines go to
`progress.say`; the release notes are the result.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import __version__
from bot.release import collect as col
from bot.release import gitops, manifest, models, notes
from bot.release.plan import Context, base_digest, context, plan, previous_model
from bot.release.state import ReleaseError, State, load
from bot.stages.errors import StageFailed, UsageError
from bot.stages.progress import Progress
from bot.workspace import Workspace


@dataclass(frozen=True)
class ReleaseRequest:
    version: str | None = None  # default: the next minor after the last tag, or 0.1.0
    base_model: str | None = None  # overrides bot.yaml release.base
    force: bool = False  # tag even when the benchmark regressed past its limits


@dataclass(frozen=True)
class ReleaseResult:
    version: str
    notes: str  # the release notes (Markdown)
    already: bool = False  # the tag existed: nothing was done


def _version(ws: Workspace, req: ReleaseRequest, repo: Any) -> str:
    tags = col.release_tags(repo, ws.config.release.tag_prefix)
    version = req.version or col.next_version(tags)
    col.parse_version(version)
    return version


def _files(version: str) -> list[str]:
    folder = f"releases/{version}"
    names = ("manifest.yaml", "MODEL_CARD.md", "CHANGELOG.md")
    return [*(f"{folder}/{name}" for name in names), "CHANGELOG.md"]


def release(ws: Workspace, req: ReleaseRequest, progress: Progress | None = None) -> ReleaseResult:
    """Raises ReleaseError with what to do and its exit status."""
    say = (progress or Progress()).say
    ws.layout.prepare()
    repo = col.open_repo(ws.root)
    version = _version(ws, req, repo)
    ctx = context(ws, version, req.base_model)
    state = load(ws.layout.work, version)
    if state.has("tag"):
        say(f"{state['tag']['tag']} is already released; nothing to do")
        return ReleaseResult(version, (ctx.folder / "notes.md").read_text("utf-8"), True)
    guarded = [] if state.has("commit") else ["taxonomy/", "bot.yaml"]
    # Once collected, these files may be this release's own (a write cut short).
    guarded += [] if state.has("collect") else [f"releases/{version}/", "CHANGELOG.md"]
    found = gitops.dirty(repo, guarded)
    if found:
        raise ReleaseError(
            f"uncommitted changes in {', '.join(found[:5])}: commit or remove them first", 2
        )
    if not state.has("collect"):
        collected = col.collect(ws.root, ws.layout.cache, version, ws.config.release.tag_prefix)
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
    _model_stages(ctx, state, collected, prev, progress or Progress())
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
        _write(ctx, state, collected, summary, bench_doc)
        say(f"write: {', '.join(_files(version))}")
    text = (ctx.folder / "notes.md").read_text("utf-8")
    sig = gitops.signature(ws.config.release)
    if not state.has("commit"):
        commit = gitops.commit_files(
            repo, ws.root, _files(version), f"Release {collected.tag}", sig
        )
        state.record("commit", {"commit": commit})
        say(f"commit: {commit[:12]}")
    if not state.has("tag"):
        oid = gitops.tag(repo, collected.tag, state["commit"]["commit"], text, sig)
        state.record("tag", {"tag": collected.tag, "id": oid})
        say(f"tag: {collected.tag}")
    return ReleaseResult(version, text)


def dry_run(ws: Workspace, req: ReleaseRequest) -> ReleaseResult:
    """Exactly what `release` would hold, changing nothing."""
    from bot.release.dryrun import describe

    text = describe(ws, req.version, req.base_model)
    return ReleaseResult(req.version or "", text)


def _summary(c: col.Collected) -> str:
    since = f"since {c.previous.name}" if c.previous else "(first release)"
    return (
        f"{c.tag}: {len(c.leaves)} leaves, {len(c.added)} added, {len(c.changed)} changed, "
        f"{len(c.removed)} removed {since}"
    )


def _model_stages(
    ctx: Context,
    state: State,
    collected: col.Collected,
    prev: dict[str, Any] | None,
    progress: Progress,
) -> None:
    if state.has("retrain") and state.has("benchmark"):
        return
    baseline = previous_model(ctx, collected, prev)
    say = progress.say
    if not state.has("retrain"):
        say(f"retrain: from {ctx.base if not prev else baseline} (release.continue_from_last "
            f"{ctx.ws.config.release.continue_from_last})")  # fmt: skip
        state.record("retrain", _retrain(ctx, collected, baseline, progress))
        say(f"retrain: model {state['retrain']['digest']} in {state['retrain']['model']}")
    if not state.has("benchmark"):
        say(f"benchmark: {state['retrain']['digest']} vs {baseline}")
        state.record("benchmark", _benchmark(ctx, state["retrain"]["model"], baseline, progress))


def _retrain(
    ctx: Context, collected: col.Collected, previous_spec: str, progress: Progress
) -> dict[str, Any]:
    """Generate (incremental), retrain through the one retrain path, store the model."""
    from bot.stages.generate import GenerateRequest, generate
    from bot.stages.train import RetrainRequest, retrain
    from trainer.data import replay as buffers

    mode, start, new = plan(ctx, collected, previous_spec)
    try:
        generated = generate(ctx.ws, GenerateRequest(), progress)
        if generated.failed:
            raise ReleaseError("; ".join(f"{j.path}: {j.reason}" for j in generated.failed))
        req = RetrainRequest(
            base_model=ctx.base,
            start=start,
            new_leaves=tuple(new),
            out=ctx.folder / "train",
            record=False,
        )
        done = retrain(ctx.ws, req, progress)
    except UsageError as exc:
        raise ReleaseError(str(exc), 2) from None
    except StageFailed as exc:
        raise ReleaseError(f"{exc.stage}: {exc}", exc.code) from None
    digest, stored = models.put(done.model, ctx.store)
    version = done.replay_version or buffers.load(ctx.ws.layout.replay).version
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
            for name, m in done.summary.get("mix", {}).items()
        },
        "replay_version": version,
        "steps": {p["name"]: p["steps"] for p in done.summary.get("phases", [])},
    }


def _benchmark(ctx: Context, model: str, baseline: str, progress: Progress) -> dict[str, Any]:
    """The released model against the previous release (or the base), every leaf."""
    from bot.stages.benchmark import BenchmarkRequest, benchmark, parse_limits

    cfg = ctx.ws.config.release
    try:
        req = BenchmarkRequest(
            model=f"hf:{model}",
            base_model=baseline,
            out=ctx.folder / "benchmark",
            max_regression=parse_limits(cfg.max_regression),
            general=cfg.general,
        )
        done = benchmark(ctx.ws, req, progress)
    except UsageError as exc:
        raise ReleaseError(f"benchmark: {exc}", 2) from None
    return {
        "report": str(done.out / "report.json"),
        "baseline": baseline,
        "failed": bool(done.doc["summary"]["failed"]),
    }


def _write(
    ctx: Context,
    state: State,
    collected: col.Collected,
    summary: dict[str, Any],
    bench_doc: dict[str, Any],
) -> None:
    from bot.release.card import readme
    from trainer.sdg.store import write_atomic

    doc = manifest.build(
        collected,
        state["collect"]["created"],
        ctx.ws.config,
        state["retrain"],
        summary,
        f"taxonomy-bot {__version__}",
    )
    deltas = manifest.leaf_deltas(bench_doc)
    text = notes.release_notes(doc, deltas, f"hf:{state['retrain']['model']}")
    folder = ctx.ws.root / "releases" / collected.version
    write_atomic(folder / "manifest.yaml", manifest.dump(doc))
    # The model card, in git and as the released model folder's README.md: a Hugging Face
    # folder that from_pretrained loads and the hub reads as it is.
    card = readme(doc, bench_doc, ctx.ws.config.release)
    write_atomic(folder / "MODEL_CARD.md", card)
    write_atomic(Path(state["retrain"]["model"]) / "README.md", card)
    entry = notes.changelog_entry(doc, deltas)
    write_atomic(folder / "CHANGELOG.md", "# Changelog\n\n" + entry)
    top = ctx.ws.root / "CHANGELOG.md"  # from HEAD: a re-run after a cut-short write adds once
    write_atomic(top, notes.prepend_changelog(_at_head(ctx.ws.root, "CHANGELOG.md"), entry))
    write_atomic(ctx.folder / "notes.md", text)
    state.record("write", {"files": _files(collected.version)})


def _at_head(root: Path, rel: str) -> str:
    import pygit2

    repo = col.open_repo(root)
    tree = repo.head.peel(pygit2.Commit).tree
    return tree[rel].data.decode("utf-8") if rel in tree else ""
