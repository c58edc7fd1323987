"""`bot benchmark`: base vs candidate model on the same items, per leaf, with intervals."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from bot.commands._common import usage, work_dir
from bot.taxonomy.find import LEAF_NAME, collect, default_taxonomy, find_root, walk

METRIC_NAMES = ("nll", "mc_acc", "doc_mc_acc", "rouge_l", "judge")


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
    p.add_argument("--base-ref", metavar="REF", help="for --changed (default origin/main, main)")
    p.add_argument("--base", metavar="SPEC", default="embedded", help="base model (embedded)")
    p.add_argument("--candidate", metavar="SPEC", required=True, help="candidate model")
    p.add_argument("--judge", metavar="SPEC", help="judge model: adds the judge suite")
    p.add_argument("--out", type=Path, metavar="DIR", help="reports (<work>/benchmark/latest)")
    p.add_argument("--work", type=Path, metavar="DIR", help="work folder (default .bot/)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--resamples", type=int, default=1000, metavar="N")
    p.add_argument("--min-items", type=int, default=3, metavar="N", help="items for an interval")
    p.add_argument("--max-new-tokens", type=int, default=48, metavar="N", help="greedy answers")
    p.add_argument("--short-new-tokens", type=int, default=16, metavar="N")
    p.add_argument("--judge-max-new-tokens", type=int, default=64, metavar="N")
    p.add_argument("--doc-mc-per-leaf", type=int, default=8, metavar="N")
    p.add_argument(
        "--max-regression",
        action="append",
        default=[],
        metavar="METRIC=X",
        help="largest tolerated significant worsening of a suite mean "
        "(defaults nll=0.05 mc_acc=0.05 doc_mc_acc=0.05 rouge_l=0.05 judge=0.5; inf: never fail)",
    )
    p.add_argument("--no-regression", action="store_true", help="skip the untouched-leaf sample")
    p.add_argument("--no-general", action="store_true", help="skip the general set")
    p.add_argument("--no-cache", action="store_true", help="score everything afresh")
    p.add_argument("--device", help="cpu | cuda | cuda:N (default: GPU if any)")


def _select(args: argparse.Namespace, root: Path, cwd: Path) -> tuple[list[Path], dict[str, Any]]:
    """Selected leaf files and how they were chosen; raises ValueError with a usage message."""
    if args.changed:
        if args.paths:
            raise ValueError("give leaf paths or --changed, not both")
        from bot.gitdiff import GitError, changed_leaves

        try:
            changes = changed_leaves(cwd, args.base_ref)
        except GitError as exc:
            raise ValueError(str(exc)) from None
        files = [p for p in changes.changed if p.name == LEAF_NAME]
        if not files:
            raise ValueError(f"no changed leaves vs {changes.base}")
        return files, {"mode": "changed", "base_ref": changes.base}
    if args.base_ref:
        raise ValueError("--base-ref needs --changed")
    if args.paths:
        leaves, missing = collect(args.paths, cwd)
        if missing:
            raise ValueError(f"no such file or folder: {', '.join(missing)}")
        files = [leaf.path.absolute() for leaf in leaves if leaf.path.name == LEAF_NAME]
        if not files:
            raise ValueError(f"no leaves ({LEAF_NAME}) under {', '.join(map(str, args.paths))}")
        return files, {"mode": "paths"}
    files = [p.absolute() for p in walk(default_taxonomy(root)) if p.name == LEAF_NAME]
    if not files:
        raise ValueError(f"no leaves under {default_taxonomy(root)}")
    return files, {"mode": "all"}


def _limits(pairs: list[str]) -> dict[str, float]:
    from trainer.bench.compare import DEFAULT_MAX_REGRESSION

    limits = dict(DEFAULT_MAX_REGRESSION)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in METRIC_NAMES:
            raise ValueError(
                f"--max-regression {pair!r}: expected METRIC=X, METRIC one of "
                + ", ".join(METRIC_NAMES)
            )
        try:
            limits[name] = float(value)
        except ValueError:
            raise ValueError(f"--max-regression {pair!r}: {value!r} is not a number") from None
        if math.isnan(limits[name]) or limits[name] < 0:
            raise ValueError(f"--max-regression {pair!r}: must be >= 0")
    return limits


def _config(args: argparse.Namespace) -> Any:
    from trainer.bench.benchmark import BenchConfig
    from trainer.bench.compare import StatSettings
    from trainer.bench.judge import JudgeSettings
    from trainer.bench.run import ScoreSettings

    for name in ("resamples", "min_items", "max_new_tokens", "short_new_tokens"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.doc_mc_per_leaf < 0 or args.judge_max_new_tokens < 1:
        raise ValueError("--doc-mc-per-leaf must be >= 0, --judge-max-new-tokens >= 1")
    from trainer.models import parse_spec

    for spec in (args.base, args.candidate, *([args.judge] if args.judge else [])):
        parse_spec(spec)  # SpecError (a ValueError) names the accepted forms
    return BenchConfig(
        base=args.base,
        candidate=args.candidate,
        score=ScoreSettings(args.max_new_tokens, args.short_new_tokens),
        stats=StatSettings(args.seed, args.resamples, args.min_items, _limits(args.max_regression)),
        doc_mc_per_leaf=args.doc_mc_per_leaf,
        regression=not args.no_regression,
        general=not args.no_general,
        judge=args.judge,
        judge_settings=JudgeSettings(args.judge_max_new_tokens),
        device=args.device,
        use_cache=not args.no_cache,
    )


def run(args: argparse.Namespace) -> int:
    done = execute(args)
    if isinstance(done, int):
        return done
    doc, out = done
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        from trainer.bench.reports import FILES

        _print_text(doc, [out / f for f in FILES])
    return int(doc["summary"]["exit_code"])


def execute(args: argparse.Namespace) -> tuple[dict[str, Any], Path] | int:
    """Score, compare and write the reports; returns report.json's document and the report
    folder, or 2 after printing a usage error."""
    cwd = Path.cwd()
    root = find_root(cwd)
    try:
        config = _config(args)
        files, selection = _select(args, root, cwd)
    except ValueError as exc:
        return usage("benchmark", str(exc))
    from trainer.bench.benchmark import run_benchmark
    from trainer.bench.reports import write_reports
    from trainer.models import ModelError

    work = work_dir(args.work, root)
    out = (args.out or work / "benchmark" / "latest").absolute()
    taxonomy = [p.absolute() for p in walk(default_taxonomy(root)) if p.name == LEAF_NAME]
    selection["leaves"] = [
        str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in files
    ]
    with _Bars(enabled=args.format == "text") as bars:
        try:
            result = run_benchmark(
                config, files, taxonomy, root, work, selection=selection, progress=bars.bar
            )
        except (ModelError, ValueError) as exc:
            return usage("benchmark", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if not result.plan.items:
        return usage("benchmark", "no items to benchmark (see the skipped leaves: bot validate)")
    return write_reports(result, out), out


class _Bars:
    """One rich progress bar per model being scored (stderr)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[phase]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )

    def __enter__(self) -> _Bars:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def bar(self, label: str) -> Any:
        task = self._progress.add_task(label, total=None, phase="")

        def update(phase: str, done: int, total: int) -> None:
            self._progress.update(task, completed=done, total=total, phase=phase)

        return update


def _print_text(doc: dict[str, Any], files: list[Path]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from trainer.bench.report_md import summary_line

    console = Console(highlight=False)
    colour = {"regressed": "red", "improved": "green", "no significant change": "dim"}
    table = Table(title=f"{doc['base']['spec']} -> {doc['candidate']['spec']}")
    for col in ("suite / leaf", "metric", "n", "base -> candidate", "delta [95% CI]", "verdict"):
        table.add_column(col)
    rows = [(f"{s['name']} suite", d) for s in doc["suites"] for d in s["metrics"]]
    rows += [
        (f"{g['path']}" + (" (judge)" if g["suite"] == "judge" else ""), d)
        for g in doc["leaves"]
        for d in g["metrics"]
    ]
    for label, d in rows:
        ci = f"[{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]" if d["ci"] else "(no CI)"
        table.add_row(
            escape(label),
            d["metric"],
            str(d["n"]),
            f"{d['base']:.3f} -> {d['candidate']:.3f}",
            f"{d['delta']:+.3f} {ci}",
            f"[{colour[d['verdict']]}]{d['verdict']}[/]",
        )
    console.print(table)
    text = summary_line(doc).replace("**", "")
    console.print(escape(text), soft_wrap=True)
    for s in doc["skipped"]:
        console.print(
            escape(
                f"not built: {s['suite']} {s['group']}: {s['what']} x{s['count']}: {s['reason']}"
            ),
            soft_wrap=True,
        )
    console.print("reports: " + ", ".join(str(f) for f in files), soft_wrap=True)
