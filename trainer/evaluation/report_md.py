"""report.md: the pull-request comment body, rendered from report.json's document.

Layout: a hidden marker (so the bot edits one sticky comment), one summary line, then a
table leaf | metric | base -> candidate | delta [95% CI] with regressions first, then
improvements, then the suite rows without a significant change; everything else (leaves
without a significant change, what could not be built, judge parse failures, settings)
is collapsed in <details>.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- taxonomy-bot:benchmark -->"
ICON = {"regressed": "🔴", "improved": "🟢", "no significant change": "⚪"}
ORDER = {"regressed": 0, "improved": 1, "no significant change": 2}


def _num(metric: str, value: float, signed: bool = False) -> str:
    digits = 2 if metric == "judge" else 3
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _row(label: str, d: dict[str, Any]) -> str:
    m = d["metric"]
    arrow = "↓" if d["better"] == "lower" else "↑"
    ci = d["ci"]
    interval = f"[{_num(m, ci[0], True)}, {_num(m, ci[1], True)}]" if ci else f"(n={d['n']}, no CI)"
    return (
        f"| {label} | {m} {arrow} | {_num(m, d['base'])} → {_num(m, d['candidate'])} "
        f"| {ICON[d['verdict']]} {_num(m, d['delta'], True)} {interval} |"
    )


def _table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out = ["| leaf | metric | base → candidate | delta [95% CI] |", "|---|---|---|---|"]
    return out + [_row(label, d) for label, d in rows]


def _rows(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [(f"**{s['name']} suite**", d) for s in doc["suites"] for d in s["metrics"]]
    for leaf in doc["leaves"]:
        label = f"`{leaf['path']}`" + (" (judge)" if leaf["suite"] == "judge" else "")
        rows += [(label, d) for d in leaf["metrics"]]
    return rows


def summary_line(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    leaves = s["branch_leaves"]
    status = "❌ **failed**" if s["failed"] else "✅ passed"
    n = sum(leaves.values())
    parts = [
        f"{status}: of {n} lea{'f' if n == 1 else 'ves'}, {leaves['regressed']} regressed, "
        f"{leaves['improved']} improved, {leaves['no significant change']} no significant change",
    ]
    for suite in doc["suites"]:
        if suite["name"] != "branch":
            parts.append(f"{suite['name']} suite {suite['verdict']}")
    for f in doc["failures"]:
        sign = _num(f["metric"], f["delta"], True)
        parts.append(f"{f['suite']} {f['metric']} {sign} past the limit {f['threshold']:g}")
    parts.append(f"{s['items']} items")
    return "**Benchmark** " + " · ".join(parts)


def render(doc: dict[str, Any]) -> str:
    rows = sorted(_rows(doc), key=lambda r: ORDER[r[1]["verdict"]])
    shown = [r for r in rows if r[1]["verdict"] != "no significant change" or "suite**" in r[0]]
    hidden = [r for r in rows if r not in shown]
    base, cand = doc["base"], doc["candidate"]
    lines = [
        MARKER,
        summary_line(doc),
        "",
        f"`{base['spec']}` → `{cand['spec']}`, the same items for both; delta = candidate - base, "
        f"{doc['settings']['confidence']:.0%} paired bootstrap interval "
        f"({doc['settings']['resamples']} resamples); ↓ lower is better, ↑ higher is better.",
        "",
        *_table(shown),
    ]
    if hidden:
        lines += [
            "",
            f"<details><summary>{len(hidden)} leaf rows with no significant change</summary>",
            "",
            *_table(hidden),
            "",
            "</details>",
        ]
    if doc["skipped"]:
        lines += ["", "<details><summary>Not built (counted, never invented)</summary>", ""]
        lines += [
            f"- {s['suite']} `{s['group']}`: {s['what']} x{s['count']}: {s['reason']}"
            for s in doc["skipped"]
        ]
        lines += ["", "</details>"]
    if doc["judge"]:
        j = doc["judge"]
        rate = j["parse_failure_rate"]
        lines += [
            "",
            f"Judge `{j['spec']}`: parse failures {j['parse_failures']['base']}/"
            f"{j['answers_rated']['base']} ({rate['base']:.0%}) base, "
            f"{j['parse_failures']['candidate']}/{j['answers_rated']['candidate']} "
            f"({rate['candidate']:.0%}) candidate.",
        ]
    st = doc["settings"]
    lines += [
        "",
        "<details><summary>Settings and models</summary>",
        "",
        f"- base `{base['spec']}` ({base['fingerprint']}): {base['items_scored']} items scored, "
        f"{base['items_cached']} cached, {base['seconds']:.1f} s",
        f"- candidate `{cand['spec']}` ({cand['fingerprint']}): {cand['items_scored']} items "
        f"scored, {cand['items_cached']} cached, {cand['seconds']:.1f} s",
        f"- suites: regression sample `{st['regression_sample']}`, general set "
        f"`{st['general_set']}`, {st['doc_mc_per_leaf']} document items per knowledge leaf",
        f"- greedy answers: {st['max_new_tokens']} new tokens ({st['short_new_tokens']} for "
        f"short references); scorer `{st['scorer']}`; seed {st['seed']}; intervals from "
        f"{st['min_items']} items up",
        "- failing limits: "
        + ", ".join(f"{k} {v:g}" for k, v in sorted(st["max_regression"].items())),
        f"- schema `{doc['schema']}`, {doc['summary']['seconds']:.1f} s",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)
