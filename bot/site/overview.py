"""index.html: the current release, its headline evaluation beside the noise band, the
taxonomy's health, and the last merges with what each did to its own leaves and the others."""

from __future__ import annotations

from bot.site.context import Context, release_file
from bot.site.html import DASH, delta_chart, esc, fmt, label, note, page, plural, when
from bot.site.matrix import Cell
from bot.site.model import Evaluation, Group, Release

LAST_MERGES = 6
VERDICT = {"improved": "improved", "regressed": "regressed"}


def render(ctx: Context) -> dict[str, str]:
    data = ctx.data
    current = data.releases[0] if data.releases else None
    body = [
        '<section class="cards" aria-label="At a glance">',
        _release_card(current),
        _taxonomy_card(ctx),
        _continual_card(ctx),
        "</section>",
        _headline(current, data.latest, data.latest_note),
        _merges(ctx),
    ]
    if data.problems:
        shown = "".join(f"<li>{esc(p)}</li>" for p in data.problems[:50])
        more = f"<p>{len(data.problems) - 50} more.</p>" if len(data.problems) > 50 else ""
        body.append(f'<h2>Data the site could not read</h2><ul class="problem">{shown}</ul>{more}')
    return {"index.html": page("Overview", "", "index.html", "\n".join(body), data.title)}


def _release_card(rel: Release | None) -> str:
    if rel is None:
        return '<div class="card"><h2>Current release</h2><p>No release yet.</p></div>'
    manifest = rel.manifest or {}
    leaves = manifest.get("leaves")
    count = f"<p>{len(leaves)} leaves</p>" if isinstance(leaves, dict) else ""
    made = f'<p class="muted">released {when(rel.created)}</p>' if rel.created else ""
    return (
        f'<div class="card"><h2>Current release</h2><p class="big">'
        f'<a href="{release_file(rel.version)}">{esc(rel.tag or rel.version)}</a></p>'
        f"{made}{count}</div>"
    )


def _taxonomy_card(ctx: Context) -> str:
    leaves = ctx.data.leaves
    counts = {s: sum(leaf.status == s for leaf in leaves) for s in ("valid", "warnings", "invalid")}
    generated = sum(leaf.gen is not None for leaf in leaves)
    tags = " ".join(
        f'<span class="tag s-{s}">{n} {s}</span>' for s, n in counts.items() if n or s == "valid"
    )
    return (
        f'<div class="card"><h2>Taxonomy</h2><p class="big"><a href="taxonomy.html">'
        f"{len(leaves)} leaves</a></p><p>{tags}</p><p>{generated} with generated data</p></div>"
    )


def _continual_card(ctx: Context) -> str:
    s = ctx.matrix.summary
    merges = len(ctx.matrix.merges)
    if not s:
        return (
            f'<div class="card"><h2>Over merges</h2><p><a href="history.html">{merges} kept '
            "reports</a></p><p>No scores yet: `bot run` keeps each retrain's report.</p></div>"
        )
    rows = "".join(
        f'<tr><th scope="row">{k}</th><td class="num">{fmt(s[k], True)}</td></tr>'
        for k in ("ACC", "BWT", "forgetting", "plasticity")
        if k in s
    )
    return (
        f'<div class="card"><h2>Over merges</h2><p><a href="history.html">{merges} kept '
        f'reports</a></p><table><caption class="muted">gain over the base, nats per token'
        f"</caption>{rows}</table></div>"
    )


def _headline(rel: Release | None, latest: Evaluation | None, latest_note: str) -> str:
    if rel is not None and rel.evaluation is not None:
        return _evaluation(f"Evaluation of {rel.tag or rel.version}", rel.evaluation)
    parts = []
    if rel is not None:
        parts.append(
            f"<h2>Evaluation of {esc(rel.tag or rel.version)}</h2>" + note(rel.evaluation_note)
        )
    if latest is not None:
        parts.append(_evaluation("The last run's evaluation", latest))
    else:
        parts.append("<h2>The last run's evaluation</h2>" + note(latest_note))
    return "\n".join(parts)


def _evaluation(title: str, ev: Evaluation) -> str:
    suites = [g for g in ev.suites if g.primary is not None]
    rows = [(g.suite, g.primary.delta, g.primary.ci, g.primary.band) for g in suites if g.primary]
    chart = delta_chart(rows, f"NLL per token, candidate minus {ev.reference}, per suite")
    table = suite_table(suites)
    head = "failed: a suite regressed past its limit" if ev.failed else "passed"
    return (
        f"<h2>{esc(title)}</h2><p>{esc(ev.candidate)} against {esc(ev.reference)} on "
        f"{ev.items:,} held-out items: <strong>{head}</strong>. The shaded band is the noise "
        "of training itself (two trainings of the same data); a change whose interval "
        f'reaches into it is no change.</p><div class="scroll">{chart}</div>{table}'
    )


def suite_table(groups: list[Group]) -> str:
    """The primary metric per suite (or leaf): reference, candidate, delta, CI, band, verdict."""
    if not groups:
        return note("no suites in this report")
    rows = []
    for g in groups:
        p = g.primary
        if p is None:
            continue
        ci = f"[{fmt(p.ci[0], True)}, {fmt(p.ci[1], True)}]" if p.ci else DASH
        band = f"±{max(abs(p.band[0]), abs(p.band[1])):.3f}" if p.band else "not measured"
        rows.append(
            f'<tr><th scope="row">{esc(g.path)}</th><td class="num">{g.items}</td>'
            f'<td class="num">{fmt(p.reference)}</td><td class="num">{fmt(p.candidate)}</td>'
            f'<td class="num">{fmt(p.delta, True)}</td><td class="num">{ci}</td>'
            f"<td>{band}</td><td>{esc(g.verdict or p.verdict or DASH)}</td></tr>"
        )
    return (
        '<div class="scroll"><table><thead><tr><th scope="col">suite</th>'
        '<th scope="col" class="num">items</th><th scope="col" class="num">reference</th>'
        '<th scope="col" class="num">candidate</th><th scope="col" class="num">Δ NLL</th>'
        '<th scope="col" class="num">95% CI</th><th scope="col">noise band</th>'
        f'<th scope="col">verdict</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _merges(ctx: Context) -> str:
    m = ctx.matrix
    if not m.merges:
        return "<h2>Last merges</h2>" + note(
            "No retrain reports kept yet: `bot run` and the retrain workflow keep one per retrain."
        )
    rows = []
    for i in range(len(m.merges) - 1, max(-1, len(m.merges) - 1 - LAST_MERGES), -1):
        merge = m.merges[i]
        if merge.evaluation is None:
            rows.append(
                f'<tr><th scope="row">{label(merge.label)}</th><td>{when(merge.created)}</td>'
                f'<td colspan="2">{esc(merge.note)}</td></tr>'
            )
            continue
        column = [row[i] for row in m.cells]
        own = [c for c in column if c.own]
        names = [leaf.rsplit("/", 1)[-1] for leaf, c in zip(m.leaves, column, strict=True) if c.own]
        named = f"<strong>{esc(', '.join(names))}</strong>: " if 0 < len(names) <= 3 else ""
        rest = [(leaf, c) for leaf, c in zip(m.leaves, column, strict=True) if not c.own]
        others = [c for leaf, c in rest if c.gain is not None and leaf not in m.general]
        general = [c for leaf, c in rest if c.gain is not None and leaf in m.general]
        effects = [_effect(others, "other")] if others or not general else []
        effects += [f"general set: {_effect(general, 'general')}"] if general else []
        rows.append(
            f'<tr><th scope="row">{label(merge.label)}</th><td>{when(merge.created)}</td>'
            f"<td>{named}{_effect(own, 'trained')}</td><td>{'; '.join(effects)}</td></tr>"
        )
    return (
        '<h2>Last merges</h2><div class="scroll"><table><thead><tr><th scope="col">merge</th>'
        '<th scope="col">when</th><th scope="col">its own leaves</th>'
        f'<th scope="col">the other leaves</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        '</table></div><p><a href="history.html">The whole history, leaf by leaf</a></p>'
    )


def _effect(cells: list[Cell], what: str) -> str:
    if not cells:
        return '<span class="muted">none known</span>' if what == "trained" else DASH
    deltas = [c.delta for c in cells if c.delta is not None]
    gains = [c.gain for c in cells if c.gain is not None]
    parts = [] if what == "general" else [plural(len(cells), "leaf").replace("leafs", "leaves")]
    if deltas:
        parts.append(f"mean Δ NLL {fmt(sum(deltas) / len(deltas), True)} vs previous")
    elif gains:
        parts.append(f"mean gain {fmt(sum(gains) / len(gains), True)} vs base")
    counts = {v: sum(c.verdict == v for c in cells) for v in VERDICT}
    parts += [f"{n} {v}" for v, n in counts.items() if n]
    forgot = sum(c.forgot for c in cells)
    if forgot:
        parts.append(f"<strong>{forgot} forgotten</strong>")
    return ", ".join(parts)
