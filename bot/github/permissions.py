"""Who may do what: the collaborator-permission API, plus the default branch's bot.yaml grants.

bot.yaml can only add rights (github.maintainers / github.writers: logins or
`org/team` slugs); it is read from the default branch, so a PR cannot grant itself
anything.
"""

from __future__ import annotations

from bot.config import GithubConfig
from bot.github.client import ApiError, Client
from bot.github.commands import Level

# role_name first (it knows maintain and triage); the legacy `permission` field second.
_NAMES = {
    "admin": Level.ADMIN,
    "maintain": Level.MAINTAIN,
    "write": Level.WRITE,
    "push": Level.WRITE,
    "triage": Level.TRIAGE,
    "read": Level.READ,
    "pull": Level.READ,
    "none": Level.NONE,
}


def api_level(client: Client, login: str) -> Level:
    """The user's level on this repository; a non-collaborator is NONE (GitHub may say 404)."""
    try:
        data = client.get(client.repo("collaborators", login, "permission"))
    except ApiError as exc:
        if exc.status == 404:
            return Level.NONE
        raise
    for key in ("role_name", "permission"):
        level = _NAMES.get(str(data.get(key) or "").lower())
        if level is not None:
            return level
    return Level.NONE


def in_team(client: Client, slug: str, login: str) -> bool:
    org, _, team = slug.partition("/")
    try:
        data = client.get(f"/orgs/{org}/teams/{team}/memberships/{login}")
    except ApiError as exc:
        if exc.status in (403, 404):  # not a member, or the token cannot see the team
            return False
        raise
    return str(data.get("state")) == "active"


def _granted(client: Client, entries: tuple[str, ...], login: str) -> bool:
    for entry in entries:
        if "/" in entry:
            if in_team(client, entry, login):
                return True
        elif entry.lower() == login.lower():
            return True
    return False


def level(client: Client, cfg: GithubConfig, login: str) -> Level:
    found = api_level(client, login)
    if found < Level.MAINTAIN and _granted(client, cfg.maintainers, login):
        return Level.MAINTAIN
    if found < Level.WRITE and _granted(client, cfg.writers, login):
        return Level.WRITE
    return found
