"""`bot run`: the main job, end to end (bot/pipeline.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands._common import root_and_config, usage, work_dir


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
    found = root_and_config("run")
    if isinstance(found, int):
        return found
    root, config = found
    if args.base_ref and not args.changed:
        return usage("run", "--base-ref needs --changed")
    from bot import pipeline
    from bot.interrupts import interruptible
    from bot.report.run import render

    opts = pipeline.RunOptions(
        root=root,
        work=work_dir(args.work, root),
        config=config,
        base=args.base,
        changed=args.changed,
        base_ref=args.base_ref,
    )
    with interruptible():  # Ctrl-C and SIGTERM end the stage running, not the process
        result = pipeline.run(opts)
        render(result)
    if result.exit_code:
        failed = result.stages[-1]
        print(f"bot run: {failed.name} failed: {failed.detail}", file=sys.stderr)
    return result.exit_code
