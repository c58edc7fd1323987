"""`bot site --out DIR` end to end on a real git repository; the folder rules; every
relative link of every page resolves to a file of the site (read from the HTML)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.bot.site.conftest import MERGES, SiteRepo
from tests.conftest import run_bot


class Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value is not None:
                self.refs.append(value)
            if key == "id" and value:
                self.ids.add(value)


def broken_links(site: Path) -> list[str]:
    """Relative href/src values that do not lead to a file of the site (or an id there)."""
    found = []
    for page in site.rglob("*.html"):
        refs = Refs()
        refs.feed(page.read_text("utf-8"))
        for ref in refs.refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if parts.scheme or not target.is_file() or not target.is_relative_to(site.resolve()):
                found.append(f"{page.relative_to(site)}: {ref}")
            elif parts.fragment and target == page and parts.fragment not in refs.ids:
                found.append(f"{page.relative_to(site)}: {ref} (no such id)")
    return found


def test_bot_site_builds_and_prints_the_overview(site_repo: SiteRepo, tmp_path: Path) -> None:
    out = tmp_path / "public"
    proc = run_bot("site", "--out", str(out), cwd=site_repo.root / "taxonomy")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"site: {out / 'index.html'}"
    pages = sorted(str(p.relative_to(out)) for p in out.rglob("*.html"))
    assert {
        "index.html",
        "history.html",
        "taxonomy.html",
        "releases/index.html",
        "releases/0.1.0.html",
        "releases/0.2.0.html",
    } <= set(pages)
    assert len([p for p in pages if p.startswith("leaves/")]) == 6
    assert (out / "style.css").is_file() and (out / ".nojekyll").is_file()
    assert broken_links(out) == []
    history = (out / "history.html").read_text("utf-8")
    body = history.split('<table class="heat">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><th scope=\"row\">.*?</tr>", body)
    assert len(rows) == 7  # 6 leaves and the general set
    assert [len(re.findall(r'<td class="[^"]*\bc\b', r)) for r in rows] == [MERGES] * 7
    # Built again over itself: replaced whole.
    (out / "stale.html").write_text("old", "utf-8")
    assert run_bot("site", "--out", str(out), cwd=site_repo.root).returncode == 0
    assert not (out / "stale.html").exists()


def test_a_folder_the_site_did_not_write_is_refused(site_repo: SiteRepo, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", "utf-8")
    proc = run_bot("site", "--out", str(out), cwd=site_repo.root)
    assert proc.returncode == 2 and "was not written by bot site" in proc.stderr
    assert (out / "notes.txt").read_text("utf-8") == "keep me"


def test_the_default_folder_is_in_the_work_folder(site_repo: SiteRepo) -> None:
    proc = run_bot("site", cwd=site_repo.root)
    assert proc.returncode == 0, proc.stderr
    assert (site_repo.ws.layout.site / "index.html").is_file()
    assert "bot site: note:" not in proc.stderr


def test_bot_runs_site_stage_reuses_the_validation_and_names_the_overview(
    site_repo: SiteRepo,
) -> None:
    from bot.report.run import render
    from bot.stages.run import RunRequest, RunResult, Stage, _site
    from bot.stages.validate import ValidateRequest, validate

    ws = site_repo.ws
    result = RunResult(validation=validate(ws, ValidateRequest()))
    stage = Stage("site")
    _site(ws, RunRequest(), stage, result)
    assert result.site == ws.layout.site / "index.html" and result.site.is_file()
    assert stage.detail.startswith("12 pages, largest ")
    from io import StringIO

    from rich.console import Console

    buffer = StringIO()
    render(result, Console(file=buffer, width=200))
    assert buffer.getvalue().rstrip().splitlines()[-1] == f"site: {result.site}"
