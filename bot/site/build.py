"""Render every page and write the site: into a temporary folder beside `out`, then renamed
into place, so a reader (or GitHub Pages' upload) never sees half a site.

`out` is the site's own folder: it is replaced whole. A folder that exists, is not empty
and was not written by `bot site` (it has no MARKER file) is refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bot.site import history, leaf, overview, release, taxonomy
from bot.site.context import Context
from bot.site.html import css
from bot.site.matrix import build
from bot.site.model import SiteData

MARKER = ".bot-site"


class SiteError(Exception):
    """The output folder cannot be written."""


def pages(data: SiteData) -> dict[str, str]:
    """Every page's HTML by its path in the site (plus the style sheet)."""
    ctx = Context(data, build(data.merges, [leaf.path for leaf in data.leaves]))
    found = {"style.css": css(), ".nojekyll": "", MARKER: "written by bot site\n"}
    found |= overview.render(ctx)
    found |= history.render(ctx)
    found |= taxonomy.render(ctx)
    found |= leaf.render(ctx)
    found |= release.render(ctx)
    return found


def write(site: dict[str, str], out: Path) -> None:
    """Write `site` as the folder `out`, replacing an earlier site there."""
    out = out.absolute()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise SiteError(f"{out} exists and was not written by bot site; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        made: set[str] = set()
        for rel, text in site.items():
            path = tmp / rel
            if path.parent != tmp and str(path.parent) not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(str(path.parent))
            path.write_text(text, "utf-8")
        os.chmod(tmp, 0o755)
        old = out.with_name(f".{out.name}.old.{os.getpid()}")
        if out.exists():
            os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
