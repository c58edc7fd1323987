"""Sticky comments: one bot comment per PR and kind, found by a hidden marker, edited in place.

The marker is the comment's first line, `<!-- taxonomy-bot:KIND -->`, and only
comments written by the bot's own login count, so nobody can plant a marker
that the bot would then treat as its own.

Everything PR-supplied that the bot quotes (leaf paths, messages, command lines,
generated text) goes through `inert`: one line, capped, inside a code span whose
fence is longer than any backtick run in it. In a code span GitHub renders no
mention, link, image, HTML or emphasis, and a one-line quote can never stand on a
line of its own, so it cannot forge a marker either. Markdown written by the bot's
own code from PR data (benchmark reports, release notes) goes through `neutralize`.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from bot.github.client import ApiError, BotError, Client

KINDS = ("validation", "generation", "training", "benchmark", "release", "approval")
# The project site's page each kind of comment links to (docs/site.md).
PAGES = {
    "validation": "taxonomy.html",
    "generation": "taxonomy.html",
    "training": "history.html",
    "benchmark": "history.html",
    "release": "releases/index.html",
    "approval": "index.html",
    "reply": "index.html",
}
SITE_LINK = {
    "taxonomy.html": "every leaf, its validation and generated samples",
    "history.html": "the accuracy matrix over merges, leaf by leaf",
    "releases/index.html": "every release with its evaluation",
    "index.html": "the current release and the last merges",
}
LIMIT = 65_000  # GitHub rejects comment bodies over 65,536 characters
FIELD = 200  # characters of one quoted PR-supplied field
REPLY = 6_000  # characters of a command reply (a comment can hold 10,000 command lines)

# Line breaks, other C0/C1 controls, zero-width and bidirectional formatting characters.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+")
_BACKTICKS = re.compile("`+")


class Sticky(NamedTuple):
    id: int
    body: str
    created: bool  # False: an existing comment was edited (or left as it was)


def site_url(configured: str | None, repository: str) -> str:
    """The project site: bot.yaml's github.site_url, else GitHub Pages' default address."""
    if configured:
        return configured if configured.endswith("/") else configured + "/"
    owner, _, name = repository.partition("/")
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{owner.lower()}.github.io/"
    return f"https://{owner.lower()}.github.io/{name}/"


def site_link(site: str, kind: str) -> str:
    """The footer line that links a comment to the site's page for its kind."""
    page = PAGES.get(kind, "index.html")
    return f"Project site: [{SITE_LINK[page]}]({site}{page})"


def marker(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown sticky comment kind {kind!r}")
    return f"<!-- taxonomy-bot:{kind} -->"


def inert(text: str, limit: int = FIELD, *, cell: bool = False) -> str:
    """PR-supplied text as one inert Markdown code span of at most `limit` characters.

    `cell`: the span sits in a table row, where GitHub splits cells at `|` even inside
    code spans unless it is escaped (the escape is not shown there; elsewhere it would be).
    """
    flat = " ".join(_INVISIBLE.sub(" ", text).split())
    if len(flat) > limit:
        flat = flat[: max(0, limit - 1)].rstrip() + "…"
    if not flat:
        return "*(empty)*"
    if cell:
        flat = flat.replace("|", r"\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(flat)), default=0) + 1)
    pad = " " if flat[0] == "`" or flat[-1] == "`" else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def cap(text: str, limit: int, note: str = "(cut: too long)") -> str:
    """Bot-written Markdown cut at a line break to fit `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(note) - 2)]
    return cut[: cut.rfind("\n") + 1 or len(cut)] + f"\n{note}"


def neutralize(markdown: str) -> str:
    """Markdown a workflow wrote with the bot's code from PR content (a benchmark report,
    release notes): its layout is kept (bare <details>/<summary> included), but no other
    HTML (so no marker), no image and no mention survives, whatever a leaf name or
    generated text put there.

    A leading marker line (report.md starts with the one its comment will carry) is
    removed first."""
    markdown = re.sub(r"\A\s*<!-- taxonomy-bot:[a-z-]+ -->[ \t]*\n?", "", markdown)
    # The collapsible sections the bot's own reports use are kept: bare <details> and
    # <summary> tags carry no link, image or script whatever surrounds them.
    markdown = re.sub(r"<(?!/?(?:details|summary)>)(?=[A-Za-z!/?])", "&lt;", markdown)
    markdown = markdown.replace("![", "!\\[")
    return re.sub(r"(?<![\w`])@(?=[A-Za-z0-9])", "@\u2060", markdown)


def _mine(client: Client, comment: dict[str, Any], login: str, kind: str) -> bool:
    author = (comment.get("user") or {}).get("login")
    return author == login and str(comment.get("body") or "").startswith(marker(kind))


def find(client: Client, number: int, kind: str, login: str) -> list[dict[str, Any]]:
    """The bot's comments of this kind on the PR, oldest first."""
    comments = client.paginate(client.repo("issues", number, "comments"))
    return sorted((c for c in comments if _mine(client, c, login, kind)), key=lambda c: c["id"])


def upsert(client: Client, number: int, kind: str, body: str, login: str, site: str) -> Sticky:
    """Create or edit the PR's comment of this kind, ending with a link to the project site
    (`site`, comments.site_url); extra copies (a race) are removed.

    A POST that fails with a 5xx may still have created the comment, so a failed
    create is followed by a fresh look before trying again: never a duplicate.
    """
    footer = f"\n\n{site_link(site, kind)}\n"
    text = f"{marker(kind)}\n{body.strip()}"
    if len(text) + len(footer) > LIMIT:
        text = text[: LIMIT - 200] + "\n\n*(truncated: the full report is in the run's logs)*"
    text += footer
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


def reply(client: Client, number: int, body: str, site: str) -> int:
    """A plain (non-sticky) comment: the answer to a command, capped at REPLY characters,
    ending with a link to the project site."""
    footer = f"\n\n{site_link(site, 'reply')}"
    body = cap(body, REPLY - len(footer)) + footer
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
