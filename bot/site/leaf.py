"""leaves/<taxonomy path>.html: one leaf: what it is, whether it validates (each problem as
file:line:col rule message), what generation made of it and a few samples, and its score
after every merge."""

from __future__ import annotations

from bot.site.context import Context, depth, leaf_file
from bot.site.html import DASH, esc, fmt, label, note, page, sparkline, when
from bot.site.matrix import Cell, Matrix
from bot.site.model import Leaf

MARK = {"improved": "improved", "regressed": "regressed"}


def render(ctx: Context) -> dict[str, str]:
    index = {leaf: k for k, leaf in enumerate(ctx.matrix.leaves)}
    out = {}
    for leaf in ctx.data.leaves:
        rel = leaf_file(leaf.path)
        row = ctx.matrix.cells[index[leaf.path]] if leaf.path in index else []
        body = "\n".join(
            [_about(leaf), _validation(leaf), _generation(leaf), _scores(leaf, row, ctx.matrix)]
        )
        out[rel] = page(leaf.path, depth(rel), "taxonomy.html", body, ctx.data.title)
    return out


def _about(leaf: Leaf) -> str:
    seeds = "unknown" if leaf.seeds is None else str(leaf.seeds)
    version = f"version {leaf.version}" if leaf.version else "no version"
    desc = f"<p>{esc(leaf.description)}</p>" if leaf.description else ""
    return (
        f'{desc}<p><span class="tag s-{leaf.status}">{leaf.status}</span> {esc(leaf.kind)} leaf, '
        f"{version}, {seeds} seed examples, file <code>{esc(leaf.file)}</code>.</p>"
    )


def _validation(leaf: Leaf) -> str:
    if not leaf.errors and not leaf.warnings:
        return "<h2>Validation</h2><p>Valid: no errors, no warnings.</p>"
    items = "".join(f'<li class="problem">error: {esc(p)}</li>' for p in leaf.errors)
    items += "".join(f"<li>warning: {esc(p)}</li>" for p in leaf.warnings)
    head = "This leaf fails validation" if leaf.errors else "Valid, with warnings"
    return f"<h2>Validation</h2><p>{head}:</p><ul>{items}</ul>"


def _generation(leaf: Leaf) -> str:
    if leaf.gen is None:
        return "<h2>Generation</h2>" + note(leaf.gen_note or "not generated yet") + _samples(leaf)
    g = leaf.gen
    dropped = "".join(
        f'<tr><th scope="row">{esc(b.replace("_", " "))}</th><td class="num">{n}</td></tr>'
        for b, n in sorted(g.dropped.items(), key=lambda kv: -kv[1])
    )
    why = (
        f"<table><caption>Why the others were dropped</caption><tbody>{dropped}</tbody></table>"
        if dropped
        else ""
    )
    teacher = f" by <code>{esc(g.teacher)}</code>" if g.teacher else ""
    return (
        f"<h2>Generation</h2><p>{g.proposed} samples proposed{teacher}, <strong>{g.kept} kept"
        f"</strong>; {g.rows} rows in the store.</p>{why}{_samples(leaf)}"
    )


def _samples(leaf: Leaf) -> str:
    if not leaf.samples:
        return note("no exported samples in this workspace")
    shown = "".join(
        f"<li><p><strong>Q:</strong> {esc(s.question[:600])}</p>"
        f"<blockquote><strong>A:</strong> {esc(s.answer[:600])}</blockquote></li>"
        for s in leaf.samples
    )
    return f"<h3>Generated samples</h3><ol>{shown}</ol>"


def _scores(leaf: Leaf, row: list[Cell], m: Matrix) -> str:
    if not any(c.gain is not None for c in row):
        return "<h2>Score over time</h2>" + note("not evaluated in any kept report")
    lines = []
    for merge, c in zip(m.merges, row, strict=True):
        mark = MARK.get(c.verdict or "", c.verdict or DASH)
        flags = ", ".join(x for x, on in (("trained here", c.own), ("forgotten", c.forgot)) if on)
        lines.append(
            f'<tr><th scope="row">{label(merge.label)}</th><td>{when(merge.created)}</td>'
            f'<td class="num">{fmt(c.gain, True)}</td><td class="num">{fmt(c.delta, True)}</td>'
            f"<td>{esc(mark if c.gain is not None else c.note)}</td><td>{flags}</td></tr>"
        )
    chart = sparkline([c.gain for c in row], f"{leaf.path}, gain over the base by merge", 240)
    return (
        f'<h2>Score over time</h2><p>{chart}</p><div class="scroll"><table><thead><tr>'
        '<th scope="col">merge</th><th scope="col">when</th><th scope="col" class="num">gain '
        'vs base</th><th scope="col" class="num">Δ NLL vs previous</th><th scope="col">verdict'
        f'</th><th scope="col">notes</th></tr></thead><tbody>{"".join(lines)}</tbody></table></div>'
    )
