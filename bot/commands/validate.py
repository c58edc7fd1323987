"""`bot validate`: check leaves against the schemas and rules; exit 0 ok, 1 errors, 2 usage."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.taxonomy.find import collect, default_taxonomy, display, find_root, place

if TYPE_CHECKING:
    from bot.check import Options
    from bot.validate import Report


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check taxonomy leaves (qna.yaml)",
        description="Check leaves against the JSON Schemas and the rules in "
        "schema/README.md. Exit 0: no errors; 1: errors; 2: usage error.",
    )
    p.add_argument("paths", nargs="*", type=Path, help="leaf files or folders (default: taxonomy/)")
    p.add_argument(
        "--changed",
        action="store_true",
        help="only leaves added or modified vs --base (committed, staged, unstaged, untracked)",
    )
    p.add_argument(
        "--base",
        metavar="REF",
        help="base for --changed (default: origin/main, falling back to main)",
    )
    p.add_argument("--format", choices=("text", "json", "github"), default="text")
    p.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn a rule off (repeatable); ids in schema/README.md",
    )
    p.add_argument(
        "--require-version",
        type=int,
        metavar="N",
        help="new or changed leaves must declare at least version N",
    )
    p.add_argument(
        "--documents",
        action="store_true",
        help="also fetch knowledge documents and check commit and patterns",
    )
    p.add_argument(
        "--summary",
        action="store_true",
        help="print a table of leaves per branch and version after the results",
    )
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPUs)")


def _usage(msg: str) -> int:
    print(f"bot validate: error: {msg}", file=sys.stderr)
    return 2


def _changes_in_background(cwd: Path, base: str | None) -> Any:
    """Start reading git's changes at once: libgit2's status releases the GIL, so the
    imports and index loading below overlap with it (a third of --changed's time)."""
    import threading

    box: dict[str, Any] = {}

    def work() -> None:
        from bot.gitdiff import changed_leaves

        try:
            box["changes"] = changed_leaves(cwd, base)
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


def run(args: argparse.Namespace) -> int:
    report = build_report(args)
    return report if isinstance(report, int) else _emit(report, args)


def build_report(args: argparse.Namespace) -> Report | int:
    """Validate what `args` selects; a usage error is returned as exit code 2."""
    cwd = Path.cwd()
    root = find_root(cwd)
    pending = _changes_in_background(cwd, args.base) if args.changed else None
    from bot.check import Options
    from bot.config import ConfigError, load_config
    from bot.rules import RULES
    from bot.validate import check_all, cross_leaf, finish

    try:
        cfg = load_config(root).validate
    except ConfigError as exc:
        return _usage(str(exc))
    disabled = set(args.disable) | set(cfg.disable)
    if unknown := sorted(disabled - RULES.keys()):
        return _usage(f"unknown rule {', '.join(unknown)} (see schema/README.md)")
    require = args.require_version or cfg.require_version
    if require is not None and require not in (1, 2, 3):
        return _usage("--require-version takes 1, 2 or 3")
    if args.base and not args.changed:
        return _usage("--base needs --changed")
    paths = args.paths or [default_taxonomy(root)]
    from bot.validate import Report

    report = Report(files=[])
    if pending is not None:
        from bot.gitdiff import GitError
        from bot.rules.dupindex import preload

        preload(root / ".bot" / "cache")
        try:
            changes = pending()
        except GitError as exc:
            return _usage(str(exc))
        scope = [p.absolute() for p in paths]
        keep = [f for f in changes.changed if any(f == s or s in f.parents for s in scope)]
        leaves = [place(display(f, cwd)) for f in keep]
        report.deleted = [str(display(f, cwd)) for f in changes.deleted]
        report.notes.append(f"{len(leaves)} changed leaf file(s) vs {changes.base}")
    else:
        leaves, missing = collect(paths, cwd)
        if missing:
            return _usage(f"no such file or folder: {', '.join(missing)}")
    tokenizer = None
    if cfg.tokenizer:
        tok = root / cfg.tokenizer
        tokenizer = str(tok / "tokenizer.json" if tok.is_dir() else tok)
        if not Path(tokenizer).is_file():
            return _usage(f"bot.yaml validate.tokenizer: {tokenizer} not found")
    opts = Options(
        repo_root=root,
        window=cfg.context_window,
        tokenizer=tokenizer,
        require_version=require,
        documents=args.documents,
        cache_dir=root / ".bot" / "cache",
        shingles="duplicate-across-leaves" not in disabled and (len(leaves) > 1 or args.changed),
    )
    report.files = check_all(leaves, opts, args.jobs)
    if opts.shingles:
        cross_leaf(report.files)
        if args.changed and report.files:
            _against_committed(report, root, cwd, opts)
    finish(report.files, disabled)
    return report


def _against_committed(report: Report, root: Path, cwd: Path, opts: Options) -> None:
    """--changed: compare the changed leaves with every other leaf through the cached index."""
    from bot.rules.dupindex import compare_with_committed

    def shown(rel: str) -> str:
        return str(display(root / rel, cwd))

    found = compare_with_committed(
        report.files, root, default_taxonomy(root), opts.cache_dir or root / ".bot" / "cache", shown
    )
    for r in report.files:
        lines = {p.line for p in r.problems if p.rule == "duplicate-across-leaves"}
        r.problems += [p for p in found.get(r.path, []) if p.line not in lines]


def _emit(report: Report, args: argparse.Namespace) -> int:
    if args.format == "json":
        from bot.report.json import render

        sys.stdout.write(render(report))
    else:
        from rich.console import Console

        console = Console(highlight=False)
        if args.format == "github":
            from bot.report.github import commands, write_summary

            sys.stdout.write(commands(report))
            write_summary(report, os.environ.get("GITHUB_STEP_SUMMARY"))
        else:
            from bot.report.text import render as render_text

            render_text(report, console)
        if args.summary:
            from bot.summary import table

            console.print(table(report))
    return 1 if report.errors else 0
