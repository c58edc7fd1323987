"""The human form: `path:line:col: severity [rule] message`, which editors make clickable.

`render` styles it for a terminal with rich; `render_plain` writes the same lines to a
pipe (a pre-commit hook, CI) without importing rich, which costs about 50 ms, a tenth of
a one-leaf `--changed` run on the CI machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.validation.engine import Report
from bot.validation.problems import Severity

if TYPE_CHECKING:
    from rich.console import Console


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
    from rich.markup import escape

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


def render_plain(report: Report, out: TextIO) -> None:
    """The lines `render` prints, unstyled and never wrapped."""
    lines = list(report.notes)
    for f in report.files:
        lines += [
            f"{f.path}:{p.line}:{p.column}: {p.severity.value} [{p.rule}] {p.message}"
            for p in f.problems
        ]
    lines += [f"{path}: skipped: {why}" for path, why in report.skipped]
    lines += [f"{path}: deleted leaf (not validated)" for path in report.deleted]
    lines.append(f"{'✗' if report.errors else '✓'} {summary_line(report)}")
    text = "".join(line + "\n" for line in lines)
    encoding = getattr(out, "encoding", None) or "utf-8"
    out.write(text.encode(encoding, "replace").decode(encoding))
