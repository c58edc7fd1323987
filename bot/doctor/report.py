"""The doctor's report: a table (check | status | detail) and a verdict line, or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.doctor.result import Result

STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def verdict(results: Sequence[Result]) -> str:
    failed = [r.name for r in results if r.status == "fail"]
    warned = sum(r.status == "warn" for r in results)
    if failed:
        return f"FAIL: {len(failed)} of {len(results)} checks failed ({', '.join(failed)})"
    return f"PASS: {len(results)} checks, {warned} warning(s)"


def as_json(results: Sequence[Result]) -> str:
    doc: dict[str, Any] = {
        "ok": not any(r.status == "fail" for r in results),
        "checks": [r.as_dict() for r in results],
        "verdict": verdict(results),
    }
    return json.dumps(doc, indent=2) + "\n"


def print_table(results: Sequence[Result]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="bot doctor", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for r in results:
        detail = escape(r.detail) + (f"\n[dim]fix: {escape(r.fix)}[/dim]" if r.fix else "")
        table.add_row(r.name, f"[{STYLE[r.status]}]{r.status}[/]", detail)
    console = Console(highlight=False)
    console.print(table)
    ok = not any(r.status == "fail" for r in results)
    console.print(f"[{'green' if ok else 'bold red'}]{escape(verdict(results))}[/]")
