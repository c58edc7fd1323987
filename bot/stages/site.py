"""Site: the project site, static pages built from the repository and the work folder.

    result = site(ws, SiteRequest(out=ws.layout.site))
    result.overview, result.pages, result.problems

The taxonomy is validated (or the validate stage's report reused), then bot/site/ reads
the releases, the kept retrain reports, the generation store and the exported data, and
writes the pages into `out`, replacing an earlier site there whole. Bad or missing data
shows on the pages and in `problems`; only an output folder that cannot be written stops it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.stages.errors import StageFailed, UsageError
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.validation.engine import Report


@dataclass(frozen=True)
class SiteRequest:
    out: Path  # the site's folder (replaced whole)
    validation: Report | None = None  # the whole taxonomy's report, when already made
    title: str = ""  # default: the repository folder's name


@dataclass(frozen=True)
class SiteResult:
    pages: int  # HTML pages written
    overview: Path  # index.html
    seconds: float
    problems: list[str] = field(default_factory=list)  # data the site could not read
    largest: tuple[str, int] = ("", 0)  # the largest page and its size in bytes


def site(ws: Workspace, req: SiteRequest) -> SiteResult:
    """Build and write the site. Raises UsageError when `out` is not a site's folder."""
    from bot.site.build import SiteError, pages, write
    from bot.site.collect import collect

    start = time.monotonic()
    report = req.validation
    if report is None:
        from bot.stages.validate import ValidateRequest, validate

        report = validate(ws, ValidateRequest())
    data = collect(ws, report, req.title)
    built = pages(data)
    try:
        write(built, req.out)
    except SiteError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise StageFailed("site", f"cannot write the site to {req.out}: {exc}") from None
    html = {k: len(v.encode()) for k, v in built.items() if k.endswith(".html")}
    largest = max(html.items(), key=lambda kv: kv[1]) if html else ("", 0)
    return SiteResult(len(html), req.out.absolute() / "index.html",
                      time.monotonic() - start, data.problems, largest)  # fmt: skip
