"""`bot generate`: incremental synthetic data generation for taxonomy leaves."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands._common import add_work, open_workspace, usage

if TYPE_CHECKING:
    from bot.stages.generate import GenerateResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "generate",
        help="generate synthetic training data for leaves",
        description="Expand each leaf's seed examples with a teacher model "
        "(LAB). Unchanged leaves are read from the store at no model cost.",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every leaf (the default)")
    which.add_argument("--changed", action="store_true", help="leaves changed vs --base-ref")
    p.add_argument("paths", nargs="*", type=Path, help="leaf files or folders")
    p.add_argument(
        "--base-ref", metavar="REF", help="git ref for --changed (default origin/main, main)"
    )
    p.add_argument(
        "--teacher",
        metavar="SPEC",
        help="embedded | hf:DIR | openai:URL[#model] | "
        "vllm:MODEL (default: bot.yaml generate.teacher, else embedded)",
    )
    p.add_argument("--samples", type=int, metavar="N", help="generated samples kept per leaf")
    p.add_argument("--seed", type=int)
    add_work(p)
    p.add_argument("--dry-run", action="store_true", help="say what would be generated and why")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from bot.report.progress import RichProgress
    from bot.stages.errors import UsageError
    from bot.stages.generate import GenerateRequest, generate

    ws = open_workspace("generate", args.work)
    if isinstance(ws, int):
        return ws
    req = GenerateRequest(
        paths=tuple(Path.cwd() / p for p in args.paths),
        changed=args.changed,
        base_ref=args.base_ref,
        teacher=args.teacher,
        samples=args.samples,
        seed=args.seed,
        dry_run=args.dry_run,
    )
    try:
        with RichProgress(enabled=args.format == "text") as progress:
            result = generate(ws, req, progress)
    except UsageError as exc:
        return usage("generate", str(exc))
    return _emit(result, args)


def _as_dict(job: Any) -> dict[str, Any]:
    return {
        "path": job.path,
        "status": job.status,
        "generated": job.generated,
        "kept": job.kept,
        "model_calls": job.model_calls,
        "output": job.output,
    }


def _emit(result: GenerateResult, args: argparse.Namespace) -> int:
    jobs, dry, failed = result.jobs, result.dry_run, result.failed
    if args.format == "json":
        doc: dict[str, Any] = {
            "leaves": [_as_dict(j) | ({"reason": j.reason} if dry else {}) for j in jobs],
            "evaluation_items": [
                _as_dict(j) | ({"reason": j.reason} if dry else {}) for j in result.item_jobs
            ],
            "summary": {
                "model_calls": sum(j.model_calls for j in jobs),
                "evaluation_items_model_calls": sum(j.model_calls for j in result.item_jobs),
                "kept": sum(j.kept for j in jobs),
                "failed": len(failed),
            },
        }
        if dry:
            doc["dry_run"] = True
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from rich.console import Console
        from rich.markup import escape

        from bot.report.generation import summary_table

        console = Console(highlight=False)
        console.print(summary_table(jobs, dry))
        for j in failed:
            console.print(f"[red]failed[/red] {escape(j.path)}: {escape(j.reason)}", soft_wrap=True)
        if result.item_jobs:
            kept = sum(j.kept for j in result.item_jobs)
            calls = sum(j.model_calls for j in result.item_jobs)
            console.print(
                f"evaluation items written from held-out seeds: {kept} for "
                f"{len(result.item_jobs)} skill leaves ({calls} model calls)"
            )
        if not dry:
            console.print(f"training files: {result.data}")
    return 1 if failed else 0
