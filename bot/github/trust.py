"""The trust model: which PRs may reach GPU work, and for which exact commit.

Trusted: the PR's branch lives in this repository and its author has write
access. Everything else waits, labelled, until a maintainer approves one head
SHA. The approval is recorded on GitHub itself, in the bot's `approval` sticky
comment (`<!-- taxonomy-bot:approved sha=... by=... -->`), so it survives
across workflow runs; the gate compares it with the PR's head as GitHub reports
it now, so any new push is unapproved by construction.

The same comment records the head the bot last saw (`<!-- taxonomy-bot:head
sha=... -->`); GitHub's `updated_at` of that comment says when, which is what
lets a bare `/ok-to-generate` be refused when the head moved after it was written.
GPU work is only for pull requests into the default branch: its workflow files,
code and settings are the only ones that ever run with a GPU or a secret.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from bot.config import GithubConfig
from bot.github import comments, permissions
from bot.github.client import ApiError, BotError, Client
from bot.github.commands import Level

_APPROVED = re.compile(
    r"^<!-- taxonomy-bot:approved sha=([0-9a-f]{40}) by=([A-Za-z0-9\[\]_.-]+) -->$"
)
_HEAD = re.compile(
    r"^<!-- taxonomy-bot:(?:head|approved) sha=([0-9a-f]{40})[ a-zA-Z0-9=\[\]_.-]* -->$"
)


class PullRequest(NamedTuple):
    number: int
    author: str
    head_sha: str
    head_repo: str  # "" when the fork was deleted
    base_ref: str
    state: str

    @property
    def short(self) -> str:
        return self.head_sha[:7]


class Approval(NamedTuple):
    sha: str
    by: str


class Verdict(NamedTuple):
    allowed: bool
    reason: str


class Seen(NamedTuple):
    """The head the bot recorded for a PR, and when GitHub says the record was written."""

    sha: str
    at: datetime


def timestamp(value: object) -> datetime | None:
    """An API timestamp (`2024-05-01T12:00:00Z`, with or without fractions)."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def pull_request(client: Client, number: int) -> PullRequest:
    try:
        data: dict[str, Any] = client.get(client.repo("pulls", number))
    except ApiError as exc:
        if exc.status == 404:
            raise BotError(f"pull request #{number} not found in {client.env.repository}") from None
        raise
    head = data.get("head") or {}
    return PullRequest(
        number=number,
        author=str((data.get("user") or {}).get("login") or ""),
        head_sha=str(head.get("sha") or ""),
        head_repo=str((head.get("repo") or {}).get("full_name") or ""),
        base_ref=str((data.get("base") or {}).get("ref") or ""),
        state=str(data.get("state") or ""),
    )


def into_default(client: Client, pr: PullRequest) -> Verdict:
    """Only PRs into the default branch get GPU work: another branch's workflows, code and
    bot.yaml were never reviewed for that (and the runner groups admit main's only)."""
    default = client.default_branch()
    if pr.base_ref != default:
        return Verdict(False, f"#{pr.number} targets `{pr.base_ref}`, not `{default}`")
    return Verdict(True, f"#{pr.number} targets `{default}`")


def trusted(client: Client, cfg: GithubConfig, pr: PullRequest) -> Verdict:
    if pr.head_repo != client.env.repository:
        return Verdict(False, f"#{pr.number} comes from a fork ({pr.head_repo or 'deleted'})")
    if permissions.level(client, cfg, pr.author) < Level.WRITE:
        return Verdict(False, f"@{pr.author} has no write access to {client.env.repository}")
    return Verdict(True, f"@{pr.author} has write access and the branch is in this repository")


def approval(client: Client, cfg: GithubConfig, number: int) -> Approval | None:
    body = comments.read(client, number, "approval", client.login(cfg.bot_login))
    for line in (body or "").splitlines():
        found = _APPROVED.match(line.strip())
        if found:
            return Approval(found.group(1), found.group(2))
    return None


def head_seen(client: Client, cfg: GithubConfig, number: int) -> Seen | None:
    """The head recorded in the approval comment, at the comment's last edit (GitHub's clock)."""
    found = comments.find(client, number, "approval", client.login(cfg.bot_login))
    if not found:
        return None
    at = timestamp(found[0].get("updated_at") or found[0].get("created_at"))
    for line in str(found[0].get("body") or "").splitlines():
        head = _HEAD.match(line.strip())
        if head and at is not None:
            return Seen(head.group(1), at)
    return None


def gate(client: Client, cfg: GithubConfig, number: int, sha: str | None = None) -> Verdict:
    """May GPU work run for PR `number` (at `sha`, when given)? Fail closed."""
    pr = pull_request(client, number)
    if pr.state != "open":
        return Verdict(False, f"#{number} is {pr.state}")
    target = into_default(client, pr)
    if not target.allowed:
        return target
    if sha and sha != pr.head_sha:
        return Verdict(False, f"{sha[:7]} is no longer the head of #{number} ({pr.short} is)")
    who = trusted(client, cfg, pr)
    if who.allowed:
        return who
    found = approval(client, cfg, number)
    if found and found.sha == pr.head_sha:
        return Verdict(True, f"{pr.short} was approved by @{found.by}")
    if found:
        return Verdict(
            False, f"{who.reason}; @{found.by} approved {found.sha[:7]}, but the head is {pr.short}"
        )
    return Verdict(False, f"{who.reason}; {pr.short} is not approved by a maintainer")


def awaiting_body(
    cfg: GithubConfig, pr: PullRequest, reason: str, previous: Approval | None
) -> str:
    lines = [
        f"<!-- taxonomy-bot:head sha={pr.head_sha} -->",
        "### Waiting for a maintainer",
        "",
        f"GPU work (generation, training, benchmarks) does not run for this PR yet: {reason}.",
        f"A maintainer can comment `/ok-to-generate {pr.head_sha}` (or add the "
        f"`{cfg.approve_label}` label) after reviewing that commit. Every new push needs a "
        "new approval.",
    ]
    if previous and previous.sha != pr.head_sha:
        lines += [
            "",
            f"The approval of `{previous.sha[:7]}` by @{previous.by} does not carry over to "
            f"`{pr.short}`.",
        ]
    return "\n".join(lines)


def approve(client: Client, cfg: GithubConfig, pr: PullRequest, by: str) -> None:
    """Record approval of the PR's head SHA, as GitHub reports it at this moment."""
    body = "\n".join(
        [
            f"<!-- taxonomy-bot:approved sha={pr.head_sha} by={by} -->",
            "### Approved for GPU work",
            "",
            f"@{by} approved commit `{pr.head_sha}`. A new push revokes this approval.",
        ]
    )
    comments.upsert(client, pr.number, "approval", body, client.login(cfg.bot_login),
                    comments.site_url(cfg.site_url, client.env.repository))  # fmt: skip
    set_label(client, pr.number, cfg.awaiting_label, present=False)


def mark_awaiting(client: Client, cfg: GithubConfig, pr: PullRequest, reason: str) -> None:
    previous = approval(client, cfg, pr.number)
    body = awaiting_body(cfg, pr, reason, previous)
    comments.upsert(client, pr.number, "approval", body, client.login(cfg.bot_login),
                    comments.site_url(cfg.site_url, client.env.repository))  # fmt: skip
    set_label(client, pr.number, cfg.awaiting_label, present=True)


def set_label(client: Client, number: int, label: str, present: bool) -> None:
    if present:
        client.post(client.repo("issues", number, "labels"), {"labels": [label]})
        return
    try:
        client.delete(client.repo("issues", number, "labels", quote(label, safe="")))
    except ApiError as exc:
        if exc.status != 404:  # it was not there: fine
            raise
