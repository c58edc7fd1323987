"""The final table of `bot train`: per phase, what it cost and where it ended."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def summary_table(phases: list[dict[str, Any]]) -> Table:
    table = Table(title="training", title_justify="left")
    for col in ("phase", "samples", "tokens", "steps", "final loss", "tok/s", "packing", "time"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for p in phases:
        table.add_row(
            p["name"],
            f"{p['samples']:,}",
            f"{p['tokens']:,}",
            str(p["steps"]),
            f"{p['final_loss']:.3f}",
            f"{p['tokens_per_s']:,.0f}",
            f"{p['packing_efficiency']:.1%}",
            f"{p['seconds']:.0f} s",
        )
    return table
