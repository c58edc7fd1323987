"""`bot train`: phased fine-tuning (knowledge, then skills) with replay of earlier leaves."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from bot.commands._common import root_and_config, usage, work_dir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train the student in phases on the generated data, with replay",
        description="Mix the generated data into phase datasets (new leaves plus a replay "
        "sample of earlier ones), train each phase from the previous phase's checkpoint, "
        "then add the trained leaves to the replay buffer.",
    )
    p.add_argument(
        "--phases",
        metavar="LIST",
        help="comma-separated, in order (default: knowledge,skills; add dpo for a SPIN phase)",
    )
    p.add_argument("--base", metavar="MODEL", default="embedded", help="embedded | hf:DIR | DIR")
    p.add_argument("--data", type=Path, metavar="DIR", help="generated data (default <work>/data)")
    p.add_argument("--out", type=Path, metavar="DIR", help="run folder (default <work>/train)")
    p.add_argument("--work", type=Path, metavar="DIR", help="work folder (default .bot/)")
    p.add_argument("--resume", action="store_true", help="continue or reuse a run in --out")
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (peft)")
    p.add_argument("--disperse", type=int, metavar="K", help="disperse-then-merge over K shards")
    p.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps per phase, at most")
    p.add_argument(
        "--distill-replay",
        action="store_true",
        help="regenerate replayed answers with the base model (self-data distillation)",
    )
    p.add_argument("--no-replay-update", action="store_true", help="leave the replay buffer as is")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    found = root_and_config("train")
    if isinstance(found, int):
        return found
    root, config = found
    if args.max_steps is not None and args.max_steps < 1:
        return usage("train", "--max-steps must be >= 1")
    overrides: dict[str, Any] = {}
    if args.lora:
        overrides["lora"] = True
    if args.max_steps:
        overrides["max_steps"] = args.max_steps
    if args.disperse is not None:
        if args.disperse < 1:
            return usage("train", "--disperse must be >= 1")
        overrides["disperse"] = args.disperse
    train_cfg = dataclasses.replace(config.train, **overrides)
    work = work_dir(args.work, root)
    phases = tuple(p for p in (args.phases or "").split(",") if p) or None

    from trainer.models.base import ModelError
    from trainer.models.loader import local_model_dir
    from trainer.train.loop import TrainError
    from trainer.train.retrain import RetrainJob

    try:
        base = local_model_dir(args.base)
    except (ModelError, ValueError) as exc:
        return usage("train", f"--base {args.base}: {exc}")
    job = RetrainJob(
        base=base,
        base_spec=args.base,
        work=work,
        data=(args.data or work / "data").absolute(),
        out=(args.out or work / "train").absolute(),
        phases=phases,
        train=train_cfg,
        mix=dataclasses.replace(config.mix, distill_replay=True)
        if args.distill_replay
        else config.mix,
        replay=config.replay,
        resume=args.resume,
        update_replay=not args.no_replay_update,
    )
    from bot.report.training import summary_table
    from bot.retraining import retrain_with_progress
    from trainer.train.session import main_process

    main = main_process()  # under `accelerate launch`, only one process reports
    try:
        result = retrain_with_progress(root, job, enabled=args.format == "text" and main)
    except TrainError as exc:
        print(f"bot train: {exc}", file=sys.stderr)
        return 1
    if not main:
        return 0
    summary = json.loads((job.out / "train_summary.json").read_text())
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return 0
    from rich.console import Console

    console = Console(highlight=False)
    console.print(summary_table(summary["phases"]))
    console.print(f"model: {result.final}")
    console.print(f"summary: {job.out / 'train_summary.json'}")
    if result.replay_version:
        console.print(f"replay buffer: {work / 'replay'} (version {result.replay_version})")
    return 0
