"""Every bot comment ends with a link to the project site's page for its kind (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from bot.config import GithubConfig
from bot.github.comments import site_link, site_url
from tests.bot.github.conftest import Run, World
from tests.bot.github.test_gh_commands import command

SITE = "https://owner.github.io/taxonomy/"


def links(markdown: str) -> list[str]:
    import re

    return re.findall(r'<a href="([^"]+)"', MarkdownIt("commonmark").render(markdown))


def test_the_site_address_is_configured_or_github_pages_default() -> None:
    assert site_url(None, "Owner/taxonomy") == "https://owner.github.io/taxonomy/"
    assert site_url(None, "owner/Owner.github.io") == "https://owner.github.io/"
    assert site_url("https://models.example.org/site", "o/r") == "https://models.example.org/site/"
    assert site_link(SITE, "benchmark").endswith(f"({SITE}history.html)")
    assert site_link(SITE, "validation").endswith(f"({SITE}taxonomy.html)")
    assert site_link(SITE, "release").endswith(f"({SITE}releases/index.html)")
    for bad in ("http://plain.example", "https://x.example/a b", "https://x.example/)[y]("):
        with pytest.raises(ValueError, match="site_url"):
            GithubConfig(site_url=bad)


def test_sticky_comments_and_replies_link_to_their_page(
    world: World, run_gh: Run, tmp_path: Path
) -> None:
    n = world.pr("writer")
    report = tmp_path / "report.md"
    report.write_text("## Benchmark\n\n| leaf | delta |\n|---|---|\n| a | -0.1 |\n")
    assert run_gh("post-benchmark", "--pr", str(n), "--input", str(report))[0] == 0
    (body,) = [
        c["body"]
        for c in world.gh.comments(n)
        if c["body"].startswith("<!-- taxonomy-bot:benchmark -->")
    ]
    assert links(body)[-1] == f"{SITE}history.html"
    assert body.rstrip().splitlines()[-1].startswith("Project site: [the accuracy matrix")
    reply = command(world, run_gh, n, "writer", "/help")
    assert links(reply)[-1] == f"{SITE}index.html"
