"""Which leaves a stage works on: every leaf, the ones under given paths, or the ones
changed against a git ref."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.stages.errors import UsageError
from bot.taxonomy.find import LEAF_NAME, collect
from bot.workspace import Workspace


@dataclass(frozen=True)
class Selected:
    files: list[Path]  # leaf files (qna.yaml), absolute
    mode: str  # "all" | "paths" | "changed"
    base_ref: str | None = None  # with "changed": the ref as resolved


def select(ws: Workspace, paths: tuple[Path, ...], changed: bool, base_ref: str | None) -> Selected:
    """Raises UsageError for contradictory or impossible selections."""
    if changed:
        if paths:
            raise UsageError("give leaf paths or --changed, not both")
        from bot.git.diff import GitError, changed_leaves

        ws.layout.prepare()
        try:
            changes = changed_leaves(ws.root, base_ref, ws.layout.cache)
        except GitError as exc:
            raise UsageError(str(exc)) from None
        files = [p for p in changes.changed if p.name == LEAF_NAME]
        return Selected(files, "changed", changes.base)
    if base_ref:
        raise UsageError("--base-ref needs --changed")
    if paths:
        found = collect(list(paths), ws.root)
        if found.missing:
            raise UsageError(f"no such file or folder: {', '.join(found.missing)}")
        files = [(ws.root / leaf.path).absolute() for leaf in found.leaves]
        files = [f for f in files if f.name == LEAF_NAME]
        if not files:
            why = "".join(f"; {path}: {reason}" for path, reason in found.skipped)
            raise UsageError(f"no leaves found in {', '.join(map(str, paths))}{why}")
        return Selected(files, "paths")
    return Selected(ws.leaf_files(), "all")
