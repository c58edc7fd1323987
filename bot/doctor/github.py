"""Checks of the GitHub side: the API answers, and the token works with the access it needs.

The token goes through the bot's own client (bot/github/client.py), so its errors read the
same as `bot gh`'s and the token is masked in every message; it is never printed.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from bot.doctor.result import Result, missing
from bot.github.commands import Level

DEFAULT_API = "https://api.github.com"
TOKEN_FIX = "run inside a workflow step with GITHUB_TOKEN, or export a token for the repository"

# The `permissions` object of GET /repos/{owner}/{repo}, strongest first.
_REPO_FLAGS = (
    ("admin", Level.ADMIN),
    ("maintain", Level.MAINTAIN),
    ("push", Level.WRITE),
    ("triage", Level.TRIAGE),
    ("pull", Level.READ),
)


def api_reachable(api_url: str, timeout: float, required: bool) -> Result:
    """Any HTTP answer below 500 from the API root counts: reachability, not authorization."""
    name = "github api"
    url = api_url.rstrip("/") + "/"
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return missing(
            name,
            required,
            f"{url} unreachable within {timeout:g} s ({reason})",
            "check GITHUB_API_URL, DNS and the runner's egress to GitHub",
        )
    ms = (time.monotonic() - started) * 1000
    if status >= 500:
        return missing(name, required, f"{url} answered {status}", "retry later; see githubstatus")
    return Result(name, "pass", f"{url} answered {status} in {ms:.0f} ms")


def token_access(environ: Mapping[str, str], need: Level, timeout: float, required: bool) -> Result:
    """GITHUB_TOKEN can read GITHUB_REPOSITORY, with at least `need` where GitHub says."""
    from bot.github.client import ApiError, BotError, Client, UsageError, read_env
    from bot.github.permissions import api_level

    name = "github token"
    try:
        env = read_env(environ)
    except UsageError as exc:
        return missing(name, required, str(exc), TOKEN_FIX)
    client = Client(env, timeout=(timeout, timeout), retries=1, backoff=0.5)
    try:
        repo = client.get(client.repo())
        try:
            login: str | None = str(client.get("/user")["login"])
        except ApiError as exc:
            if exc.status not in (403, 404):
                raise
            login = None  # an Actions or App token cannot read /user
        have = api_level(client, login) if login else _repo_level(repo)
    except BotError as exc:
        return Result(name, "fail", client.mask(str(exc)), "use a valid token for the repository")
    who = f"@{login}" if login else "the token"
    if have is None:
        detail = (
            f"{who} can read {env.repository}; GitHub does not report this token's "
            "permissions (the workflow's permissions block sets them)"
        )
        return Result(name, "pass" if need <= Level.READ else "warn", detail)
    detail = f"{who} has {have.name.lower()} access to {env.repository}"
    if have < need:
        return Result(
            name,
            "fail",
            f"{detail}; needs {need.name.lower()}",
            f"grant {need.name.lower()} access to {who}",
        )
    return Result(name, "pass", detail)


def _repo_level(repo: object) -> Level | None:
    flags = repo.get("permissions") if isinstance(repo, dict) else None
    if not isinstance(flags, dict):
        return None
    return next((level for key, level in _REPO_FLAGS if flags.get(key)), Level.NONE)
