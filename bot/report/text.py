"""The human form: `path:line:col: severity [rule] message`, which editors make clickable."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from bot.validation.engine import Report
from bot.validation.problems import Severity


def summary_line(report: Report) -> str:
    n = len(report.files)
    if not n:
        return "no leaf files checked"
    bad = sum(any(p.severity is Severity.ERROR for p in f.problems) for f in report.files)
    warn = f", {report.warnings} warning{'s' * (report.warnings != 1)}"
    if report.errors:
        return (
            f"{report.errors} error{'s' * (report.errors != 1)}{warn} in {bad} of {n} "
            f"file{'s' * (n != 1)}"
        )
    return f"{n} file{'s' * (n != 1)} valid{warn if report.warnings else ''}"


def render(report: Report, console: Console) -> None:
    for note in report.notes:
        console.print(f"[dim]{escape(note)}[/dim]")
    for f in report.files:
        for p in f.problems:
            style = "red" if p.severity is Severity.ERROR else "yellow"
            console.print(
                f"[bold]{escape(f.path)}:{p.line}:{p.column}:[/bold] "
                f"[{style}]{p.severity.value}[/{style}] [dim]\\[{p.rule}][/dim] "
                f"{escape(p.message)}",
                soft_wrap=True,
                highlight=False,
            )
    for path, why in report.skipped:
        console.print(f"[yellow]{escape(path)}: skipped: {escape(why)}[/yellow]", soft_wrap=True)
    for path in report.deleted:
        console.print(f"[dim]{escape(path)}: deleted leaf (not validated)[/dim]", soft_wrap=True)
    mark = "[red]✗[/red]" if report.errors else "[green]✓[/green]"
    console.print(f"{mark} {summary_line(report)}", highlight=False)
