"""releases/index.html and releases/<version>.html: each release's manifest, changelog,
model card and evaluation (the release benchmark's report when this workspace has it, else
the manifest's summary, else a note)."""

from __future__ import annotations

from typing import Any

import yaml

from bot.site.context import Context, release_file
from bot.site.html import DASH, esc, fmt, markdown, note, page, when
from bot.site.model import Release
from bot.site.overview import suite_table


def render(ctx: Context) -> dict[str, str]:
    title = ctx.data.title
    out = {
        "releases/index.html": page(
            "Releases", "../", "releases/index.html", _index(ctx.data.releases), title
        )
    }
    for rel in ctx.data.releases:
        rel_file = release_file(rel.version)
        name = rel.tag or rel.version
        out[rel_file] = page(f"Release {name}", "../", "releases/index.html", _one(rel), title)
    return out


def _index(releases: list[Release]) -> str:
    if not releases:
        return note("No releases yet: `bot release` writes releases/<version>/ and tags it.")
    rows = []
    for rel in releases:
        changes = (rel.manifest or {}).get("changes")
        counts = (
            ", ".join(f"{len(v)} {k}" for k, v in changes.items() if isinstance(v, list))
            if isinstance(changes, dict)
            else esc(rel.manifest_note or DASH)
        )
        verdict = _verdict(rel)
        rows.append(
            f'<tr><th scope="row"><a href="{esc(rel.version)}.html">{esc(rel.tag or rel.version)}'
            f"</a></th><td>{when(rel.created)}</td><td>{counts}</td><td>{verdict}</td></tr>"
        )
    return (
        '<table><thead><tr><th scope="col">release</th><th scope="col">created</th>'
        '<th scope="col">leaves</th><th scope="col">evaluation</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _verdict(rel: Release) -> str:
    if rel.evaluation is not None:
        return "failed" if rel.evaluation.failed else "passed"
    if rel.summary is not None:
        return "failed" if rel.summary.get("failed") else "passed (summary)"
    return f'<span class="muted">{esc(rel.evaluation_note)}</span>'


def _one(rel: Release) -> str:
    parts = [_manifest(rel), "<h2>Evaluation</h2>", _evaluation(rel), "<h2>Changelog</h2>"]
    parts.append(markdown(rel.changelog) if rel.changelog else note("no CHANGELOG.md"))
    parts.append("<h2>Model card</h2>")
    parts.append(markdown(rel.card) if rel.card else note("no MODEL_CARD.md"))
    if rel.manifest is not None:
        text = yaml.safe_dump(rel.manifest, sort_keys=True, allow_unicode=True, width=100)
        parts.append(f"<details><summary>manifest.yaml</summary><pre>{esc(text)}</pre></details>")
    return "\n".join(parts)


def _manifest(rel: Release) -> str:
    m = rel.manifest
    if m is None:
        return "<h2>Manifest</h2>" + note(rel.manifest_note or "no manifest")
    model = _dict(m.get("model"))
    base = _dict(m.get("base_model"))
    changes = _dict(m.get("changes"))
    leaves = m.get("leaves")
    rows = [
        ("created", m.get("created")),
        ("taxonomy commit", str(m.get("taxonomy_commit", ""))[:12]),
        ("base model", base.get("spec")),
        ("model digest", model.get("digest")),
        ("started from", model.get("started_from")),
        ("leaves", len(leaves) if isinstance(leaves, dict) else None),
        ("previous", _dict(m.get("previous")).get("version")),
    ]
    table = "".join(
        f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>'
        for k, v in rows
        if v not in (None, "")
    )
    lists = "".join(
        f"<h3>{esc(k.capitalize())}</h3><ul>{''.join(f'<li>{esc(x)}</li>' for x in v)}</ul>"
        for k, v in changes.items()
        if isinstance(v, list) and v
    )
    return f"<h2>Manifest</h2><table><tbody>{table}</tbody></table>{lists}"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _evaluation(rel: Release) -> str:
    ev = rel.evaluation
    if ev is not None:
        return (
            f"<p>{esc(ev.candidate)} against {esc(ev.reference)}, {ev.items:,} items: "
            f"<strong>{'failed' if ev.failed else 'passed'}</strong>.</p>"
            + suite_table([g for g in ev.suites if g.primary])
            + "<h3>Leaves</h3>"
            + suite_table([g for g in ev.leaves if g.primary and g.suite == "branch"])
        )
    text = note(rel.evaluation_note)
    summary = rel.summary
    if summary is None:
        return text
    suites = _dict(summary.get("suites"))
    rows = "".join(
        f'<tr><th scope="row">{esc(name)}</th><td>{esc(_dict(s).get("verdict") or DASH)}</td>'
        f'<td class="num">{fmt(_num(_dict(_dict(s).get("deltas")).get("nll")), True)}</td></tr>'
        for name, s in suites.items()
    )
    return (
        f"{text}<p>Against {esc(summary.get('baseline', '?'))}: "
        f"{'failed' if summary.get('failed') else 'passed'}.</p><table><thead><tr>"
        '<th scope="col">suite</th><th scope="col">verdict</th><th scope="col" class="num">'
        f"Δ NLL</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
