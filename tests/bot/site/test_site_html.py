"""The HTML helpers: contrast of every colour pair, escaping, Markdown without raw HTML."""

from __future__ import annotations

import pytest

from bot.site import html


def luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


PAIRS = [
    *html.HEAT.values(),
    *html.STATUS.values(),
    (html.PAPER, html.INK),
    (html.PAPER, html.MUTED),
    (html.PAPER, html.LINK),
    ("#f6f8fa", html.MUTED),  # notes
    ("#f6f8fa", html.LINK),  # the header's links
    ("#ffebe9", "#82071e"),  # problems
]


@pytest.mark.parametrize(("background", "text"), PAIRS)
def test_text_contrast_is_at_least_4_5(background: str, text: str) -> None:
    assert contrast(background, text) >= 4.5


def test_heat_bins_and_numbers() -> None:
    assert [html.heat(g) for g in (None, -0.5, -0.1, -0.02, 0.0, 0.02, 0.1, 0.5)] == [
        "na",
        "w3",
        "w2",
        "w1",
        "n0",
        "b1",
        "b2",
        "b3",
    ]
    assert html.fmt(-0.1234, True) == "\u22120.123" and html.fmt(None) == "\u2013"


def test_markdown_keeps_no_raw_html_and_no_relative_link() -> None:
    out = html.markdown(
        "---\nlicense: x\n---\n# Card <script>alert(1)</script>\n"
        "[ok](https://example.org) [rel](../x.md) [js](javascript:alert(1))"
    )
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'href="https://example.org"' in out
    assert 'href="../x.md"' not in out and 'href="javascript' not in out
    assert "<summary>Front matter</summary>" in out


def test_a_page_has_a_skip_link_landmarks_and_escapes_its_title() -> None:
    page = html.page("<b>x</b>", "../", "history.html", "<p>body</p>", "site & co")
    assert '<a class="skip" href="#main">' in page and '<main id="main"' in page
    assert '<nav aria-label="Site">' in page and '<a href="../history.html" aria-current' in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "site &amp; co" in page
