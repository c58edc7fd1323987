"""`bot run`: the main job, end to end (bot/pipeline.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="validate, generate, train with replay, benchmark and report",
        description="The main job: validate the taxonomy, generate data for its leaves, "
        "train the student in phases with replay, benchmark it against the base model and "
        "show the result. Stages whose inputs have not changed are skipped, and an "
        "interrupted run continues where it stopped.",
    )
    p.add_argument("--changed", action="store_true", help="only leaves changed vs --base-ref")
    p.add_argument("--base-ref", metavar="REF", help="for --changed (default origin/main, main)")
    p.add_argument("--base", metavar="MODEL", default="embedded", help="student to start from")
    p.add_argument("--work", type=Path, metavar="DIR", help="work folder (default .bot/)")


def run(args: argparse.Namespace) -> int:
    from bot.config import ConfigError, load_config
    from bot.taxonomy.find import find_root

    root = find_root(Path.cwd())
    try:
        config = load_config(root)
    except ConfigError as exc:
        print(f"bot run: error: {exc}", file=sys.stderr)
        return 2
    if args.base_ref and not args.changed:
        print("bot run: error: --base-ref needs --changed", file=sys.stderr)
        return 2
    from bot import pipeline
    from bot.report.run import render

    opts = pipeline.RunOptions(
        root=root,
        work=(args.work or root / ".bot").absolute(),
        config=config,
        base=args.base,
        changed=args.changed,
        base_ref=args.base_ref,
    )
    result = pipeline.run(opts)
    render(result)
    if result.exit_code:
        failed = result.stages[-1]
        print(f"bot run: {failed.name} failed: {failed.detail}", file=sys.stderr)
    return result.exit_code
