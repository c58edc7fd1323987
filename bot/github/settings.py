"""The bot's settings come from bot.yaml on the base branch, fetched through the API.

Never from the checkout: in a `pull_request` workflow the checkout is the PR's
merge commit, and a PR must not be able to grant itself rights or rename the
labels that gate GPU work.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.config import FILE, ConfigError, GithubConfig, load_config
from bot.github.client import ApiError, BotError, Client


def base_config(client: Client, ref: str) -> GithubConfig:
    """The `github` section of bot.yaml at `ref`; defaults if the file is absent there."""
    try:
        text = client.get(
            client.repo("contents", FILE),
            params={"ref": ref},
            accept="application/vnd.github.raw",
            raw=True,
        )
    except ApiError as exc:
        if exc.status == 404:
            return GithubConfig()
        raise
    # Reuse the strict loader (unknown keys and wrong types are located errors).
    with tempfile.TemporaryDirectory(prefix="bot-gh-") as tmp:
        Path(tmp, FILE).write_text(str(text), "utf-8")
        try:
            return load_config(Path(tmp)).github
        except ConfigError as exc:
            where = "; ".join(
                f"{FILE}@{ref}:{p.line}:{p.column}: {p.message}" for p in exc.problems
            )
            raise BotError(f"invalid {where}") from None
