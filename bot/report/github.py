"""GitHub Actions output: workflow-command annotations, plus a Markdown job summary
appended to $GITHUB_STEP_SUMMARY when it is set."""

from __future__ import annotations

from pathlib import Path

from bot.report.text import summary_line
from bot.validation.engine import Report
from bot.validation.problems import Severity


def _data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(s: str) -> str:
    return _data(s).replace(":", "%3A").replace(",", "%2C")


def commands(report: Report) -> str:
    lines = []
    for f in report.files:
        for p in f.problems:
            cmd = "error" if p.severity is Severity.ERROR else "warning"
            lines.append(
                f"::{cmd} file={_prop(f.path)},line={p.line},col={p.column},"
                f"title={_prop(p.rule)}::{_data(p.message)}"
            )
    for path, why in report.skipped:
        lines.append(f"::warning file={_prop(path)},title=skipped::{_data(why)}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    icon = "❌" if report.errors else "✅"
    out = [f"### {icon} Taxonomy validation: {summary_line(report)}", ""]
    rows = [(f, p) for f in report.files for p in f.problems]
    if rows:
        out += ["| File | Line | Severity | Rule | Message |", "|---|---|---|---|---|"]
        out += [
            f"| `{_cell(f.path)}` | {p.line}:{p.column} | {p.severity.value} | `{p.rule}` | "
            f"{_cell(p.message)} |"
            for f, p in rows
        ]
    if report.skipped:
        out += ["", "Skipped (not validated):", ""]
        out += [f"- `{_cell(path)}`: {_cell(why)}" for path, why in report.skipped]
    if report.deleted:
        out += [
            "",
            "Deleted leaves (not validated): " + ", ".join(f"`{d}`" for d in report.deleted),
        ]
    return "\n".join(out) + "\n"


def write_summary(report: Report, path: str | None) -> None:
    if path:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(markdown(report))
