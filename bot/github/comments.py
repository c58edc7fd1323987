"""Sticky comments: one bot comment per PR and kind, found by a hidden marker, edited in place.

The marker is the comment's first line, `<!-- taxonomy-bot:KIND -->`, and only
comments written by the bot's own login count, so nobody can plant a marker
that the bot would then treat as its own. Everything the bot renders from PR
data goes through `escape`, which turns `<` into `&lt;`: data can never forge a
marker either.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from bot.github.client import ApiError, BotError, Client

KINDS = ("validation", "generation", "training", "benchmark", "release", "approval")
LIMIT = 65_000  # GitHub rejects comment bodies over 65,536 characters


class Sticky(NamedTuple):
    id: int
    body: str
    created: bool  # False: an existing comment was edited (or left as it was)


def marker(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown sticky comment kind {kind!r}")
    return f"<!-- taxonomy-bot:{kind} -->"


def escape(text: str) -> str:
    """PR-supplied text as inert Markdown: no HTML, no comment markers, no table breaks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", "").replace("\n", " ")


def neutralize(markdown: str) -> str:
    """A Markdown file from a workflow (it processed PR content): keep it, drop any markers.

    A leading marker line (report.md starts with the one its comment will carry) is
    removed; any other comment opener is made inert text."""
    markdown = re.sub(r"\A\s*<!-- taxonomy-bot:[a-z-]+ -->[ \t]*\n?", "", markdown)
    return re.sub(r"<!--", "&lt;!--", markdown)


def _mine(client: Client, comment: dict[str, Any], login: str, kind: str) -> bool:
    author = (comment.get("user") or {}).get("login")
    return author == login and str(comment.get("body") or "").startswith(marker(kind))


def find(client: Client, number: int, kind: str, login: str) -> list[dict[str, Any]]:
    """The bot's comments of this kind on the PR, oldest first."""
    comments = client.paginate(client.repo("issues", number, "comments"))
    return sorted((c for c in comments if _mine(client, c, login, kind)), key=lambda c: c["id"])


def upsert(client: Client, number: int, kind: str, body: str, login: str) -> Sticky:
    """Create or edit the PR's comment of this kind; extra copies (a race) are removed.

    A POST that fails with a 5xx may still have created the comment, so a failed
    create is followed by a fresh look before trying again: never a duplicate.
    """
    text = f"{marker(kind)}\n{body.strip()}\n"
    if len(text) > LIMIT:
        text = text[: LIMIT - 80] + "\n\n*(truncated: the full report is in the run's logs)*\n"
    for attempt in range(3):
        existing = find(client, number, kind, login)
        for extra in existing[1:]:
            client.delete(client.repo("issues", "comments", extra["id"]))
        if existing:
            first = existing[0]
            if first.get("body") != text:
                client.patch(client.repo("issues", "comments", first["id"]), {"body": text})
            return Sticky(int(first["id"]), text, created=False)
        try:
            made = client.post(client.repo("issues", number, "comments"), {"body": text})
            return Sticky(int(made["id"]), text, created=True)
        except ApiError as exc:
            if exc.status < 500 or attempt == 2:
                raise
    raise BotError("unreachable")  # pragma: no cover - the loop returns or raises


def read(client: Client, number: int, kind: str, login: str) -> str | None:
    found = find(client, number, kind, login)
    return str(found[0]["body"]) if found else None


def reply(client: Client, number: int, body: str) -> int:
    """A plain (non-sticky) comment: the answer to a command."""
    return int(client.post(client.repo("issues", number, "comments"), {"body": body})["id"])


def react(client: Client, comment_id: int, content: str) -> bool:
    """Add a reaction; False where the server has no reactions endpoint (a nicety, not a result)."""
    try:
        client.post(
            client.repo("issues", "comments", comment_id, "reactions"), {"content": content}
        )
    except ApiError as exc:
        if exc.status in (404, 410):
            return False
        raise
    return True
