"""Carry out the commands of one PR comment: check rights, gate GPU work, start it, reply.

Each comment gets one reaction and one reply listing, per command, what was
started or why it was refused. Refusals are ordinary outcomes (exit 0).
"""

from __future__ import annotations

from typing import NamedTuple, cast

from bot.config import GithubConfig
from bot.github import comments, permissions, trust
from bot.github.client import Client
from bot.github.commands import SPECS, Command, Level, Unknown, help_table, parse
from bot.github.start import Action, start


class Outcome(NamedTuple):
    ok: bool
    text: str


def run_commands(
    client: Client, number: int, comment_id: int, body: str, login: str
) -> list[Outcome] | None:
    """None when the comment holds no command (the bot stays silent)."""
    pr = trust.pull_request(client, number)
    cfg = trust_cfg(client, pr)
    items = parse(body, cfg.bot_name)
    if not items:
        return None
    level = permissions.level(client, cfg, login)
    outcomes = [one(client, cfg, pr, item, login, level) for item in items]
    show_help = any(isinstance(i, Unknown) or i.name == "help" for i in items)
    lines = [f"@{login}:", ""] + [f"- {'✅' if o.ok else '⛔'} {o.text}" for o in outcomes]
    if show_help:
        lines += ["", help_table(cfg.bot_name)]
    comments.reply(client, number, "\n".join(lines))
    reaction = "+1" if all(o.ok for o in outcomes) else "confused"
    if any(isinstance(i, Unknown) for i in items):
        reaction = "confused"
    comments.react(client, comment_id, reaction)
    return outcomes


def trust_cfg(client: Client, pr: trust.PullRequest) -> GithubConfig:
    from bot.github.settings import base_config

    return base_config(client, pr.base_ref)


def one(
    client: Client,
    cfg: GithubConfig,
    pr: trust.PullRequest,
    item: Command | Unknown,
    login: str,
    level: Level,
) -> Outcome:
    if isinstance(item, Unknown):
        return Outcome(False, f"`{comments.escape(item.text[:80])}`: {item.reason}")
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
        return approve(client, cfg, pr, item, login)
    if name == "release":
        inputs = {"pr": str(pr.number), "requested_by": login}
        started = start(client, cfg, "release", pr.base_ref, inputs, pr.number)
        return Outcome(True, f"`/release`: {started.describe()}")
    return gpu(client, cfg, pr, cast(Action, name), login)


def gpu(
    client: Client, cfg: GithubConfig, pr: trust.PullRequest, action: Action, login: str
) -> Outcome:
    verdict = trust.gate(client, cfg, pr.number, pr.head_sha)
    if not verdict.allowed:
        return Outcome(False, f"`/{action}` refused: {comments.escape(verdict.reason)}")
    inputs = {"pr": str(pr.number), "sha": pr.head_sha, "requested_by": login}
    started = start(client, cfg, action, pr.base_ref, inputs, pr.number)
    return Outcome(True, f"`/{action}` for `{pr.short}`: {started.describe()}")


def approve(
    client: Client, cfg: GithubConfig, pr: trust.PullRequest, item: Command, login: str
) -> Outcome:
    if item.args and not pr.head_sha.startswith(item.args[0]):
        return Outcome(
            False,
            f"`/ok-to-generate {item.args[0]}` refused: the head is now `{pr.short}`; "
            "review the new commits and approve again",
        )
    if pr.state != "open":
        return Outcome(False, f"`/ok-to-generate` refused: #{pr.number} is {pr.state}")
    if not trust.trusted(client, cfg, pr).allowed:
        trust.approve(client, cfg, pr, login)
        note = f"approved `{pr.head_sha}` (a new push revokes it)"
    else:
        note = "no approval needed (trusted author)"
    generated = gpu(client, cfg, pr, "generate", login)
    return Outcome(generated.ok, f"`/ok-to-generate`: {note}; {generated.text}")
