"""The trust model: which PRs may reach GPU work, and for which exact commit.

Trusted: the PR's branch lives in this repository and its author has write
access. Everything else waits, labelled, until a maintainer approves one head
SHA. The approval is recorded on GitHub itself, in the bot's `approval` sticky
comment (`<!-- taxonomy-bot:approved sha=... by=... -->`), so it survives
across workflow runs; the gate compares it with the PR's head as GitHub reports
it now, so any new push is unapproved by construction.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple
from urllib.parse import quote

from bot.config import GithubConfig
from bot.github import comments, permissions
from bot.github.client import ApiError, BotError, Client
from bot.github.commands import Level

_APPROVED = re.compile(
    r"^<!-- taxonomy-bot:approved sha=([0-9a-f]{40}) by=([A-Za-z0-9\[\]_.-]+) -->$"
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


def gate(client: Client, cfg: GithubConfig, number: int, sha: str | None = None) -> Verdict:
    """May GPU work run for PR `number` (at `sha`, when given)? Fail closed."""
    pr = pull_request(client, number)
    if pr.state != "open":
        return Verdict(False, f"#{number} is {pr.state}")
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
        "### Waiting for a maintainer",
        "",
        f"GPU work (generation, training, benchmarks) does not run for this PR yet: "
        f"{comments.escape(reason)}.",
        f"A maintainer can comment `/ok-to-generate` (or add the `{cfg.approve_label}` label) "
        f"to approve commit `{pr.head_sha}`. Every new push needs a new approval.",
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
    comments.upsert(client, pr.number, "approval", body, client.login(cfg.bot_login))
    set_label(client, pr.number, cfg.awaiting_label, present=False)


def mark_awaiting(client: Client, cfg: GithubConfig, pr: PullRequest, reason: str) -> None:
    previous = approval(client, cfg, pr.number)
    body = awaiting_body(cfg, pr, reason, previous)
    comments.upsert(client, pr.number, "approval", body, client.login(cfg.bot_login))
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
