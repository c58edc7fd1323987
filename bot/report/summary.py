"""A table of the taxonomy: leaves per branch and schema version (the main job's summary)."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from bot.taxonomy.find import BRANCHES
from bot.validation.engine import Report


def counts(report: Report) -> Counter[tuple[str, str]]:
    c: Counter[tuple[str, str]] = Counter()
    for f in report.files:
        c[(f.branch or "(outside branches)", f"v{f.version}" if f.version else "unreadable")] += 1
    return c


def table(report: Report) -> Table:
    c = counts(report)
    versions = sorted({v for _, v in c})
    branches = [b for b in (*BRANCHES, "(outside branches)") if any(k[0] == b for k in c)]
    t = Table(title="Taxonomy leaves by branch and version")
    t.add_column("branch")
    for v in versions:
        t.add_column(v, justify="right")
    t.add_column("total", justify="right", style="bold")
    for b in branches:
        row = [c.get((b, v), 0) for v in versions]
        t.add_row(b, *map(str, row), str(sum(row)))
    totals = [sum(c.get((b, v), 0) for b in branches) for v in versions]
    t.add_row("all", *map(str, totals), str(sum(totals)), style="bold")
    return t
