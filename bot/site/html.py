"""The small HTML and SVG vocabulary of the site: escaping, the page frame (skip link,
landmarks, navigation), numbers, two inline SVG charts (a sparkline and deltas against the
noise band) and Markdown.

Every page is plain HTML with one shared style sheet and inline SVG: no script, no build
step, relative links only, so the site works opened from disk and on GitHub Pages.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

# Text and backgrounds, checked for a contrast of at least 4.5:1 by the tests. The heat
# colours are ColorBrewer's PuOr (orange: worse than the base, purple: better), which
# reads the same for the common colour-vision deficiencies.
INK, PAPER, MUTED, LINK, ACCENT = "#1b1f24", "#ffffff", "#57606a", "#0a58ca", "#542788"
HEAT = {  # class: (background, text)
    "w3": ("#b35806", "#ffffff"),
    "w2": ("#f1a340", "#1b1f24"),
    "w1": ("#fee0b6", "#1b1f24"),
    "n0": ("#f7f7f7", "#1b1f24"),
    "b1": ("#d8daeb", "#1b1f24"),
    "b2": ("#b2abd2", "#1b1f24"),
    "b3": ("#542788", "#ffffff"),
    "na": ("#eaeef2", "#57606a"),
}
STATUS = {  # validation status: (background, text)
    "valid": ("#dafbe1", "#116329"),
    "warnings": ("#fff8c5", "#6e5300"),
    "invalid": ("#ffebe9", "#a40e26"),
}
DASH, MINUS = "\u2013", "\u2212"  # no value; a real minus sign
NAV = (
    ("index.html", "Overview"),
    ("history.html", "History"),
    ("taxonomy.html", "Taxonomy"),
    ("releases/index.html", "Releases"),
)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: float | None, signed: bool = False, digits: int = 3) -> str:
    if value is None:
        return DASH
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace("-", MINUS)


def when(stamp: str) -> str:
    """An ISO 8601 UTC time as `2026-11-15 09:00` (anything else as it is)."""
    if len(stamp) >= 16 and stamp[10] == "T":
        return f"{stamp[:10]} {stamp[11:16]}"
    return stamp or DASH


def label(text: str) -> str:
    """A merge's label: a commit as its first 7 digits, in code type; else at most 20 chars."""
    if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
        return f"<code>{text[:7]}</code>"
    return esc(text[:20])


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def heat(gain: float | None) -> str:
    """The heat class of a gain over the base (nats per token)."""
    if gain is None:
        return "na"
    for limit, cls in (
        (-0.2, "w3"),
        (-0.05, "w2"),
        (-0.01, "w1"),
        (0.01, "n0"),
        (0.05, "b1"),
        (0.2, "b2"),
    ):
        if gain < limit:
            return cls
    return "b3"


def page(title: str, root: str, active: str, body: str, site: str) -> str:
    """A whole page. `root`: the relative way back to the site's root ("" or "../")."""
    current = ' aria-current="page"'
    links = "".join(
        f'<li><a href="{root}{href}"{current if href == active else ""}>{esc(name)}</a></li>'
        for href, name in NAV
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · {esc(site)}</title>"
        f'<link rel="stylesheet" href="{root}style.css"></head>\n<body>'
        '<a class="skip" href="#main">Skip to content</a>'
        f'<header><p class="site"><a href="{root}index.html">{esc(site)}</a></p>'
        f'<nav aria-label="Site"><ul>{links}</ul></nav></header>\n'
        f'<main id="main" tabindex="-1"><h1>{esc(title)}</h1>\n{body}\n</main>\n'
        "<footer><p>Built by <code>bot site</code> from the repository and its work folder."
        "</p></footer></body></html>\n"
    )


def note(text: str, kind: str = "note") -> str:
    """A visible remark about missing or bad data."""
    return f'<p class="{kind}">{esc(text)}</p>'


def sparkline(values: Sequence[float | None], label: str, width: int = 96) -> str:
    """A leaf's gain over the base across merges: a line, the zero line, the last point. Its
    text alternative gives the first, lowest, highest and last values (the leaf's page has
    every value in a table)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return '<span class="muted">no scores</span>'
    lo, hi = min(0.0, *(v for _, v in points)), max(0.0, *(v for _, v in points))
    span, h, step = (hi - lo) or 1.0, 20, (width - 4) / max(1, len(values) - 1)

    def y(v: float) -> int:
        return round(2 + (hi - v) / span * (h - 4))

    path = " ".join(f"{round(2 + i * step)},{y(v)}" for i, v in points)
    last_x, last_v = round(2 + points[-1][0] * step), points[-1][1]
    shown = [v for _, v in points]
    desc = (
        f"{len(shown)} scores, first {fmt(shown[0], True, 2)}, lowest {fmt(min(shown), True, 2)}"
        f", highest {fmt(max(shown), True, 2)}, last {fmt(last_v, True, 2)}"
    )
    return (
        f'<svg class="spark" width="{width}" height="{h}" role="img" aria-label="{esc(label)}: '
        f'{desc}"><line x2="{width}" y1="{y(0)}" y2="{y(0)}" class="zero"/>'
        f'<polyline points="{path}"/><circle cx="{last_x}" cy="{y(last_v)}" r="2.5"/></svg>'
    )


def delta_chart(
    rows: Sequence[
        tuple[str, float | None, tuple[float, float] | None, tuple[float, float] | None]
    ],
    title: str,
) -> str:
    """Each row's delta (lower NLL is better) with its interval, over its shaded noise band.

    rows: (label, delta, ci, band). The data table beside it carries the same numbers."""
    shown = [r for r in rows if r[1] is not None]
    if not shown:
        return note("no deltas to draw")
    ends = [abs(v) for _, d, ci, band in shown for v in (d or 0.0, *(ci or ()), *(band or ()))]
    scale, left, width, row_h = max(max(ends), 0.01) * 1.1, 190, 560, 26
    mid, half = left + (width - left - 20) / 2, (width - left - 20) / 2

    def x(v: float) -> float:
        return float(round(mid + v / scale * half, 1))

    parts = []
    for i, (label, d, ci, band) in enumerate(shown):
        top = 10 + i * row_h
        if band:
            parts.append(
                f'<rect class="band" x="{x(band[0])}" y="{top}" '
                f'width="{max(1.0, x(band[1]) - x(band[0]))}" height="{row_h - 6}"/>'
            )
        if ci:
            parts.append(
                f'<line class="ci" x1="{x(ci[0])}" x2="{x(ci[1])}" '
                f'y1="{top + 10}" y2="{top + 10}"/>'
            )
        cls = "better" if (d or 0.0) < 0 else "worse"
        parts.append(
            f'<circle class="{cls}" cx="{x(d or 0.0)}" cy="{top + 10}" r="5"/>'
            f'<text x="{left - 8}" y="{top + 14}" text-anchor="end">{esc(label[-28:])}'
            "</text>"
        )
    height = 30 + len(shown) * row_h
    axis = (
        f'<line class="zero" x1="{mid}" x2="{mid}" y1="4" y2="{height - 18}"/>'
        f'<text x="{mid}" y="{height - 4}" text-anchor="middle">0 (no change)</text>'
        f'<text x="{left}" y="{height - 4}">better ←</text>'
        f'<text x="{width - 20}" y="{height - 4}" text-anchor="end">→ worse</text>'
    )
    desc = "; ".join(f"{label}: {fmt(d, True)}" for label, d, _, _ in shown)
    return (
        f'<svg class="deltas" viewBox="0 0 {width} {height}" role="img" aria-labelledby="dt dd">'
        f'<title id="dt">{esc(title)}</title><desc id="dd">{esc(desc)}</desc>'
        f"{''.join(parts)}{axis}</svg>"
    )


def markdown(text: str) -> str:
    """Markdown (a changelog, a model card) as HTML; raw HTML in it is shown as text."""
    from markdown_it import MarkdownIt

    body = text
    front = ""
    if text.startswith("---\n") and "\n---\n" in text[4:]:  # a model card's front matter
        head, body = text[4:].split("\n---\n", 1)
        front = f"<details><summary>Front matter</summary><pre>{esc(head)}</pre></details>"
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    # Only absolute web links: a path relative to the repository would be broken here.
    md.validateLink = _web_link  # type: ignore[method-assign]
    return front + str(md.render(body))


def _web_link(url: str) -> bool:
    return url.startswith(("https://", "http://", "mailto:"))


def css() -> str:
    """The one style sheet, with the palette above."""
    heat = "".join(f".{c}{{background:{bg};color:{fg}}}" for c, (bg, fg) in HEAT.items())
    status = "".join(f".s-{c}{{background:{bg};color:{fg}}}" for c, (bg, fg) in STATUS.items())
    return STYLE.format(ink=INK, paper=PAPER, muted=MUTED, link=LINK, accent=ACCENT) + heat + status


STYLE = """\
*{{box-sizing:border-box}}
body{{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:{ink};
background:{paper}}}
a{{color:{link}}}
a:focus-visible,summary:focus-visible,main:focus-visible,[tabindex]:focus-visible{{
outline:3px solid {accent};outline-offset:2px;border-radius:2px}}
.vh{{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}}
.skip{{position:absolute;left:-999px;top:0;background:{paper};padding:.5em 1em;z-index:2}}
.skip:focus{{left:1em}}
header{{display:flex;flex-wrap:wrap;align-items:center;gap:1em 2em;padding:.6em 2em;
border-bottom:1px solid #d0d7de;background:#f6f8fa}}
header .site{{margin:0;font-weight:700}} header .site a{{color:{ink};text-decoration:none}}
nav ul{{display:flex;gap:1.2em;list-style:none;margin:0;padding:0}}
nav a{{text-decoration:none;padding:.2em 0}} nav a[aria-current=page]{{font-weight:700;
border-bottom:3px solid {accent};color:{ink}}}
main{{max-width:72rem;margin:0 auto;padding:1em 2em 3em}}
footer{{color:{muted};font-size:.85em;padding:1em 2em;border-top:1px solid #d0d7de}}
h1{{font-size:1.7em;margin:.4em 0}} h2{{font-size:1.3em;margin-top:1.6em}}
.muted,.note{{color:{muted}}}
.note{{background:#f6f8fa;border-left:4px solid #8c959f;padding:.4em .8em}}
.problem{{background:#ffebe9;border-left:4px solid #a40e26;padding:.4em .8em;color:#82071e}}
.cards{{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:1em}}
.card{{border:1px solid #d0d7de;border-radius:6px;padding:.8em 1em}}
.card h2{{margin-top:0;font-size:1.1em}} .big{{font-size:1.6em;font-weight:700}}
table{{border-collapse:collapse;margin:.6em 0}}
th,td{{padding:.25em .6em;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top}}
td.num,th.num{{text-align:right;font-variant-numeric:tabular-nums}}
.scroll{{overflow-x:auto}}
.heat td.c{{text-align:center;font-size:.78em;min-width:3.4em;border:1px solid #fff;
font-variant-numeric:tabular-nums;white-space:nowrap}}
.heat th{{font-size:.8em;white-space:nowrap}} .heat tbody th{{font-weight:400}}
.heat td.f{{box-shadow:inset 0 0 0 3px #a40e26}}
.heat td.o{{text-decoration:underline;font-weight:700}}
.legend span{{display:inline-block;padding:0 .5em;margin:0 .2em .2em 0;font-size:.85em}}
.tag{{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85em}}
svg text{{font-size:12px;fill:{ink}}}
svg.spark{{vertical-align:middle}} svg.spark polyline{{fill:none;stroke:{accent};stroke-width:1.5}}
svg.spark circle{{fill:{accent}}} svg .zero{{stroke:#8c959f;stroke-dasharray:3 2}}
svg.deltas{{width:100%;max-width:560px;height:auto}}
svg .band{{fill:#d0d7de}} svg .ci{{stroke:{ink};stroke-width:2}}
svg .better{{fill:{accent}}} svg .worse{{fill:#b35806}}
details{{margin:.4em 0}} summary{{cursor:pointer}}
pre{{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.85em}}
ul.tree{{list-style:none;padding-left:1em}} ul.tree ul{{list-style:none;padding-left:1.2em}}
blockquote{{margin:.4em 0;padding:.2em .8em;border-left:3px solid #d0d7de}}
"""
