"""What every page module gets: the data, the accuracy matrix, and the site's paths."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from bot.site.matrix import Matrix
from bot.site.model import SiteData


@dataclass(frozen=True)
class Context:
    data: SiteData
    matrix: Matrix


def leaf_href(path: str) -> str:
    """A leaf page's path from the site's root."""
    return "leaves/" + quote(path) + ".html"


def leaf_file(path: str) -> str:
    """A leaf page's file in the site (what leaf_href points at, unquoted)."""
    return f"leaves/{path}.html"


def release_file(version: str) -> str:
    return f"releases/{version}.html"


def depth(relpath: str) -> str:
    """The way back to the root from a page at `relpath`."""
    return "../" * relpath.count("/")
