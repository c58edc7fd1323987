"""Validate: check leaves against the schemas and rules (schema/README.md).

    report = validate(ws, ValidateRequest(changed=True))
    report.errors, report.files[0].problems

The report is data; bot/report/ renders it as text, JSON or GitHub annotations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.stages.errors import UsageError
from bot.taxonomy.find import collect, display, place

if TYPE_CHECKING:
    from bot.validation.check import Options
    from bot.validation.engine import Report
    from bot.workspace import Workspace


@dataclass(frozen=True)
class ValidateRequest:
    paths: tuple[Path, ...] = ()  # leaf files or folders; empty: the whole taxonomy
    changed: bool = False  # only leaves changed vs base_ref (committed, staged, untracked)
    base_ref: str | None = None  # default origin/main, falling back to main
    disable: tuple[str, ...] = ()  # rule ids, on top of bot.yaml's validate.disable
    require_version: int | None = None  # new or changed leaves must declare at least this
    documents: bool = False  # also fetch knowledge documents and check commit + patterns
    jobs: int | None = None  # worker processes (default: CPUs)
    shown_from: Path | None = None  # report paths relative to this folder (default: the root)


def _changes_in_background(ws: Workspace, base: str | None) -> Any:
    """Start reading git's changes at once, so the imports and index loading below
    overlap with it: the working-tree scan's lstat calls release the GIL, and so do the
    libgit2 diffs it falls back to (pygit2's `Repository.status` would not)."""
    import threading

    box: dict[str, Any] = {}

    def work() -> None:
        from bot.git.diff import changed_leaves

        try:
            box["changes"] = changed_leaves(ws.root, base, ws.layout.cache)
        except Exception as exc:  # handed to the main thread, which reports it
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def result() -> Any:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["changes"]

    return result


def validate(ws: Workspace, req: ValidateRequest) -> Report:
    """Validate what `req` selects. Raises UsageError for a request that cannot be run."""
    if req.base_ref and not req.changed:
        raise UsageError("--base-ref needs --changed")
    if req.changed or req.documents:  # the git scan's state and fetched documents
        ws.layout.prepare()
    pending = _changes_in_background(ws, req.base_ref) if req.changed else None
    from bot.validation.check import Options
    from bot.validation.engine import Report, check_all, cross_leaf, finish
    from bot.validation.rules import RULES

    cfg = ws.config.validate
    disabled = set(req.disable) | set(cfg.disable)
    if unknown := sorted(disabled - RULES.keys()):
        raise UsageError(f"unknown rule {', '.join(unknown)} (see schema/README.md)")
    require = req.require_version or cfg.require_version
    if require is not None and require not in (1, 2, 3):
        raise UsageError("--require-version takes 1, 2 or 3")
    shown = req.shown_from or ws.root
    paths = list(req.paths) or [ws.taxonomy]
    report = Report(files=[])
    if pending is not None:
        from bot.git.diff import GitError
        from bot.validation.rules.dupindex import preload

        preload(ws.layout.cache)
        try:
            changes = pending()
        except GitError as exc:
            raise UsageError(str(exc)) from None
        scope = [p.absolute() for p in paths]
        keep = [f for f in changes.changed if any(f == s or s in f.parents for s in scope)]
        leaves = [place(f) for f in keep]
        report.deleted = [str(display(f, shown)) for f in changes.deleted]
        report.notes.append(f"{len(leaves)} changed leaf file(s) vs {changes.base}")
    else:
        found = collect(paths, shown, absolute=True)
        if found.missing:
            raise UsageError(f"no such file or folder: {', '.join(found.missing)}")
        leaves, report.skipped = found.leaves, found.skipped
        if not leaves:
            _nothing_found(report, req.paths, shown, ws)
    opts = Options(
        repo_root=ws.root,
        window=cfg.context_window,
        tokenizer=_tokenizer(ws),
        require_version=require,
        documents=req.documents,
        cache_dir=ws.layout.cache,
        shingles="duplicate-across-leaves" not in disabled and (len(leaves) > 1 or req.changed),
    )
    report.files = check_all(leaves, opts, req.jobs)
    _relabel(report, shown)
    if opts.shingles:
        cross_leaf(report.files)
        if req.changed and report.files:
            _against_committed(report, ws, shown, opts)
    finish(report.files, disabled)
    return report


def _nothing_found(report: Report, named: tuple[Path, ...], shown: Path, ws: Workspace) -> None:
    """No leaves: an error when the user named the paths, said aloud when it is the
    default taxonomy folder."""
    if not named:
        where = display(ws.taxonomy, shown)
        report.notes.append(f"no leaves found under {where}/ (a leaf is a folder with qna.yaml)")
        return
    why = "; ".join(f"{path}: {reason}" for path, reason in report.skipped)
    names = ", ".join(str(display(p, shown)) for p in named)
    raise UsageError(why or f"no leaves found in {names}")


def _relabel(report: Report, shown: Path) -> None:
    """Files are read by their absolute paths and reported relative to `shown`, in the
    results and in the messages that name a path."""
    prefix = str(shown.absolute()) + os.sep
    for r in report.files:
        r.path = str(display(Path(r.path), shown))
        r.problems = [p._replace(message=p.message.replace(prefix, "")) for p in r.problems]


def _tokenizer(ws: Workspace) -> str | None:
    """bot.yaml's validate.tokenizer as a tokenizer.json path, checked."""
    name = ws.config.validate.tokenizer
    if not name:
        return None
    tok = ws.root / name
    found = tok / "tokenizer.json" if tok.is_dir() else tok
    if not found.is_file():
        raise UsageError(f"bot.yaml validate.tokenizer: {found} not found")
    return str(found)


def _against_committed(report: Report, ws: Workspace, shown: Path, opts: Options) -> None:
    """--changed: compare the changed leaves with every other leaf through the cached index."""
    from bot.validation.rules.dupindex import compare_with_committed

    def show(rel: str) -> str:
        return str(display(ws.root / rel, shown))

    found = compare_with_committed(report.files, ws.root, ws.taxonomy, ws.layout.cache, show, shown)
    for r in report.files:
        lines = {p.line for p in r.problems if p.rule == "duplicate-across-leaves"}
        r.problems += [p for p in found.get(r.path, []) if p.line not in lines]
