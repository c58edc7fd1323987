"""`bot run`: the main job, end to end (bot/stages/run.py)."""

from __future__ import annotations

import argparse
import sys

from bot.commands._common import add_work, open_workspace


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
    p.add_argument(
        "--base-ref", metavar="REF", help="git ref for --changed (default origin/main, main)"
    )
    p.add_argument("--base-model", metavar="SPEC", default="embedded", help="student to start from")
    add_work(p)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.commands._common import usage
    from bot.interrupts import interruptible
    from bot.report.progress import RichProgress
    from bot.report.run import render
    from bot.report.text import render as render_validation
    from bot.stages.run import RunRequest
    from bot.stages.run import run as run_all

    if args.base_ref and not args.changed:
        return usage("run", "--base-ref needs --changed")
    ws = open_workspace("run", args.work)
    if isinstance(ws, int):
        return ws
    req = RunRequest(base_model=args.base_model, changed=args.changed, base_ref=args.base_ref)
    with interruptible(), RichProgress() as progress:  # Ctrl-C, SIGTERM end the stage only
        result = run_all(ws, req, progress)
    if result.validation is not None and result.validation.errors:
        render_validation(result.validation, Console(stderr=True, highlight=False))
    render(result)
    if result.exit_code:
        failed = result.stages[-1]
        print(f"bot run: {failed.name} failed: {failed.detail}", file=sys.stderr)
    return result.exit_code
