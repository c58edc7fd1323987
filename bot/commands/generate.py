"""`bot generate`: incremental synthetic data generation for taxonomy leaves."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.config import ConfigError, load_config
from bot.taxonomy.find import LEAF_NAME, collect, default_taxonomy, find_root, place, walk


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "generate",
        help="generate synthetic training data for leaves",
        description="Expand each leaf's seed examples with a teacher model "
        "(LAB). Unchanged leaves are read from the store at no model cost.",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every leaf (the default)")
    which.add_argument("--changed", action="store_true", help="leaves changed vs --base")
    p.add_argument("paths", nargs="*", type=Path, help="leaf files or folders")
    p.add_argument("--base", metavar="REF", help="base for --changed (default origin/main, main)")
    p.add_argument(
        "--teacher",
        metavar="SPEC",
        help="embedded | hf:DIR | openai:URL[#model] | "
        "vllm:MODEL (default: bot.yaml generate.teacher, else embedded)",
    )
    p.add_argument("--samples", type=int, metavar="N", help="generated samples kept per leaf")
    p.add_argument("--seed", type=int)
    p.add_argument("--work", type=Path, metavar="DIR", help="work folder (default .bot/)")
    p.add_argument("--dry-run", action="store_true", help="say what would be generated and why")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _usage(msg: str) -> int:
    print(f"bot generate: error: {msg}", file=sys.stderr)
    return 2


def _select(args: argparse.Namespace, root: Path, cwd: Path) -> list[Path] | str:
    if args.changed:
        from bot.gitdiff import GitError, changed_leaves

        try:
            return [p for p in changed_leaves(cwd, args.base).changed if p.name == LEAF_NAME]
        except GitError as exc:
            return str(exc)
    if args.base:
        return "--base needs --changed"
    if args.paths:
        leaves, missing = collect(args.paths, cwd)
        if missing:
            return f"no such file or folder: {', '.join(missing)}"
        return [leaf.path.absolute() for leaf in leaves]
    return [p.absolute() for p in walk(default_taxonomy(root)) if p.name == LEAF_NAME]


def run(args: argparse.Namespace) -> int:
    done = execute(args)
    if isinstance(done, int):
        return done
    jobs, work = done
    return _emit(jobs, args, work, dry=args.dry_run)


def execute(args: argparse.Namespace) -> tuple[list[Any], Path] | int:
    """Plan (and unless --dry-run, run and export) generation; usage errors return 2."""
    cwd = Path.cwd()
    root = find_root(cwd)
    try:
        cfg = load_config(root).generate
    except ConfigError as exc:
        return _usage(str(exc))
    if args.samples is not None and args.samples < 0:
        return _usage("--samples must be >= 0")
    files = _select(args, root, cwd)
    if isinstance(files, str):
        return _usage(files)
    from trainer.models.base import ModelError
    from trainer.sdg import generate as gen
    from trainer.sdg.export import export
    from trainer.sdg.pipeline import PipelineConfig
    from trainer.sdg.store import Store
    from trainer.sdg.teacher import Teacher

    work = (args.work or root / ".bot").absolute()
    store = Store(work / "generate")
    teacher = Teacher(args.teacher or cfg.teacher)
    config = PipelineConfig(
        samples=cfg.samples if args.samples is None else args.samples,
        seed=cfg.seed if args.seed is None else args.seed,
        temperature=cfg.temperature,
        max_rounds=cfg.max_rounds,
        overgenerate=cfg.overgenerate,
    )
    try:
        jobs = gen.plan(files, root, store, teacher, config)
    except (ModelError, ValueError) as exc:
        return _usage(f"teacher {teacher.spec}: {exc}")
    if args.dry_run:
        return jobs, work
    from bot.report.progress import GenerationProgress

    with GenerationProgress(enabled=args.format == "text") as progress:
        progress.start(sum(j.status == "pending" for j in jobs))
        gen.run(jobs, store, teacher, config, progress.update if progress.enabled else None)
    teacher.close()
    taxonomy = [p for p in walk(default_taxonomy(root)) if p.name == LEAF_NAME]
    from trainer.sdg.leafdata import taxonomy_path

    current = [taxonomy_path(place(p)) for p in taxonomy]
    exported = export(store, current, work / "data")
    for job in jobs:
        if job.leaf and job.leaf.path in exported:
            job.output = str(exported[job.leaf.path].path)
    return jobs, work


def _as_dict(job: Any) -> dict[str, Any]:
    return {
        "path": job.path,
        "status": job.status,
        "generated": job.generated,
        "kept": job.kept,
        "model_calls": job.model_calls,
        "output": job.output,
    }


def _emit(jobs: list[Any], args: argparse.Namespace, work: Path, dry: bool) -> int:
    failed = [j for j in jobs if j.status == "failed"]
    if args.format == "json":
        doc: dict[str, Any] = {
            "leaves": [_as_dict(j) | ({"reason": j.reason} if dry else {}) for j in jobs],
            "summary": {
                "model_calls": sum(j.model_calls for j in jobs),
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
        if not dry:
            console.print(f"training files: {work / 'data'}")
    return 1 if failed else 0
