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
        table.add_column(
            col,
            justify="right" if col in ("time", "tokens") else "left",
            overflow="fold" if col == "detail" else "ellipsis",
        )
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


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


VERDICT = {
    "regressed": "[red]regressed[/]",
    "improved": "[green]improved[/]",
    "no significant change": "no significant change",
    "too few items": "[dim]too few items[/]",
}


def deltas_table(report: dict[str, Any]) -> Table:
    """The primary metric per leaf (this change's leaves, then earlier leaves that moved),
    then the suites: reference -> candidate, delta and interval, noise band, verdict."""
    ref = report.get("previous") or report["base"]
    table = Table(title=f"benchmark (NLL per token) vs {ref['spec']}", title_justify="left")
    table.add_column("leaf", overflow="fold", ratio=3)
    table.add_column("n", justify="right")
    table.add_column("ref → cand", justify="right")
    table.add_column("Δ [95% CI]", overflow="fold", ratio=2)
    table.add_column("noise")
    table.add_column("verdict", overflow="fold", ratio=1)
    order = {"regressed": 0, "improved": 1, "no significant change": 2, "too few items": 3}
    branch = [g for g in report["leaves"] if g["suite"] == "branch" and g.get("primary")]
    earlier = [
        g for g in report["leaves"]
        if g["suite"] == "regression" and g.get("verdict") in ("regressed", "improved")
    ]  # fmt: skip
    branch.sort(key=lambda g: (order[g["verdict"]], g["path"]))
    suites = [
        {**s, "path": f"[b]{s['suite']} suite[/]"} for s in report["suites"] if s.get("primary")
    ]
    for group in [*branch, *earlier, *suites]:
        d = group["primary"]
        ci = f" [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]" if d.get("ci") else ""
        band = d.get("noise_band")
        table.add_row(
            group["path"] + (" (earlier)" if group in earlier else ""),
            str(sum(group["items"].values())),
            f"{_fmt(d['reference'])} → {_fmt(d['candidate'])}",
            f"{_fmt(d['delta'], True)}{ci}",
            f"±{max(abs(band[0]), abs(band[1])):.3f}" if band else "-",
            VERDICT.get(d["verdict"], d["verdict"]),
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
    if getattr(result, "site", None) is not None:
        console.print(f"site: {result.site}")
