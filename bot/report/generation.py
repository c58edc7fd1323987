"""The per-leaf summary table of `bot generate`: what was generated, kept and dropped."""

from __future__ import annotations

from typing import Any

from rich.table import Table

DROPS = (
    ("parse_failed", "unparsable"),
    ("duplicates", "dup"),
    ("duplicates_of_seeds", "seed-dup"),
    ("judged_out_instruction", "judge-instr"),
    ("judged_out_pair", "judge-pair"),
    ("ungrounded", "ungrounded"),
    ("unverified_question", "bad-question"),
    ("unfaithful", "unfaithful"),
    ("irrelevant", "irrelevant"),
    ("judge_parse_failed", "judge-unreadable"),
    ("copied", "copied"),
    ("surplus", "surplus"),
)


def summary_table(jobs: list[Any], dry: bool) -> Table:
    if dry:
        t = Table(title="bot generate --dry-run: what would be generated")
        # Narrow terminals wrap the path and the reason rather than cut them.
        t.add_column("leaf", overflow="fold", ratio=3)
        t.add_column("action", no_wrap=True)
        t.add_column("why", overflow="fold", ratio=2)
        for j in jobs:
            action = {"cached": "[green]cached[/green]", "failed": "[red]refused[/red]"}.get(
                j.status, "[yellow]generate[/yellow]"
            )
            t.add_row(j.path, action, j.reason.splitlines()[0] if j.reason else "")
        return t
    t = Table(title="Generation per leaf")
    t.add_column("leaf", overflow="fold")
    t.add_column("status")
    t.add_column("gen", justify="right")
    t.add_column("dropped at filters", overflow="fold")
    for col in ("kept", "rows", "calls", "s"):
        t.add_column(col, justify="right")
    for j in jobs:
        style = {"cached": "green", "generated": "cyan", "failed": "red"}.get(j.status, "")
        drops = " ".join(f"{short} {n}" for name, short in DROPS if (n := j.stats.get(name, 0)))
        t.add_row(
            j.path,
            f"[{style}]{j.status}[/{style}]",
            str(j.generated),
            drops or "-",
            f"{j.kept} ({d} doc)" if (d := j.stats.get("document_rows", 0)) else str(j.kept),
            str(j.rows),
            str(j.model_calls),
            f"{j.seconds:.0f}" if j.status == "generated" else "",
        )
    total = sum(j.model_calls for j in jobs)
    t.caption = (
        f"{sum(j.kept for j in jobs)} samples kept, {total} model calls, "
        f"{sum(j.status == 'failed' for j in jobs)} failed"
    )
    return t
