"""The final summary of `bot run`: what each stage did and cost, the per-leaf deltas of the
benchmark, and where the report files are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table

STATUS = {"ran": "[green]ran[/]", "skipped": "[cyan]skipped[/]", "failed": "[red]failed[/]"}


def stages_table(stages: list[Any]) -> Table:
    table = Table(title="bot run", title_justify="left")
    for col in ("stage", "status", "time", "tokens", "detail"):
        table.add_column(col, justify="right" if col in ("time", "tokens") else "left")
    for s in stages:
        table.add_row(
            s.name,
            STATUS.get(s.status, s.status),
            f"{s.seconds:,.1f} s",
            f"{s.tokens:,}" if s.tokens else "",
            s.detail,
        )
    table.add_row("total", "", f"{sum(s.seconds for s in stages):,.1f} s", "", "")
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def deltas_table(report: dict[str, Any]) -> Table:
    """Per-leaf deltas of the branch suite, regressions first, then the suites' means."""
    table = Table(title="benchmark: base -> candidate", title_justify="left")
    for col in ("leaf", "metric", "base", "candidate", "delta [95% CI]", "verdict"):
        table.add_column(col, justify="right" if col in ("base", "candidate") else "left")
    order = {"regressed": 0, "improved": 1}
    rows = [g for g in report["leaves"] if g["suite"] == "branch"]
    rows.sort(key=lambda g: (order.get(g["verdict"], 2), g["path"]))
    suites = [{"path": f"[b]{s['name']} suite[/]", **s} for s in report["suites"]]
    for group in [*rows, *suites]:
        for m in group["metrics"]:
            ci = f" [{m['ci'][0]:+.3f}, {m['ci'][1]:+.3f}]" if m.get("ci") else ""
            delta = "-" if m["delta"] is None else f"{m['delta']:+.3f}{ci}"
            table.add_row(
                group["path"],
                m["metric"],
                _fmt(m["base"]),
                _fmt(m["candidate"]),
                delta,
                m["verdict"],
            )
    return table


def render(result: Any, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    parts: list[Any] = [stages_table(result.stages)]
    if result.report is not None:
        parts.append(deltas_table(result.report))
    console.print(Group(*parts))
    if result.model:
        console.print(f"model: {result.model}")
    if result.report_dir is not None:
        folder = Path(result.report_dir)
        for name in ("report.md", "report.json", "deltas.png"):
            if (folder / name).exists():
                console.print(f"{name}: {folder / name}")
