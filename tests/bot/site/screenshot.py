"""The README's screenshot of the overview, from a realistic workspace: this repository's own
taxonomy in a temporary git repository, with generation records, eight kept retrain reports
(one of an older format) and two releases (tests/bot/site/synth.py).

    .venv/bin/python -m tests.bot.site.screenshot [docs/site-overview.png]
    .venv/bin/python -m tests.bot.site.screenshot --site .bot/continual/site docs/site-overview.png

The browser test takes the same screenshot into a temporary folder. With --site it shoots a
site already built from real runs (`bot site --work ... --out ...`) instead.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bot.stages.site import SiteRequest, site
from bot.workspace import Workspace
from tests.bot.site import browser, synth
from tests.gitrepo import Repo

ROOT = Path(__file__).resolve().parents[3]
MERGES = 8


def realistic_site(folder: Path) -> Path:
    """A repository with this project's taxonomy and a plausible history; its site's folder."""
    repo = Repo(folder / "taxonomy-repo")
    shutil.copytree(ROOT / "taxonomy", repo.path / "taxonomy")
    repo.commit("the starter taxonomy")
    ws = Workspace.open(repo.path)
    leaves = sorted(str(p.parent.relative_to(ws.taxonomy)) for p in ws.leaf_files())
    synth.workspace(repo.path, ws.layout.work, leaves, merges=MERGES, seed=3)
    out = folder / "site"
    site(ws, SiteRequest(out=out, title="taxonomy-bot"))
    return out


def main(argv: list[str]) -> int:
    built = None
    if argv[:1] == ["--site"] and len(argv) >= 2:
        built, argv = Path(argv[1]).absolute(), argv[2:]
    target = Path(argv[0] if argv else ROOT / "docs" / "site-overview.png").absolute()
    why = browser.available()
    if why:
        print(f"screenshot: {why}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="site-shot-") as tmp:
        out = built or realistic_site(Path(tmp))
        driver = browser.chrome()
        try:
            browser.screenshot(driver, out / "index.html", target)
        finally:
            driver.quit()
    print(f"screenshot: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
