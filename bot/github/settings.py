"""The bot's settings come from bot.yaml on the default branch, fetched through the API.

Never from the checkout (in a `pull_request` workflow that is the PR's merge
commit) and never from a PR's base branch when that is another branch: a PR must
not be able to grant itself rights, and neither may whoever can push a branch.
A PR's own bot.yaml is only ever validated (`problems_at`), never applied.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.config import FILE, Config, ConfigError, GithubConfig, load_config
from bot.github.client import ApiError, BotError, Client
from bot.validation.problems import Problem

MAX_BYTES = 256 * 1024  # bot.yaml is a few KiB; a PR's huge one is refused, not parsed


def default_config(client: Client) -> GithubConfig:
    """The `github` section of bot.yaml on the default branch; defaults where it is absent."""
    ref = client.default_branch()
    text = fetch(client, client.env.repository, ref)
    if text is None:
        return GithubConfig()
    try:
        return parse(text).github
    except ConfigError as exc:
        where = "; ".join(f"{FILE}@{ref}:{p.line}:{p.column}: {p.message}" for p in exc.problems)
        raise BotError(f"invalid {where}") from None


def fetch(client: Client, repository: str, ref: str) -> str | None:
    """bot.yaml of `repository` at `ref` through the contents API; None where absent."""
    try:
        text = client.get(
            f"/repos/{repository}/contents/{FILE}",
            params={"ref": ref},
            accept="application/vnd.github.raw",
            raw=True,
        )
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    return str(text)


def parse(text: str) -> Config:
    """The strict loader (unknown keys, wrong types: located errors), on text not a checkout."""
    with tempfile.TemporaryDirectory(prefix="bot-gh-") as tmp:
        Path(tmp, FILE).write_text(text, "utf-8")
        return load_config(Path(tmp))


def problems_at(client: Client, repository: str, ref: str) -> list[Problem]:
    """What is wrong with a PR's bot.yaml (it gets validated, never applied)."""
    text = fetch(client, repository, ref)
    if text is None:
        return []
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        from bot.validation.problems import error

        return [error("config", f"bot.yaml is larger than {MAX_BYTES // 1024} KiB", 1, 1)]
    try:
        parse(text)
    except ConfigError as exc:
        return list(exc.problems)
    return []
