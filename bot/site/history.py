"""history.html (and history-2.html, ...): the accuracy matrix over merges, leaf by leaf.

The heatmap is a table: one cell per (merge, leaf), coloured by the leaf's gain over the
base after that merge, with the number in it (so the table is its own text alternative),
a mark for the verdict against the previous model and a red frame where the leaf was
forgotten. Large taxonomies are split LEAVES_PER_PAGE leaves to a page, and the last
MERGES_SHOWN merges are shown, so every page stays small.
"""

from __future__ import annotations

from bot.site.context import Context, leaf_href
from bot.site.html import DASH, MINUS, esc, fmt, heat, label, note, page, when
from bot.site.matrix import Cell, Matrix
from bot.site.model import Merge

LEAVES_PER_PAGE = 100
MERGES_SHOWN = 24
MARK = {"improved": "▲", "regressed": "▼"}


def page_file(n: int) -> str:
    return "history.html" if n == 1 else f"history-{n}.html"


def render(ctx: Context) -> dict[str, str]:
    m = ctx.matrix
    chunks = [m.leaves[i : i + LEAVES_PER_PAGE] for i in range(0, len(m.leaves), LEAVES_PER_PAGE)]
    chunks = chunks or [[]]
    out = {}
    for n, leaves in enumerate(chunks, 1):
        body = [_intro(m)] if n == 1 else []
        body += [_pager(len(chunks), n), _heatmap(m, leaves), _pager(len(chunks), n)]
        if n == 1:
            body.append(_merge_table(m.merges))
        title = "History" if n == 1 else f"History ({n} of {len(chunks)})"
        out[page_file(n)] = page(title, "", "history.html", "\n".join(body), ctx.data.title)
    return out


def _intro(m: Matrix) -> str:
    s = m.summary
    facts = ", ".join(
        f"{k} {fmt(s[k], True)}" for k in ("ACC", "BWT", "forgetting", "plasticity") if k in s
    )
    shown = min(len(m.merges), MERGES_SHOWN)
    older = f" (the last {shown} of {len(m.merges)})" if len(m.merges) > shown else ""
    legend = "".join(
        f'<span class="{c}">{label}</span>'
        for c, label in (
            ("w3", f"< {MINUS}0.2"),
            ("w2", f"{MINUS}0.2 … {MINUS}0.05"),
            ("w1", f"{MINUS}0.05 … {MINUS}0.01"),
            ("n0", "±0.01"),
            ("b1", "0.01 … 0.05"),
            ("b2", "0.05 … 0.2"),
            ("b3", "> 0.2"),
            ("na", f"{DASH} not evaluated"),
        )
    )
    return (
        f"<p>{len(m.leaves)} leaves over {len(m.merges)} kept retrain reports{older}. Each cell "
        "is the leaf's <strong>gain over the base model</strong> after that merge (mean NLL per "
        "token of the reference answers, base minus model: above zero is better). ▲/▼: the "
        "verdict against the model the merge replaced (improved / regressed, beyond the noise "
        "band). <u>Underlined</u>: the merge trained this leaf. A red frame marks "
        "<strong>forgetting</strong>: an earlier leaf that regressed, or fell below its best "
        "earlier gain by more than its noise band.</p>"
        + (f"<p>Continual-learning summary: {facts}.</p>" if facts else "")
        + f'<p class="legend" aria-label="Colour scale, gain over the base">{legend}</p>'
    )


def _pager(pages: int, current: int) -> str:
    if pages == 1:
        return ""
    links = " ".join(
        f'<a href="{page_file(n)}">{n}</a>'
        if n != current
        else f'<strong aria-current="page">{n}</strong>'
        for n in range(1, pages + 1)
    )
    return f'<nav aria-label="History pages"><p>Leaves, page: {links}</p></nav>'


def _heatmap(m: Matrix, leaves: list[str]) -> str:
    if not m.merges:
        return note(
            "No retrain reports kept yet: `bot run` (and the retrain workflow) keep one "
            "per retrain in <work>/history/."
        )
    first = max(0, len(m.merges) - MERGES_SHOWN)
    shown = range(first, len(m.merges))
    head = "".join(
        f'<th scope="col" title="{esc(m.merges[i].label)}, {when(m.merges[i].created)}">'
        f"{label(m.merges[i].label)}</th>"
        for i in shown
    )
    index = {leaf: k for k, leaf in enumerate(m.leaves)}
    rows = []
    for leaf in leaves:
        row = m.cells[index[leaf]]
        cells = "".join(_cell(row[i]) for i in shown)
        rows.append(f'<tr><th scope="row">{_leaf_link(leaf, m)}</th>{cells}</tr>')
    return (
        '<div class="scroll"><table class="heat"><caption>Gain over the base per leaf (rows) '
        f'and merge (columns)</caption><thead><tr><th scope="col">leaf</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _leaf_link(leaf: str, m: Matrix) -> str:
    if "/" not in leaf:  # the general set: no leaf page
        return f"{esc(leaf)} (general set)"
    return f'<a href="{esc(leaf_href(leaf))}">{esc(leaf)}</a>'


def _cell(c: Cell) -> str:
    classes = [heat(c.gain), "c"]
    if c.forgot:
        classes.append("f")
    if c.own and c.gain is not None:
        classes.append("o")
    text = fmt(c.gain, True, 2) if c.gain is not None else DASH
    text += MARK.get(c.verdict or "", "")
    label = f' title="{esc(c.note)}"' if c.note and c.gain is None else ""
    if c.forgot:
        text += '<span class="vh"> forgotten</span>'
    return f'<td class="{" ".join(classes)}"{label}>{text}</td>'


def _merge_table(merges: list[Merge]) -> str:
    if not merges:
        return ""
    rows = []
    for merge in reversed(merges):
        ev = merge.evaluation
        if ev is None:
            what = note(merge.note or "no report")
        else:
            counts: dict[str, int] = {}
            for g in ev.leaves:
                if g.verdict in MARK:
                    counts[g.verdict] = counts.get(g.verdict, 0) + 1
            verdicts = ", ".join(f"{n} {v}" for v, n in counts.items()) or "no leaf moved"
            what = (
                f"{esc(ev.candidate)} vs {esc(ev.reference)} ({esc(ev.compared_with)}), "
                f"{ev.items:,} items: {verdicts}{'; failed' if ev.failed else ''}"
            )
        trained = ", ".join(merge.trained[:5]) + (" …" if len(merge.trained) > 5 else "")
        rows.append(
            f'<tr><th scope="row">{label(merge.label)}</th><td>{when(merge.created)}</td>'
            f"<td>{esc(trained) or DASH}</td><td>{what}</td></tr>"
        )
    return (
        '<h2 id="merges">Every kept report</h2><div class="scroll"><table><thead><tr>'
        '<th scope="col">merge</th><th scope="col">when</th><th scope="col">trained</th>'
        f'<th scope="col">report</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )
