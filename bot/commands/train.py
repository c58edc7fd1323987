"""`bot train`: the retrain (bot/stages/train.py) from the command line: knowledge, then
skills, with replay of earlier leaves. Runs under `accelerate launch` as well."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands._common import add_work, open_workspace, usage

if TYPE_CHECKING:
    from bot.stages.train import RetrainRequest, RetrainResult
    from bot.workspace import Workspace


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train the student in phases on the generated data, with replay",
        description="Mix the generated data into phase datasets (new leaves plus a replay "
        "sample of earlier ones), train each phase from the previous phase's checkpoint, "
        "then add the trained leaves to the replay buffer. Continues from the last retrain "
        "of the same --base-model; skipped when data and settings are unchanged; an "
        "interrupted run resumes.",
    )
    p.add_argument(
        "--base-model", metavar="SPEC", default="embedded", help="embedded | hf:DIR | DIR"
    )
    p.add_argument(
        "--start-model",
        metavar="SPEC",
        help="continue from this model (default: the last retrain of --base-model, else it)",
    )
    p.add_argument(
        "--phases",
        metavar="LIST",
        help="comma-separated, in order (default: knowledge,skills; add dpo for a SPIN phase)",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="run folder (default <work>/runs/KEY)")
    add_work(p)
    p.add_argument(
        "--replay-from",
        type=Path,
        metavar="DIR",
        help="the replay buffer's folder (default <work>/replay)",
    )
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (peft)")
    p.add_argument("--disperse", type=int, metavar="K", help="disperse-then-merge over K shards")
    p.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps per phase, at most")
    p.add_argument(
        "--distill-replay",
        action="store_true",
        help="regenerate replayed answers with the model being continued (self-distillation)",
    )
    p.add_argument("--no-replay-update", action="store_true", help="leave the replay buffer as is")
    p.add_argument("--format", choices=("text", "json"), default="text")


def request(args: argparse.Namespace, ws: Workspace) -> RetrainRequest:
    """The request the flags ask for; raises ValueError with a usage message."""
    from bot.stages.train import RetrainRequest

    overrides: dict[str, Any] = {}
    if args.lora:
        overrides["lora"] = True
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise ValueError("--max-steps must be >= 1")
        overrides["max_steps"] = args.max_steps
    if args.disperse is not None:
        if args.disperse < 1:
            raise ValueError("--disperse must be >= 1")
        overrides["disperse"] = args.disperse
    mix = ws.config.mix
    return RetrainRequest(
        base_model=args.base_model,
        start=args.start_model,
        phases=tuple(p for p in (args.phases or "").split(",") if p) or None,
        out=args.out.absolute() if args.out else None,
        update_replay=not args.no_replay_update,
        train=dataclasses.replace(ws.config.train, **overrides),
        mix=dataclasses.replace(mix, distill_replay=True) if args.distill_replay else mix,
    )


def run(args: argparse.Namespace) -> int:
    from bot.report.progress import RichProgress
    from bot.stages.errors import StageFailed, UsageError
    from bot.stages.train import retrain
    from trainer.train.session import main_process

    ws = open_workspace("train", args.work, args.replay_from)
    if isinstance(ws, int):
        return ws
    main = main_process()  # under `accelerate launch`, only one process reports
    try:
        req = request(args, ws)
        with RichProgress(enabled=args.format == "text" and main) as progress:
            result = retrain(ws, req, progress)
    except (UsageError, ValueError) as exc:
        return usage("train", str(exc))
    except StageFailed as exc:
        print(f"bot train: {exc}", file=sys.stderr)
        return exc.code
    if main:
        _emit(result, args.format, ws)
    return 0


def _emit(result: RetrainResult, fmt: str, ws: Workspace) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(result.summary, indent=2) + "\n")
        return
    from rich.console import Console

    from bot.report.training import leaves_table, summary_table

    console = Console(highlight=False)
    if result.skipped:
        console.print(f"data and settings unchanged since run {result.key}: nothing to train")
    console.print(summary_table(result.summary["phases"]))
    if result.exposure():
        console.print(leaves_table(result.exposure()))
    console.print(f"model: {result.model}")
    console.print(f"summary: {result.out / 'train_summary.json'}")
    if result.replay_version:
        console.print(f"replay buffer: {ws.layout.replay} (version {result.replay_version})")
