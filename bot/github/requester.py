"""Who asked for a release, established inside the release job from what GitHub records.

A dispatch input naming the requester proves nothing: any workflow of the
repository can dispatch `release.yml` as `github-actions[bot]` with any inputs. So:

- started by a person (the Actions UI, `gh workflow run`): GitHub's `GITHUB_ACTOR`
  (and `GITHUB_TRIGGERING_ACTOR`, who re-ran it) must maintain the repository;
- started by the bot: the `comment` input names a PR comment, which is read through
  the API: it must be on that PR, recent, carry a `/release` command line, and its
  author (as GitHub reports it) must maintain the repository.

Rights are the API's permission plus the grants in the default branch's bot.yaml,
exactly as for PR commands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from bot.config import GithubConfig
from bot.github import permissions
from bot.github.client import ApiError, Client
from bot.github.commands import Command, Level, parse
from bot.github.trust import Verdict, timestamp

FRESH = timedelta(hours=1)  # a /release comment older than this is not a request any more


class Actors(NamedTuple):
    actor: str  # GITHUB_ACTOR: whose action started the run
    triggering: str  # GITHUB_TRIGGERING_ACTOR: who started this attempt (a re-run)


def is_bot(login: str) -> bool:
    return login.endswith("[bot]")


def authorize(
    client: Client,
    cfg: GithubConfig,
    who: Actors,
    pr: int | None,
    comment_id: int | None,
    now: datetime | None = None,
) -> Verdict:
    """May this run release? Fail closed: anything unproven is a refusal."""
    for person in {who.actor, who.triggering} - {""}:
        if not is_bot(person):
            level = permissions.level(client, cfg, person)
            if level < Level.MAINTAIN:
                return Verdict(False, f"@{person} has {level.name.lower()} access; "
                                      "releasing needs maintain")  # fmt: skip
    if not who.actor:
        return Verdict(False, "GITHUB_ACTOR is not set: not a workflow run")
    if not is_bot(who.actor):
        return Verdict(True, f"started by @{who.actor}, who maintains the repository")
    if comment_id is None or pr is None:
        return Verdict(False, f"started by {who.actor} without a `/release` comment to check")
    return from_comment(client, cfg, pr, comment_id, now or datetime.now(UTC))


def from_comment(
    client: Client, cfg: GithubConfig, pr: int, comment_id: int, now: datetime
) -> Verdict:
    try:
        data = client.get(client.repo("issues", "comments", comment_id))
    except ApiError as exc:
        if exc.status == 404:
            return Verdict(False, f"comment {comment_id} does not exist")
        raise
    author = str((data.get("user") or {}).get("login") or "")
    created = timestamp(data.get("created_at"))
    on = str(data.get("issue_url") or "").rstrip("/").rsplit("/", 1)[-1]
    if on != str(pr):
        return Verdict(False, f"comment {comment_id} is not on #{pr}")
    if created is None or not timedelta(0) <= now - created <= FRESH:
        return Verdict(False, f"comment {comment_id} is not a request of the last hour")
    asked = any(
        isinstance(c, Command) and c.name == "release"
        for c in parse(str(data.get("body") or ""), cfg.bot_name)
    )
    if not asked or not author or is_bot(author):
        return Verdict(False, f"comment {comment_id} is not a `/release` request by a person")
    level = permissions.level(client, cfg, author)
    if level < Level.MAINTAIN:
        return Verdict(False, f"@{author} has {level.name.lower()} access; releasing needs "
                              "maintain")  # fmt: skip
    return Verdict(True, f"@{author} asked in comment {comment_id} on #{pr} and maintains "
                         "the repository")  # fmt: skip
