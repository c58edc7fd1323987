"""`bot site`: the project site, static pages of the model's history (bot/stages/site.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands._common import add_work, open_workspace


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "site",
        help="build the project site: releases, the accuracy matrix over merges, every leaf",
        description="Build a static site (plain HTML, CSS and SVG: it works opened from disk "
        "and on GitHub Pages) from the repository and the work folder: the current release and "
        "its evaluation, the accuracy matrix over merges with forgetting marked, every leaf "
        "with its validation, generation yield, samples and score over time, and one page per "
        "release. The folder is replaced whole.",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="the site's folder (<work>/site)")
    p.add_argument("--title", default="", help="the site's name (default: the repository's)")
    add_work(p)


def run(args: argparse.Namespace) -> int:
    from bot.commands._common import usage
    from bot.stages.errors import StageFailed, UsageError
    from bot.stages.site import SiteRequest, site

    ws = open_workspace("site", args.work)
    if isinstance(ws, int):
        return ws
    out = (args.out or ws.layout.site).absolute()
    try:
        result = site(ws, SiteRequest(out=out, title=args.title))
    except UsageError as exc:
        return usage("site", str(exc))
    except StageFailed as exc:
        print(f"bot site: {exc}", file=sys.stderr)
        return exc.code
    for problem in result.problems[:20]:
        print(f"bot site: note: {problem}", file=sys.stderr)
    page, size = result.largest
    print(f"{result.pages} pages in {result.seconds:.1f} s (largest {page}, {size / 1024:.0f} KiB)")
    print(f"site: {result.overview}")
    return 0
