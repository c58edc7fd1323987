"""`bot benchmark`: base vs candidate model on the same items, per leaf, with intervals."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands._common import add_work, open_workspace, usage

if TYPE_CHECKING:
    from bot.stages.benchmark import BenchmarkRequest


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "benchmark",
        help="compare a candidate model with a base model, per leaf",
        description="Score base and candidate on the same items: the selected leaves' "
        "held-out Q&A and document questions (branch suite), a fixed sample of the other "
        "leaves plus a general set (regression suite), optionally a judge. Writes "
        "report.json, report.md and deltas.png. Exit 0, 3 when a suite regresses past "
        "--max-regression, 2 on usage errors.",
    )
    p.add_argument("paths", nargs="*", type=Path, help="leaf files or folders (default: all)")
    p.add_argument("--changed", action="store_true", help="leaves changed vs --base-ref")
    p.add_argument(
        "--base-ref", metavar="REF", help="git ref for --changed (default origin/main, main)"
    )
    p.add_argument("--model", metavar="SPEC", required=True, help="the candidate model")
    p.add_argument(
        "--base-model", metavar="SPEC", default="embedded", help="compared with (embedded)"
    )
    p.add_argument(
        "--previous-model",
        metavar="SPEC",
        help="the model the candidate replaces: the verdicts' reference (default: the base)",
    )
    p.add_argument("--judge", metavar="SPEC", help="judge model: adds a descriptive judge suite")
    p.add_argument("--out", type=Path, metavar="DIR", help="reports (<work>/benchmark/latest)")
    add_work(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--resamples", type=int, default=10_000, metavar="N")
    p.add_argument("--max-new-tokens", type=int, default=48, metavar="N", help="greedy answers")
    p.add_argument("--short-new-tokens", type=int, default=16, metavar="N")
    p.add_argument("--judge-max-new-tokens", type=int, default=64, metavar="N")
    p.add_argument(
        "--max-regression",
        action="append",
        default=[],
        metavar="nll=X",
        help="largest tolerated significant worsening of a suite's NLL beyond the noise band "
        "(default bot.yaml evaluate.max_regression, 0.05; inf: never fail)",
    )
    p.add_argument("--no-regression", action="store_true", help="skip the earlier leaves")
    p.add_argument("--no-general", action="store_true", help="skip the general set")
    p.add_argument("--no-cache", action="store_true", help="score everything afresh")
    p.add_argument("--device", help="cpu | cuda | cuda:N (default: GPU if any)")
    p.add_argument(
        "--history",
        metavar="LABEL",
        help="also keep the report in <work>/history/ under LABEL (the merged commit): a "
        "column of the project site's accuracy matrix (bot site); the leaves named are the "
        "ones this retrain trained",
    )


def request(args: argparse.Namespace) -> BenchmarkRequest:
    from bot.site.archive import HistoryNote
    from bot.stages.benchmark import BenchmarkRequest, parse_limits

    history = None
    if args.history is not None:
        trained = tuple(_taxonomy_path(p) for p in args.paths)
        history = HistoryNote(args.history, tuple(t for t in trained if t))

    return BenchmarkRequest(
        model=args.model,
        base_model=args.base_model,
        previous_model=args.previous_model,
        paths=tuple(Path.cwd() / p for p in args.paths),
        changed=args.changed,
        base_ref=args.base_ref,
        judge=args.judge,
        out=args.out.absolute() if args.out else None,
        seed=args.seed,
        resamples=args.resamples,
        max_new_tokens=args.max_new_tokens,
        short_new_tokens=args.short_new_tokens,
        judge_max_new_tokens=args.judge_max_new_tokens,
        max_regression=parse_limits(args.max_regression),
        regression=not args.no_regression,
        general=not args.no_general,
        use_cache=not args.no_cache,
        device=args.device,
        history=history,
    )


def _taxonomy_path(path: Path) -> str:
    """A leaf file or folder named on the command line as its taxonomy path ("" if none)."""
    from bot.taxonomy.find import place

    leaf = place(Path.cwd() / path)
    parts = leaf.taxonomy_path[:-1] if path.name == "qna.yaml" else leaf.taxonomy_path
    return "/".join(parts) if leaf.branch else ""


def run(args: argparse.Namespace) -> int:
    from bot.report.progress import RichProgress
    from bot.stages.benchmark import benchmark
    from bot.stages.errors import UsageError

    ws = open_workspace("benchmark", args.work)
    if isinstance(ws, int):
        return ws
    try:
        with RichProgress(enabled=args.format == "text") as progress:
            result = benchmark(ws, request(args), progress)
    except (UsageError, ValueError) as exc:
        return usage("benchmark", str(exc))
    if args.format == "json":
        sys.stdout.write(json.dumps(result.doc, indent=2, ensure_ascii=False) + "\n")
    else:
        from trainer.evaluation.reports import FILES

        _print_text(result.doc, [result.out / f for f in FILES])
    return result.exit_code


def _print_text(doc: dict[str, Any], files: list[Path]) -> None:
    from rich.console import Console
    from rich.markup import escape

    from bot.report.run import deltas_table
    from trainer.evaluation.report_md import summary_line

    console = Console(highlight=False)
    console.print(deltas_table(doc))
    console.print(escape(summary_line(doc).replace("**", "")), soft_wrap=True)
    for s in doc["skipped"]:
        line = f"not built: {s['suite']} {s['group']}: {s['what']} x{s['count']}: {s['reason']}"
        console.print(escape(line), soft_wrap=True)
    console.print("reports: " + ", ".join(str(f) for f in files), soft_wrap=True)
