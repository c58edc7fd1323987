"""Markdown for the bot's comments and check runs, from the JSON that other commands write.

Inputs are data produced from PR content: they are checked field by field
(located errors, never a traceback) and escaped before they reach Markdown.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from bot.github.checks import Annotation, Conclusion
from bot.github.client import BotError
from bot.github.comments import escape, neutralize

SHOWN = 100  # problems listed in a comment; all of them become annotations


class Validation(NamedTuple):
    files: int
    errors: int
    warnings: int
    annotations: list[Annotation]
    deleted: list[str]

    @property
    def conclusion(self) -> Conclusion:
        return "failure" if self.errors else "success"

    @property
    def title(self) -> str:
        if not self.errors and not self.warnings:
            return f"{self.files} file(s) valid"
        return f"{self.errors} error(s), {self.warnings} warning(s) in {self.files} file(s)"


def load_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BotError(f"{where}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or not isinstance(obj.get(key), kind):
        raise BotError(f"{where}: `{key}` must be a {kind.__name__}")
    return obj[key]


def validation(doc: Any, where: str) -> Validation:
    """The `bot validate --format json` document as annotations and counts."""
    files = _field(doc, "files", list, where)
    found: list[Annotation] = []
    for i, entry in enumerate(files):
        at = f"{where}: files[{i}]"
        path = _field(entry, "path", str, at)
        for key, level in (("errors", "failure"), ("warnings", "warning")):
            for j, p in enumerate(_field(entry, key, list, at)):
                pat = f"{at}.{key}[{j}]"
                found.append(
                    Annotation(
                        path=path,
                        line=_field(p, "line", int, pat),
                        column=_field(p, "column", int, pat),
                        level=level,  # type: ignore[arg-type]
                        title=_field(p, "rule", str, pat),
                        message=_field(p, "message", str, pat),
                    )
                )
    deleted = [str(d) for d in doc.get("deleted", []) if isinstance(d, str)]
    errors = sum(a.level == "failure" for a in found)
    return Validation(len(files), errors, len(found) - errors, found, deleted)


def validation_markdown(v: Validation, sha: str, run_url: str = "") -> str:
    icon = "❌" if v.errors else "✅"
    lines = [f"### {icon} Validation of `{sha[:7]}`: {v.title}", ""]
    if v.annotations:
        lines += ["| where | rule | problem |", "|---|---|---|"]
        for a in v.annotations[:SHOWN]:
            sev = "error" if a.level == "failure" else "warning"
            lines.append(
                f"| `{escape(a.path)}:{a.line}:{a.column}` | {sev} `{escape(a.title)}` "
                f"| {escape(a.message)} |"
            )
        if len(v.annotations) > SHOWN:
            lines.append(f"\n{len(v.annotations) - SHOWN} more: see the check run's annotations.")
        lines += ["", "Each problem is also annotated on its line in *Files changed*."]
    if v.deleted:
        lines += ["", f"Deleted leaves: {', '.join(f'`{escape(d)}`' for d in v.deleted)}"]
    if run_url:
        lines += ["", f"[Workflow run]({run_url})"]
    return "\n".join(lines)


def generation_markdown(text: str, where: str, sha: str) -> str:
    """`bot generate --format json` output as a table; Markdown input is posted as it is."""
    if not text.lstrip().startswith("{"):
        return neutralize(text)
    doc = load_json(text, where)
    leaves = _field(doc, "leaves", list, where)
    summary = _field(doc, "summary", dict, where)
    failed = int(summary.get("failed", 0) or 0)
    icon = "❌" if failed else "✅"
    head = f"### {icon} Generation for `{sha[:7]}`" if sha else f"### {icon} Generation"
    lines = [
        head,
        "",
        f"{len(leaves)} leaf/leaves, {summary.get('kept', 0)} samples kept, "
        f"{summary.get('model_calls', 0)} model calls, {failed} failed.",
        "",
        "| leaf | status | kept | model calls |",
        "|---|---|---|---|",
    ]
    for i, leaf in enumerate(leaves[:SHOWN]):
        at = f"{where}: leaves[{i}]"
        lines.append(
            f"| `{escape(_field(leaf, 'path', str, at))}` | {escape(str(leaf.get('status', '')))} "
            f"| {int(leaf.get('kept', 0) or 0)} | {int(leaf.get('model_calls', 0) or 0)} |"
        )
    return "\n".join(lines)


def failure_markdown(what: str, run_url: str, detail: str = "", artifact: str = "") -> str:
    lines = [f"### ❌ {escape(what)} failed", ""]
    if detail:
        lines += [escape(detail), ""]
    where = f"[the workflow run]({run_url})" if run_url else "the workflow run"
    keep = f" (artifact `{escape(artifact)}`)" if artifact else ""
    lines.append(f"The full logs are kept with {where}{keep}. A maintainer can re-run it there.")
    return "\n".join(lines)
