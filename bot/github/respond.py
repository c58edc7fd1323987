"""Carry out the commands of one PR comment: check rights, gate GPU work, start it, reply.

Each comment gets one reaction and one reply listing, per command, what was
started or why it was refused. Refusals are ordinary outcomes (exit 0). The
comment is read back from the API (author, body, creation time), settings come
from the default branch, and the reply is capped: a comment of 10,000 command
lines gets a short answer, not a 458k-character one.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast

from bot.config import GithubConfig
from bot.github import comments, permissions, trust
from bot.github.client import BotError, Client
from bot.github.commands import SPECS, Command, Level, Unknown, help_table, parse
from bot.github.settings import default_config
from bot.github.start import Action, start

MAX_COMMANDS = 10  # command lines carried out per comment; the rest are named, not run


class Outcome(NamedTuple):
    ok: bool
    text: str


class Comment(NamedTuple):
    id: int
    author: str
    body: str
    created: datetime


def read_comment(client: Client, comment_id: int) -> Comment:
    data = client.get(client.repo("issues", "comments", comment_id))
    created = trust.timestamp(data.get("created_at"))
    author = str((data.get("user") or {}).get("login") or "")
    if created is None or not author:
        raise BotError(f"comment {comment_id} has no author or creation time")
    return Comment(comment_id, author, str(data.get("body") or ""), created)


def run_commands(client: Client, number: int, comment: Comment) -> list[Outcome] | None:
    """None when the comment holds no command (the bot stays silent)."""
    cfg = default_config(client)
    items = parse(comment.body, cfg.bot_name)
    if not items:
        return None
    pr = trust.pull_request(client, number)
    level = permissions.level(client, cfg, comment.author)
    outcomes = [one(client, cfg, pr, item, comment, level) for item in items[:MAX_COMMANDS]]
    lines = [f"@{comment.author}:", ""]
    lines += [f"- {'✅' if o.ok else '⛔'} {o.text}" for o in outcomes]
    if len(items) > MAX_COMMANDS:
        lines.append(f"- ⛔ {len(items) - MAX_COMMANDS} more command line(s) ignored: "
                     f"at most {MAX_COMMANDS} per comment")  # fmt: skip
    if any(isinstance(i, Unknown) or i.name == "help" for i in items):
        lines += ["", help_table(cfg.bot_name)]
    comments.reply(
        client, number, "\n".join(lines), comments.site_url(cfg.site_url, client.env.repository)
    )
    unknown = any(isinstance(i, Unknown) for i in items)
    comments.react(client, comment.id, "+1" if all(o.ok for o in outcomes) and not unknown
                   else "confused")  # fmt: skip
    return outcomes


def one(
    client: Client,
    cfg: GithubConfig,
    pr: trust.PullRequest,
    item: Command | Unknown,
    comment: Comment,
    level: Level,
) -> Outcome:
    if isinstance(item, Unknown):
        return Outcome(False, f"{comments.inert(item.text, 80)}: {item.reason}")
    name = item.name
    needs = SPECS[name].needs
    if level < needs:
        return Outcome(
            False,
            f"`/{name}` needs {needs.name.lower()} access; you have {level.name.lower()}",
        )
    if name == "help":
        return Outcome(True, "`/help`: the commands are below")
    if name == "ok-to-generate":
        return approve(client, cfg, pr, item, comment)
    if name == "release":
        # The release job finds the requester from this comment, through the API.
        inputs = {"pr": str(pr.number), "comment": str(comment.id)}
        started = start(client, cfg, "release", client.default_branch(), inputs, pr.number)
        return Outcome(True, f"`/release`: {started.describe()}")
    return gpu(client, cfg, pr, cast(Action, name), comment.author)


def gpu(
    client: Client, cfg: GithubConfig, pr: trust.PullRequest, action: Action, login: str
) -> Outcome:
    verdict = trust.gate(client, cfg, pr.number, pr.head_sha)
    if not verdict.allowed:
        return Outcome(False, f"`/{action}` refused: {verdict.reason}")
    inputs = {"pr": str(pr.number), "sha": pr.head_sha, "requested_by": login}
    started = start(client, cfg, action, client.default_branch(), inputs, pr.number)
    return Outcome(True, f"`/{action}` for `{pr.head_sha}`: {started.describe()}")


def approve(
    client: Client, cfg: GithubConfig, pr: trust.PullRequest, item: Command, comment: Comment
) -> Outcome:
    refused = approval_refused(client, cfg, pr, item, comment)
    if refused:
        return Outcome(False, f"`/ok-to-generate` refused: {refused}")
    if not trust.trusted(client, cfg, pr).allowed:
        trust.approve(client, cfg, pr, comment.author)
        note = f"approved `{pr.head_sha}` (a new push revokes it)"
    else:
        note = f"no approval needed for `{pr.head_sha}` (trusted author)"
    generated = gpu(client, cfg, pr, "generate", comment.author)
    return Outcome(generated.ok, f"`/ok-to-generate`: {note}; {generated.text}")


def approval_refused(
    client: Client, cfg: GithubConfig, pr: trust.PullRequest, item: Command, comment: Comment
) -> str:
    """Why this approval must not apply to the PR's current head ("" when it may)."""
    if pr.state != "open":
        return f"#{pr.number} is {pr.state}"
    target = trust.into_default(client, pr)
    if not target.allowed:
        return target.reason
    if item.args:
        if item.args[0] != pr.head_sha:
            return (
                f"the head is now `{pr.head_sha}`, not `{item.args[0]}`; "
                "review the new commits and approve again"
            )
        return ""
    if trust.trusted(client, cfg, pr).allowed:
        return ""
    seen = trust.head_seen(client, cfg, pr.number)
    if seen is None or seen.sha != pr.head_sha or seen.at >= comment.created:
        return (
            f"the head (now `{pr.head_sha}`) may have moved after your comment was written; "
            f"review that commit and comment `/ok-to-generate {pr.head_sha}`"
        )
    return ""
