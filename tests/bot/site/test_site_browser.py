"""The site in a real headless Chromium (Debian's, through Selenium): every page loads with
no console error and no broken link, the heatmap has one cell per (merge, leaf), the
keyboard reaches the main links, and the overview's screenshot is taken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.bot.site import browser
from tests.bot.site.conftest import MERGES, SiteRepo
from tests.conftest import run_bot

pytestmark = pytest.mark.skipif(bool(browser.available()), reason=str(browser.available()))


@pytest.fixture
def driver() -> Iterator[Any]:
    d = browser.chrome()
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def built(site_repo: SiteRepo, tmp_path: Path) -> Path:
    out = tmp_path / "public"
    proc = run_bot("site", "--out", str(out), cwd=site_repo.root)
    assert proc.returncode == 0, proc.stderr
    return out


def refs(driver: Any) -> list[str]:
    script = (
        "return [...document.querySelectorAll('[href],[src]')]"
        ".map(e => e.getAttribute('href') ?? e.getAttribute('src'))"
    )
    return list(driver.execute_script(script))


def test_every_page_loads_cleanly_and_every_link_resolves(built: Path, driver: Any) -> None:
    pages = sorted(built.rglob("*.html"))
    assert len(pages) == 12
    for page in pages:
        driver.get(page.as_uri())
        assert " · " in driver.title, page
        assert browser.severe(driver) == [], page
        assert driver.find_element("css selector", "main h1").text, page
        for ref in refs(driver):
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page.relative_to(built)}: {ref}"
            if parts.fragment:
                found = driver.execute_script(
                    "return !!document.getElementById(arguments[0])", parts.fragment
                )
                assert found or target != page, f"{page.relative_to(built)}: {ref}"


def test_the_heatmap_has_one_cell_per_merge_and_leaf(built: Path, driver: Any) -> None:
    driver.get((built / "history.html").as_uri())
    rows = driver.find_elements("css selector", "table.heat tbody tr")
    merges = driver.find_elements("css selector", "table.heat thead th[scope=col]")
    assert len(merges) == MERGES + 1  # the leaf column and one per merge
    assert len(rows) == 7  # six leaves and the general set
    cells = driver.find_elements("css selector", "table.heat tbody td.c")
    assert len(cells) == MERGES * len(rows)
    leaves = [r.find_element("css selector", "th").text for r in rows]
    assert len(set(leaves)) == len(leaves)
    assert all(len(r.find_elements("css selector", "td.c")) == MERGES for r in rows)


def test_the_keyboard_reaches_the_skip_link_and_the_main_links(built: Path, driver: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.get((built / "index.html").as_uri())
    reached = []
    for _ in range(8):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        reached.append(driver.execute_script("return document.activeElement.textContent.trim()"))
    assert reached[0] == "Skip to content"
    assert {"Overview", "History", "Taxonomy", "Releases"} <= set(reached)
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "focus is visible"
    driver.get((built / "index.html").as_uri())
    ActionChains(driver).send_keys(Keys.TAB).send_keys(Keys.ENTER).perform()
    assert driver.execute_script("return document.activeElement.id") == "main"


def test_the_overview_screenshot(built: Path, driver: Any, tmp_path: Path) -> None:
    shot = tmp_path / "site-overview.png"
    browser.screenshot(driver, built / "index.html", shot)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width = int.from_bytes(data[16:20], "big")
    assert width == 1280
    assert browser.severe(driver) == []
