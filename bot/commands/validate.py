"""`bot validate`: check leaves against the schemas and rules; exit 0 ok, 1 errors, 2 usage."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands._common import open_workspace, usage

if TYPE_CHECKING:
    from bot.validation.engine import Report


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
        help="only leaves added or modified vs --base-ref (committed, staged, unstaged, untracked)",
    )
    p.add_argument(
        "--base-ref",
        metavar="REF",
        help="git ref for --changed (default: origin/main, falling back to main)",
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


def run(args: argparse.Namespace) -> int:
    from bot.stages.errors import UsageError
    from bot.stages.validate import ValidateRequest, validate

    ws = open_workspace("validate")
    if isinstance(ws, int):
        return ws
    cwd = Path.cwd()
    req = ValidateRequest(
        paths=tuple(cwd / p for p in args.paths),
        changed=args.changed,
        base_ref=args.base_ref,
        disable=tuple(args.disable),
        require_version=args.require_version,
        documents=args.documents,
        jobs=args.jobs,
        shown_from=cwd,
    )
    try:
        report = validate(ws, req)
    except UsageError as exc:
        return usage("validate", str(exc))
    return _emit(report, args)


def _emit(report: Report, args: argparse.Namespace) -> int:
    if args.format == "json":
        from bot.report.json import render

        sys.stdout.write(render(report))
    elif args.format == "text" and not args.summary and _plain(sys.stdout):
        from bot.report.text import render_plain

        render_plain(report, sys.stdout)
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
            from bot.report.summary import table

            console.print(table(report))
    return 1 if report.errors else 0


def _plain(out: object) -> bool:
    """A pipe, and nobody asked for colour: rich would print the lines unstyled anyway."""
    isatty = getattr(out, "isatty", None)
    tty = bool(isatty()) if callable(isatty) else False
    return not tty and not os.environ.get("FORCE_COLOR") and not os.environ.get("TTY_COMPATIBLE")
