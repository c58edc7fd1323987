"""`bot gh event`: do what one GitHub Actions event needs, by event name.

The payload is GitHub's, but fields such as branch names, titles and comment
bodies are written by whoever opened the PR: they are read as data, quoted
inertly when shown, and every decision about rights or state is made from a
fresh API read (the PR's head SHA, the comment's author and time, the user's
permission, the default branch), not from the payload. Settings always come from
the default branch's bot.yaml.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import GithubConfig
from bot.github import comments, permissions, trust
from bot.github.client import BotError, Client, UsageError
from bot.github.commands import Level
from bot.github.render import failure_markdown
from bot.github.respond import read_comment, run_commands
from bot.github.settings import default_config
from bot.github.start import start

# The bot's own workflows run on these events only; a run of any other event (a fork's
# `pull_request` workflow that copied a name, say) is not the bot's.
OWN_EVENTS = frozenset({"workflow_dispatch", "push"})

Payload = dict[str, Any]
Say = Callable[[str], None]


def load_payload(path: str) -> Payload:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise UsageError(f"GITHUB_EVENT_PATH {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"GITHUB_EVENT_PATH {path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UsageError(f"GITHUB_EVENT_PATH {path}: the event must be a JSON object")
    return data


def handle(client: Client, name: str, payload: Payload, say: Say) -> int:
    handler = HANDLERS.get(name)
    if handler is None:
        say(f"event {name}: nothing to do")
        return 0
    return handler(client, payload, say)


def _number(payload: Payload, key: str) -> int:
    value = (payload.get(key) or {}).get("number")
    if not isinstance(value, int):
        raise UsageError(f"the {key} event payload has no {key}.number")
    return value


def pull_request(client: Client, payload: Payload, say: Say) -> int:
    action = str(payload.get("action") or "")
    number = _number(payload, "pull_request")
    pr = trust.pull_request(client, number)
    cfg = default_config(client)
    if action == "labeled":
        return labeled(client, cfg, pr, payload, say)
    if action not in ("opened", "reopened", "synchronize", "ready_for_review"):
        say(f"pull_request.{action}: nothing to do")
        return 0
    verdict = trust.trusted(client, cfg, pr)
    if verdict.allowed:
        trust.set_label(client, number, cfg.awaiting_label, present=False)
        say(f"#{number} is trusted: {verdict.reason}")
        return 0
    found = trust.approval(client, cfg, number)
    if found and found.sha == pr.head_sha:
        say(f"#{number}: {pr.short} is already approved by @{found.by}")
        return 0
    trust.mark_awaiting(client, cfg, pr, verdict.reason)
    say(f"#{number} awaits approval: {verdict.reason}")
    return 0


def labeled(
    client: Client, cfg: GithubConfig, pr: trust.PullRequest, payload: Payload, say: Say
) -> int:
    """The approve label works like `/ok-to-generate`, and is consumed either way."""
    label = str((payload.get("label") or {}).get("name") or "")
    if label != cfg.approve_label:
        say(f"label {label!r}: nothing to do")
        return 0
    sender = str((payload.get("sender") or {}).get("login") or "")
    trust.set_label(client, pr.number, label, present=False)
    labelled_sha = str(((payload.get("pull_request") or {}).get("head") or {}).get("sha") or "")
    target = trust.into_default(client, pr)
    if permissions.level(client, cfg, sender) < Level.MAINTAIN:
        text = f"@{sender}: the `{label}` label needs maintain access; it was removed."
    elif not target.allowed:
        text = f"@{sender}: no GPU work for this PR: {target.reason}; the label was removed."
    elif labelled_sha != pr.head_sha:
        text = (
            f"@{sender}: the head moved to `{pr.short}` after the label was added; approve again."
        )
    else:
        trust.approve(client, cfg, pr, sender)
        inputs = {"pr": str(pr.number), "sha": pr.head_sha, "requested_by": sender}
        started = start(client, cfg, "generate", client.default_branch(), inputs, pr.number)
        text = f"@{sender} approved `{pr.head_sha}` with the `{label}` label; {started.describe()}."
    comments.reply(client, pr.number, text, comments.site_url(cfg.site_url, client.env.repository))
    say(text)
    return 0


def issue_comment(client: Client, payload: Payload, say: Say) -> int:
    if payload.get("action") != "created":
        say("issue_comment: only new comments carry commands")
        return 0
    issue = payload.get("issue") or {}
    if not issue.get("pull_request"):
        say("comment on an issue, not a pull request: nothing to do")
        return 0
    comment_id = (payload.get("comment") or {}).get("id")
    if not isinstance(comment_id, int):
        raise UsageError("the issue_comment event payload has no comment.id")
    comment = read_comment(client, comment_id)  # author, body and time as GitHub has them
    bot_login = client.login(GithubConfig().bot_login)
    if comment.author.endswith("[bot]") or comment.author == bot_login:
        say(f"comment by {comment.author}: bots are not obeyed")
        return 0
    number = _number(payload, "issue")
    outcomes = run_commands(client, number, comment)
    if outcomes is None:
        say(f"#{number}: no command in the comment")
    for o in outcomes or []:
        say(("ok: " if o.ok else "refused: ") + o.text)
    return 0


def push(client: Client, payload: Payload, say: Say) -> int:
    repo = payload.get("repository") or {}
    default = str(repo.get("default_branch") or "main")
    if payload.get("ref") != f"refs/heads/{default}" or payload.get("deleted"):
        say(f"push to {payload.get('ref')}: nothing to do")
        return 0
    if default != client.default_branch():
        say(f"push to {default}: not the default branch")
        return 0
    cfg = default_config(client)
    touched = {
        path
        for c in payload.get("commits") or []
        for key in ("added", "modified", "removed")
        for path in c.get(key) or []
    }
    if not cfg.retrain_on_push or not any(str(p).startswith("taxonomy/") for p in touched):
        say(f"push to {default}: no taxonomy change to retrain on")
        return 0
    sha = str(payload.get("after") or "")
    started = start(client, cfg, "retrain", default, {"sha": sha})
    say(f"push to {default} at {sha[:7]}: {started.describe()}")
    return 0


def workflow_dispatch(client: Client, payload: Payload, say: Say) -> int:
    """A dispatched GPU workflow's first step: the gate, from fresh API state."""
    inputs = payload.get("inputs") or {}
    if not inputs.get("pr"):
        say("workflow_dispatch without a pr input: base-branch work, no gate needed")
        return 0
    try:
        number = int(str(inputs["pr"]))
    except ValueError:
        raise UsageError(
            f"workflow_dispatch input pr must be a number, not {inputs['pr']!r}"
        ) from None
    verdict = trust.gate(client, default_config(client), number, inputs.get("sha"))
    say(("allowed: " if verdict.allowed else "refused: ") + verdict.reason)
    return 0 if verdict.allowed else 1


def workflow_run(client: Client, payload: Payload, say: Say) -> int:
    """A bot workflow that ended badly gets a short failure note in its topic's comment."""
    run = payload.get("workflow_run") or {}
    conclusion = str(run.get("conclusion") or "")
    if payload.get("action") != "completed" or conclusion in ("success", "skipped", "neutral"):
        say(f"workflow_run {conclusion or payload.get('action')}: nothing to do")
        return 0
    cfg = default_config(client)
    kind = own_kind(client, cfg, run)
    if kind is None:
        say(f"workflow {str(run.get('path'))[:100]!r} ({run.get('event')}) is not one of the "
            "bot's runs: nothing to do")  # fmt: skip
        return 0
    numbers = [p.get("number") for p in run.get("pull_requests") or [] if p.get("number")]
    if not numbers:  # GitHub leaves this empty for fork PRs: find them by head SHA
        head = run.get("head_sha")
        pulls = client.paginate(client.repo("pulls"), {"state": "open"})
        numbers = [p["number"] for p in pulls if (p.get("head") or {}).get("sha") == head]
    run_id, run_no = int(run.get("id") or 0), int(run.get("run_number") or 0)
    url = f"{client.env.server_url}/{client.env.repository}/actions/runs/{run_id}"
    detail = f"Run #{run_no} of {posixpath.basename(str(run['path']))} ended with {conclusion}."
    body = failure_markdown(kind.capitalize(), url, detail, artifact="bot-logs")
    login = client.login(cfg.bot_login)
    site = comments.site_url(cfg.site_url, client.env.repository)
    for number in numbers:
        comments.upsert(client, int(number), kind, body, login, site)
    say(f"{kind} failed ({conclusion}); noted on {', '.join(f'#{n}' for n in numbers) or 'no PR'}")
    return 0


def own_kind(client: Client, cfg: GithubConfig, run: dict[str, Any]) -> str | None:
    """The topic of a run of one of the bot's workflows; None for anything else.

    bot.yml subscribes by workflow *name*, which any workflow can copy (a fork's PR adding
    one called `generate`, say). The bot's runs are told apart by what GitHub records and a
    PR cannot choose: the workflow file's path, the event, and the repository it ran in."""
    path = str(run.get("path") or "")
    head = str((run.get("head_repository") or {}).get("full_name") or "")
    if posixpath.dirname(path) != ".github/workflows" or head != client.env.repository:
        return None
    if run.get("event") not in OWN_EVENTS:
        return None
    return kind_of(cfg, posixpath.basename(path))


def kind_of(cfg: GithubConfig, workflow: str) -> str | None:
    return {
        cfg.generate_workflow: "generation",
        cfg.retrain_workflow: "training",
        cfg.benchmark_workflow: "benchmark",
        cfg.release_workflow: "release",
    }.get(workflow)


HANDLERS: dict[str, Callable[[Client, Payload, Say], int]] = {
    "pull_request": pull_request,
    "pull_request_target": pull_request,
    "issue_comment": issue_comment,
    "push": push,
    "workflow_dispatch": workflow_dispatch,
    "workflow_run": workflow_run,
}

__all__ = ["HANDLERS", "BotError", "handle", "load_payload"]
