"""report.md: the pull-request comment body, rendered from report.json's document.

Layout: a hidden marker (so the bot edits one sticky comment), one summary line, how to read
the numbers, then the change's own leaves (primary metric, interval, the noise band beside
it, Holm-adjusted p, verdict), knowledge beyond form (the placebo difference in
differences), and the earlier leaves against the model this change replaces (forgetting).
Descriptive metrics, memorization, what could not be built and the settings are collapsed
in <details>.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- taxonomy-bot:benchmark -->"
ICON = {
    "regressed": "🔴",
    "improved": "🟢",
    "no significant change": "⚪",
    "too few items": "▫️",
}
ORDER = {"regressed": 0, "improved": 1, "no significant change": 2, "too few items": 3}


def _num(value: float | None, signed: bool = False, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _ci(ci: list[float] | None) -> str:
    return f"[{_num(ci[0], True)}, {_num(ci[1], True)}]" if ci else "(no interval)"


def _band(band: list[float] | None) -> str:
    if not band:
        return "not measured"
    lo, hi = band
    return (
        f"±{max(-lo, hi):.3f}" if abs(lo + hi) < 1e-9 else f"[{_num(lo, True)}, {_num(hi, True)}]"
    )


def _p(d: dict[str, Any]) -> str:
    p = d.get("p_adjusted")
    return "-" if p is None else (f"{p:.3f}" if p >= 0.001 else "<0.001")


def _origins(items: dict[str, int]) -> str:
    total = sum(items.values())
    parts = ", ".join(f"{n} {k}" for k, n in sorted(items.items()))
    return f"{total} ({parts})" if len(items) > 1 else str(total)


def _decision_row(label: str, items: str, d: dict[str, Any]) -> str:
    verdict = d["verdict"]
    return (
        f"| {label} | {items} | {_num(d['reference'])} → {_num(d['candidate'])} "
        f"| {_num(d['delta'], True)} {_ci(d['ci'])} | {_band(d['noise_band'])} | {_p(d)} "
        f"| {ICON[verdict]} {verdict} |"
    )


HEAD = [
    "| leaf | items | NLL reference → candidate | Δ [95% CI] | noise band | p (Holm) | verdict |",
    "|---|---|---|---|---|---|---|",
]


PLACEBO_HEAD = [
    "| leaf | items | Δ NLL of the placebo twin → of the true answer | difference [95% CI] "
    "| noise band | p (Holm) | verdict |",
    "|---|---|---|---|---|---|---|",
]


def _leaf_rows(leaves: list[dict[str, Any]], key: str = "primary") -> list[str]:
    rows = [g for g in leaves if g.get(key)]
    rows.sort(key=lambda g: (ORDER[g[key]["verdict"]], g["path"]))
    return [_decision_row(f"`{g['path']}`", _origins(g["items"]), g[key]) for g in rows]


def _suite(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in doc["suites"] if s["suite"] == name), None)


def summary_line(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    status = "❌ **failed**" if s["failed"] else "✅ passed"
    b, r = s["branch_leaves"], s["regression_leaves"]
    n = sum(b.values())
    parts = [
        f"{status}: of {n} lea{'f' if n == 1 else 'ves'} in this change, {b['improved']} "
        f"improved, {b['regressed']} regressed, {b['no significant change']} no significant "
        f"change, {b['too few items']} too few items to tell"
    ]
    if sum(r.values()):
        parts.append(f"earlier leaves: {r['regressed']} of {sum(r.values())} regressed")
    for f in doc["failures"]:
        parts.append(
            f"{f['suite']} {f['metric']} {f['delta']:+.3f} past the limit {f['threshold']:g}"
        )
    parts.append(f"{s['items']} items")
    return "**Benchmark** " + " · ".join(parts)


def _explain(doc: dict[str, Any]) -> str:
    ref = doc["previous"] or doc["base"]
    st = doc["settings"]
    who = "the model this change replaces" if doc["previous"] else "the base model"
    return (
        f"Reference: {who}, `{ref['spec']}`; candidate `{doc['candidate']['spec']}`. "
        f"Verdicts come from one metric fixed in advance, the reference answer's negative "
        f"log-likelihood per token (↓ better), on held-out items that no training row "
        f"shares 8 words with; a paired test per leaf (exact sign flips up to 20 items, a "
        f"bootstrap by source above), Holm-corrected across leaves at alpha = {st['alpha']:g}; a "
        f"change counts only when its whole interval clears the noise band (two trainings of "
        f"the same data)."
    )


def _sections(doc: dict[str, Any]) -> list[str]:
    leaves = doc["leaves"]
    branch = [g for g in leaves if g["suite"] == "branch"]
    lines = ["", "#### This change's leaves", "", *HEAD, *_leaf_rows(branch)]
    suite = _suite(doc, "branch")
    if suite and suite["primary"]:
        lines.append(_decision_row("**all of them**", _origins(suite["items"]), suite["primary"]))
    placebo = [g for g in branch if g.get("placebo")]
    if placebo:
        rows = _leaf_rows(placebo, "placebo")
        if suite and suite.get("placebo"):
            rows.append(
                _decision_row("**all of them**", _origins(suite["items"]), suite["placebo"])
            )
        lines += [
            "",
            "Knowledge beyond form: the true answer's NLL change minus its placebo twin's "
            "(the same answer with its fact swapped for one in no document); below zero, the "
            "facts were learnt, not only how answers look.",
            "",
            PLACEBO_HEAD[0],
            PLACEBO_HEAD[1],
            *rows,
        ]
    regression = [g for g in leaves if g["suite"] == "regression"]
    if regression:
        moved = [g for g in regression if g["verdict"] in ("regressed", "improved")]
        lines += ["", "#### Earlier leaves (forgetting)", ""]
        suite = _suite(doc, "regression")
        rows = _leaf_rows(moved)
        if suite and suite["primary"]:
            rows.append(
                _decision_row("**all of them**", _origins(suite["items"]), suite["primary"])
            )
        lines += [*HEAD, *rows] if rows else []
        rest = len(regression) - len(moved)
        if rest:
            lines += ["", f"<details><summary>{rest} earlier leaves with no change</summary>", ""]
            lines += [
                *HEAD,
                *_leaf_rows([g for g in regression if g not in moved]),
                "",
                "</details>",
            ]
    return lines


def _descriptive(doc: dict[str, Any]) -> list[str]:
    rows = []
    for g in [*doc["suites"], *doc["leaves"]]:
        label = f"**{g['suite']} suite**" if g["kind"] == "suite" else f"`{g['path']}`"
        if g["suite"] == "memorization" and g["kind"] != "suite":
            label += " (memorization)"
        for t in g["descriptive"]:
            rows.append(
                f"| {label} | {t['metric']} | {t['n']} | {_num(t['reference'])} → "
                f"{_num(t['candidate'])} | {_num(t['delta'], True)} {_ci(t['ci'])} |"
            )
    if not rows:
        return []
    return [
        "",
        "<details><summary>Descriptive metrics (no verdicts: multiple choice, ROUGE-L, exact "
        "match, memorization of the documents)</summary>",
        "",
        "| group | metric | n | reference → candidate | Δ [95% CI] |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "</details>",
    ]


def _footer(doc: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if doc["skipped"]:
        lines += ["", "<details><summary>Not built (counted, never invented)</summary>", ""]
        lines += [
            f"- {s['suite']} `{s['group']}`: {s['what']} x{s['count']}: {s['reason']}"
            for s in doc["skipped"]
        ]
        lines += ["", "</details>"]
    st, pv = doc["settings"], doc["provenance"]
    models = [
        f"- {role} `{m['spec']}` ({m['fingerprint']}): {m['items_scored']} items scored, "
        f"{m['items_cached']} cached, {m['seconds']:.1f} s"
        for role in ("base", "previous", "candidate")
        if (m := doc[role])
    ]
    lines += [
        "",
        "<details><summary>Settings, models and items</summary>",
        "",
        *models,
        f"- items: `{pv['heldout_version']}`, "
        + ", ".join(f"{n} {k}" for k, n in pv["by_origin"].items())
        + f"; digest `{pv['items_sha256'][:16]}`",
        f"- primary metric `{st['primary_metric']}`, alpha {st['alpha']:g}, {st['correction']}, "
        f"{st['resamples']} bootstrap resamples, seed {st['seed']}",
        "- noise bands: "
        + (", ".join(f"{k} {_band(v)}" for k, v in st["noise"].items()) or "not measured"),
        "- failing limits: "
        + ", ".join(f"{k} {v:g}" for k, v in sorted(st["max_regression"].items())),
        f"- schema `{doc['schema']}`, {doc['summary']['seconds']:.1f} s",
        "",
        "</details>",
        "",
    ]
    return lines


def render(doc: dict[str, Any]) -> str:
    return "\n".join(
        [
            MARKER,
            summary_line(doc),
            "",
            _explain(doc),
            *_sections(doc),
            *_descriptive(doc),
            *_footer(doc),
        ]
    )
