"""Markdown for the bot's comments and check runs, from the JSON that other commands write.

Inputs are data produced from PR content: they are re-checked field by field
(types, ranges, lengths, paths inside the taxonomy, known rule ids; located errors,
never a traceback), and every PR-supplied string reaches Markdown only through
`comments.inert`. Counts and verdicts are computed here from the entries, never
taken from the input's own summary.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Any, NamedTuple

from bot.github.checks import Annotation, Conclusion
from bot.github.client import BotError
from bot.github.comments import inert, neutralize
from trainer.data.rowschema import generated_turns

SHOWN = 100  # problems listed in a comment; all of them become annotations
MESSAGE = 300  # characters of a problem's message shown in the comment
ANNOTATED = 2_000  # characters of a message in an annotation
MAX_PROBLEMS = 5_000  # annotations per check run: more means a broken report
SAMPLES = 3  # generated Q&A shown in the generation comment
_RULE = re.compile(r"[a-z][a-z0-9-]{0,63}\Z")
_LINE = 10_000_000


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
    if (
        not isinstance(obj, dict)
        or not isinstance(obj.get(key), kind)
        or (kind is int and isinstance(obj.get(key), bool))
    ):
        article = "an" if kind.__name__[0] in "aeiou" else "a"
        raise BotError(f"{where}: `{key}` must be {article} {kind.__name__}")
    return obj[key]


def repo_path(value: str, where: str) -> str:
    """A file of the taxonomy (or bot.yaml), relative and normalised: nothing else."""
    norm = posixpath.normpath(value) if value else ""
    inside = norm.startswith("taxonomy/") or norm == "bot.yaml"
    if norm != value or not inside or len(value) > 300 or "\\" in value:
        raise BotError(f"{where}: `path` {value[:80]!r} is not a file under taxonomy/")
    return value


def _position(p: Any, key: str, where: str) -> int:
    value = int(_field(p, key, int, where))
    if not 0 <= value <= _LINE:
        raise BotError(f"{where}: `{key}` {value} is out of range")
    return value


def _rule(p: Any, where: str, known: frozenset[str]) -> str:
    rule = str(_field(p, "rule", str, where))
    if not _RULE.match(rule) or (known and rule not in known):
        raise BotError(f"{where}: `rule` {rule[:40]!r} is not a known rule id")
    return rule


def known_rules() -> frozenset[str]:
    from bot.validation.rules import RULES

    return frozenset(RULES) | {"config"}  # config: bot.yaml problems (bot/github/settings.py)


def validation(doc: Any, where: str, known: frozenset[str] = frozenset()) -> Validation:
    """The `bot validate --format json` document as annotations and counts, re-checked."""
    files = _field(doc, "files", list, where)
    found: list[Annotation] = []
    for i, entry in enumerate(files):
        at = f"{where}: files[{i}]"
        path = repo_path(_field(entry, "path", str, at), at)
        for key, level in (("errors", "failure"), ("warnings", "warning")):
            for j, p in enumerate(_field(entry, key, list, at)):
                pat = f"{at}.{key}[{j}]"
                found.append(
                    Annotation(
                        path=path,
                        line=_position(p, "line", pat),
                        column=_position(p, "column", pat),
                        level=level,  # type: ignore[arg-type]
                        title=_rule(p, pat, known),
                        message=str(_field(p, "message", str, pat))[:ANNOTATED],
                    )
                )
        if len(found) > MAX_PROBLEMS:
            raise BotError(f"{where}: more than {MAX_PROBLEMS} problems: not a report to post")
    deleted = [
        repo_path(d, f"{where}: deleted[{i}]")
        for i, d in enumerate(_field(doc, "deleted", list, where) if "deleted" in doc else [])
    ]
    errors = sum(a.level == "failure" for a in found)
    return Validation(len(files), errors, len(found) - errors, found, deleted)


def validation_markdown(v: Validation, sha: str, run_url: str = "") -> str:
    icon = "❌" if v.errors else "✅"
    lines = [f"### {icon} Validation of `{sha[:7]}`: {v.title}", ""]
    if v.annotations:
        lines += ["| where | rule | problem |", "|---|---|---|"]
        for a in v.annotations[:SHOWN]:
            sev = "error" if a.level == "failure" else "warning"
            where = inert(f"{a.path}:{a.line}:{a.column}", cell=True)
            message = inert(a.message, MESSAGE, cell=True)
            lines.append(f"| {where} | {sev} `{a.title}` | {message} |")
        if len(v.annotations) > SHOWN:
            lines.append(f"\n{len(v.annotations) - SHOWN} more: see the check run's annotations.")
        lines += ["", "Each problem is also annotated on its line in *Files changed*."]
    if v.deleted:
        shown = ", ".join(inert(d) for d in v.deleted[:SHOWN])
        more = f" and {len(v.deleted) - SHOWN} more" if len(v.deleted) > SHOWN else ""
        lines += ["", f"Deleted leaves: {shown}{more}"]
    if run_url:
        lines += ["", f"[Workflow run]({run_url})"]
    return "\n".join(lines)


def generation_markdown(text: str, where: str, sha: str, data: Path | None = None) -> str:
    """`bot generate --format json` output as a table, with a few generated Q&A from the
    exported `data` folder; Markdown input is posted neutralised."""
    if not text.lstrip().startswith("{"):
        return neutralize(text)
    doc = load_json(text, where)
    leaves = _field(doc, "leaves", list, where)
    summary = _field(doc, "summary", dict, where)
    failed = _count(summary, "failed")
    icon = "❌" if failed else "✅"
    head = f"### {icon} Generation for `{sha[:7]}`" if sha else f"### {icon} Generation"
    lines = [
        head,
        "",
        f"{len(leaves)} leaf/leaves, {_count(summary, 'kept')} samples kept, "
        f"{_count(summary, 'model_calls')} model calls, {failed} failed.",
        "",
        "| leaf | status | kept | model calls |",
        "|---|---|---|---|",
    ]
    paths = []
    for i, leaf in enumerate(leaves):
        path = str(_field(leaf, "path", str, f"{where}: leaves[{i}]"))
        paths.append(path)
        if i < SHOWN:
            lines.append(
                f"| {inert(path, cell=True)} | {inert(str(leaf.get('status', '')), 40, cell=True)} "
                f"| {_count(leaf, 'kept')} | {_count(leaf, 'model_calls')} |"
            )
    if len(leaves) > SHOWN:
        lines.append(f"\n{len(leaves) - SHOWN} more leaves: see the workflow run.")
    found = samples(data, paths) if data is not None else []
    if found:
        lines += ["", "#### Sample Q&A", "", "| leaf | question | answer |", "|---|---|---|"]
        for leaf, question, answer in found:
            cells = (inert(leaf, cell=True), inert(question, 300, cell=True))
            lines.append(f"| {cells[0]} | {cells[1]} | {inert(answer, 300, cell=True)} |")
    return "\n".join(lines)


def _count(obj: Any, key: str) -> int:
    value = obj.get(key, 0) if isinstance(obj, dict) else 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def samples(data: Path, leaves: list[str]) -> list[tuple[str, str, str]]:
    """The first generated row of the first few leaves: (leaf, question, answer).

    Leaf paths come from the report: a path that leaves `data` is skipped, and rows are
    read as JSON only (a bad row ends that leaf's look, never the comment)."""
    root, found = data.resolve(), list[tuple[str, str, str]]()
    for leaf in leaves:
        path = (root / f"{leaf}.jsonl").resolve()
        if len(found) == SAMPLES:
            break
        if not path.is_relative_to(root) or not path.is_file():
            continue
        with path.open(encoding="utf-8", errors="replace") as rows:
            for line in rows:
                row = generated_turns(line)
                if row is not None:
                    found.append((leaf, *row))
                    break
    return found


def failure_markdown(what: str, run_url: str, detail: str = "", artifact: str = "") -> str:
    lines = [f"### ❌ {what} failed", ""]
    if detail:
        lines += [inert(detail, 300), ""]
    where = f"[the workflow run]({run_url})" if run_url else "the workflow run"
    keep = f" (artifact {inert(artifact, 60)})" if artifact else ""
    lines.append(f"The full logs are kept with {where}{keep}. A maintainer can re-run it there.")
    return "\n".join(lines)
