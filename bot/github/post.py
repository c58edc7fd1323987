"""What the `bot gh post-*` subcommands publish: check runs and sticky comments from reports.

Every report is data that PR content went into. The validation report is re-checked
(render.validation) and the PR's own bot.yaml, when it changes it, is validated
here too: its problems become annotations, and its settings are never applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bot.config import FILE
from bot.github import checks, comments, render, trust
from bot.github.checks import Annotation
from bot.github.client import Client
from bot.github.settings import default_config, fetch, problems_at

CONFIG_NOTE = (
    "This pull request changes `bot.yaml`. Its settings are validated above and apply only "
    "after a maintainer reviews and merges them: the bot's runs, including this PR's, use the "
    "default branch's `bot.yaml`."
)


class Posted(NamedTuple):
    kind: str
    comment: int
    created: bool
    detail: str = ""


def validation(client: Client, number: int, sha: str, report: str, where: str, name: str) -> Posted:
    pr = trust.pull_request(client, number)
    v = render.validation(render.load_json(report, where), where, render.known_rules())
    sha, note = sha or pr.head_sha, ""
    source = pr.head_repo or client.env.repository
    if fetch(client, source, sha) != fetch(client, client.env.repository, client.default_branch()):
        found = [
            Annotation(FILE, p.line, p.column, "failure", p.rule, p.message)
            for p in problems_at(client, source, sha)
        ]
        v = v._replace(annotations=found + v.annotations, errors=v.errors + len(found))
        note = CONFIG_NOTE
    body = render.validation_markdown(v, sha, client.env.run_url)
    if note:
        body += "\n\n" + note
    published = checks.publish(
        client, sha, name, v.conclusion, v.title, body, v.annotations, client.env.run_url
    )
    sticky = comments.upsert(client, number, "validation", body, *_who(client))
    if published.kind == "check_run":
        how = (
            f"check run {published.id} with {len(v.annotations)} annotation(s) "
            f"in {published.calls} call(s)"
        )
    else:
        how = "commit status (annotations only in the comment)"
    return Posted("validation", sticky.id, sticky.created, f"of {sha[:7]}: {v.title}; {how}")


def generation(client: Client, number: int, sha: str, report: str, where: str,
               data: Path | None) -> Posted:  # fmt: skip
    body = render.generation_markdown(report, where, sha, data)
    return sticky(client, number, "generation", body)


def failure(client: Client, number: int, kind: str, detail: str, artifact: str) -> Posted:
    what = {"validation": "Validation", "training": "Training"}.get(kind, kind.capitalize())
    body = render.failure_markdown(what, client.env.run_url, detail, artifact)
    return sticky(client, number, kind, body)


def markdown(client: Client, number: int, kind: str, text: str) -> Posted:
    """A report the bot's own code wrote (benchmark, release notes), neutralised."""
    return sticky(client, number, kind, comments.neutralize(text))


def sticky(client: Client, number: int, kind: str, body: str) -> Posted:
    trust.pull_request(client, number)  # a clear error for a PR that does not exist
    made = comments.upsert(client, number, kind, body, *_who(client))
    return Posted(kind, made.id, made.created)


def _who(client: Client) -> tuple[str, str]:
    """The bot's login and the project site's address, from one read of bot.yaml."""
    cfg = default_config(client)
    return client.login(cfg.bot_login), comments.site_url(cfg.site_url, client.env.repository)
