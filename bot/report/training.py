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


FEW_STEPS = 3  # fewer full-rate steps than this teach a leaf its format, not its content


def leaves_table(exposure: list[tuple[str, str, dict[str, int]]]) -> Table:
    """What each new leaf got (RetrainResult.exposure): its rows, the passes over them and
    its steps at the full rate (past the warm-up); too few are flagged."""
    table = Table(title="new leaves", title_justify="left")
    for col in ("phase", "leaf", "rows", "passes", "steps", "at full rate"):
        table.add_column(col, justify="left" if col in ("phase", "leaf") else "right")
    for phase, leaf, got in exposure:
        full = got["full_rate_steps"]
        table.add_row(
            phase,
            leaf,
            str(got["rows"]),
            f"{got['seen'] / max(got['rows'], 1):.1f}",
            str(got["steps"]),
            f"{full}" if full >= FEW_STEPS else f"[yellow]{full} (too few)[/]",
        )
    return table
