"""Compatibility of `bot validate` with instructlab-schema 0.4.2 on the real corpus taxonomies.

    .venv/bin/python benchmarks/compat_report.py [--markdown docs/compat.md]

Both validators read every qna.yaml of ../shared/corpus/*. A file *differs* when one
reports an error and the other does not. A difference is *explained* when the bot reported
errors there and every rule id among them is documented in schema/README.md's rule table,
or, for a file the anchor rejects and the bot passes, when each of the anchor's errors is a
yamllint finding the bot reports as a warning under a documented rule (a severity choice).
Exit 1 on any unexplained difference or a file the bot did not report, 0 otherwise (also
when the corpus is absent).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.*
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmarks import _common as c

con = Console(highlight=False, width=max(shutil.get_terminal_size().columns, 140))
README = c.REPO / "schema" / "README.md"


def documented_rules(readme: Path = README) -> set[str]:
    """Rule ids from the first column of the markdown table whose header starts with `rule`."""
    if not readme.exists():
        return set()
    ids: set[str] = set()
    in_table = False
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [x.strip() for x in line.strip().strip("|").split("|")] if "|" in line else []
        if not cells:
            in_table = False
        elif cells[0].lower() == "rule":
            in_table = True
        elif in_table and (m := re.fullmatch(r"`?([a-z][a-z0-9-]*)`?", cells[0])):
            ids.add(m[1])
    return ids


@dataclass
class Row:
    taxonomy: str
    rel: str
    anchor: dict[str, Any]
    bot: dict[str, Any] | None
    bot_rules: list[str] = field(default_factory=list)

    @property
    def anchor_error(self) -> bool:
        return bool(self.anchor["errors"])

    @property
    def bot_error(self) -> bool:
        return bool(self.bot and self.bot["errors"])

    @property
    def differs(self) -> bool:
        return self.anchor_error != self.bot_error


def _counts(errors: int, warnings: int, crash: bool = False) -> str:
    if crash:
        return "error (crash)"
    if not errors and not warnings:
        return "ok"
    parts = [
        f"{n} {w}{'s' if n > 1 else ''}" for n, w in ((errors, "error"), (warnings, "warning"))
    ]
    return ("error: " if errors else "ok: ") + ", ".join(
        p for n, p in zip((errors, warnings), parts, strict=True) if n
    )


def collect() -> list[Row] | None:
    roots = c.corpus_roots()
    if not roots:
        return None
    rows: list[Row] = []
    for root in roots:
        files = c.leaves(root)
        anchor = c.run_anchor(files)
        doc = c.run_bot_cli(["validate", "--format", "json", str(root)]).json()
        bot = c.bot_paths(doc, c.REPO)
        for f in files:
            b = bot.get(f.resolve())
            rules = [] if b is None else sorted({p["rule"] for p in b["errors"]})
            rules += [] if b is None else sorted({f"{p['rule']} (w)" for p in b["warnings"]})
            name = root.name.removeprefix("instructlab-")
            rows.append(Row(name, str(f.relative_to(root)), anchor.results[str(f)], b, rules))
    return rows


# yamllint rules (named at the end of the anchor's message) -> the bot's rule for the same thing
YAMLLINT = {
    "trailing-spaces": "yaml-trailing-spaces",
    "new-line-at-end-of-file": "yaml-final-newline",
    "key-duplicates": "yaml-duplicate-key",
    "syntax": "yaml-syntax",
}


def keys(row: Row, known: set[str]) -> tuple[list[str], bool]:
    """Group keys for a differing file and whether the difference is explained."""
    if row.bot_error:  # the bot rejects what the anchor accepts: its error rules explain it
        rules = sorted({p["rule"] for p in row.bot["errors"]})  # type: ignore[index]
        return rules, all(r in known for r in rules)
    # The anchor rejects what the bot accepts: explained only where each anchor error is a
    # yamllint finding that the bot reports too, under a documented rule, as a warning.
    warned = {p["rule"] for p in (row.bot or {}).get("warnings", [])}
    errors = [m for m in row.anchor["messages"] if m.startswith(("ERROR", "CRASH"))]
    mapped = [
        YAMLLINT.get(m[1]) if (m := re.search(r"\(([a-z-]+)\)$", e)) else None for e in errors
    ]
    if errors and all(r in warned and r in known for r in mapped):
        return sorted({f"{r} (bot: warning only)" for r in mapped if r}), True
    return ["(bot: no error; anchor: error)"], False


def build(rows: list[Row], known: set[str]) -> tuple[list[list[str]], dict[str, list[Row]], int]:
    table = []
    for r in rows:
        a = _counts(r.anchor["errors"], r.anchor["warnings"], r.anchor.get("crash", False))
        b = "missing" if r.bot is None else _counts(len(r.bot["errors"]), len(r.bot["warnings"]))
        mark = "DIFF" if r.differs else ""
        table.append([f"{r.taxonomy}/{r.rel}", a, b, ", ".join(r.bot_rules), mark])
    groups: dict[str, list[Row]] = defaultdict(list)
    unexplained = 0
    for r in rows:
        if r.differs:
            ks, ok = keys(r, known)
            unexplained += not ok
            for k in ks:
                groups[k].append(r)
    missing = sum(1 for r in rows if r.bot is None)
    return table, dict(sorted(groups.items())), unexplained + missing


def _messages(r: Row, rule: str) -> tuple[list[str], list[str]]:
    """The bot's diagnostics of this rule and all the anchor's messages for the file."""
    rid = rule.split(" ")[0]
    bot = [
        f"{p['line']}:{p['column']} {sev[:-1]}: {p['message']}"
        for sev in ("errors", "warnings")
        for p in (r.bot or {}).get(sev, [])
        if p["rule"] == rid
    ]
    anchor = [re.sub(r"^(ERROR|WARN): \S+?:(\d+:\d+) ", r"\1 \2 ", m) for m in r.anchor["messages"]]
    return bot, anchor or ["(no messages)"]


def render(rows: list[Row], known: set[str], md: list[str]) -> int:
    table, groups, bad = build(rows, known)
    t = Table(title="Every qna.yaml: instructlab-schema 0.4.2 vs bot validate")
    heads = ["path", "instructlab-schema", "bot", "bot rule ids ((w) = warning)", ""]
    for h in heads:
        t.add_column(h, overflow="fold")
    md += [
        "## Every file",
        "",
        "| " + " | ".join(heads[:4]) + " | differs |",
        "|---|---|---|---|---|",
    ]
    for row in table:
        t.add_row(*map(escape, row), style="yellow" if row[4] else None)
        md.append("| " + " | ".join(x.replace("|", "\\|") or " " for x in row) + " |")
    con.print(t)
    con.rule("Differences (error vs no error), grouped by the bot's error rule")
    md += ["", "## Differences (error vs no error), grouped by the bot's error rule", ""]
    for rule, members in groups.items():
        doc = "documented" if rule.split(" ")[0] in known else "NOT documented in schema/README.md"
        if rule.endswith("warning only)"):
            doc += "; the anchor's yamllint reports it as an error, the bot as a warning"
        elif rule.startswith("("):
            doc = "unexplained: the bot accepts what the anchor rejects"
        con.print(f"\n[bold]{escape(rule)}[/bold] — {len(members)} file(s), {doc}")
        md += [f"### `{rule}` — {len(members)} file(s), {doc}", ""]
        for r in members:
            bot, anchor = _messages(r, rule)
            con.print(f"  [cyan]{escape(r.taxonomy + '/' + r.rel)}[/cyan]")
            md.append(f"- `{r.taxonomy}/{r.rel}`")
            for who, msgs in (("bot", bot), ("instructlab-schema", anchor)):
                for m in msgs:
                    con.print(f"    {who}: {escape(m)}")
                    md.append(f"  - {who}: " + m.replace("|", "\\|"))
        md.append("")
    if not groups:
        con.print("none")
        md.append("None.")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", type=Path, help="also write the report as markdown here")
    a = ap.parse_args()
    rows = collect()
    if rows is None:
        return 0
    known = documented_rules()
    if not known:
        con.print(f"[red]no rule table found in {README}[/red]")
    md = [
        "# Compatibility with instructlab-schema",
        "",
        "Generated by `benchmarks/compat_report.py`: both validators on every `qna.yaml` of "
        "the corpus taxonomies (instructlab-schema 0.4.2 with `schema_version=0`, i.e. the "
        "version each file declares).",
        "",
    ]
    bad = render(rows, known, md)
    differ = sum(r.differs for r in rows)
    bot_only = sum(r.differs and r.bot_error for r in rows)
    missing = sum(r.bot is None for r in rows)
    undocumented = sorted(
        {p["rule"] for r in rows if r.bot for p in r.bot["errors"] + r.bot["warnings"]} - known
    )
    lines = [
        f"files: {len(rows)}; agreeing: {len(rows) - differ}; differing: {differ} "
        f"(bot error only: {bot_only}, instructlab-schema error only: {differ - bot_only})",
        f"files the bot did not report: {missing}",
        f"rule ids the bot used that schema/README.md does not document: {undocumented or 'none'}",
    ]
    md += ["## Summary", "", *(f"- {x}" for x in lines)]
    con.rule("Summary")
    for x in lines:
        con.print(escape(x))
    ok = bad == 0
    verdict = (
        "every difference is explained by a documented rule id"
        if ok
        else f"{bad} file(s) differ without a documented explanation (or were not reported)"
    )
    md.append(f"- **{'PASS' if ok else 'FAIL'}**: {verdict}")
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text("\n".join(md) + "\n", encoding="utf-8")
        con.print(f"markdown written to {a.markdown}")
    con.print(f"{'PASS' if ok else 'FAIL'}: {verdict}", style="green" if ok else "red")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
