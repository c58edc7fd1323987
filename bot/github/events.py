"""`bot gh event`: do what one GitHub Actions event needs, by event name.

The payload is GitHub's, but fields such as branch names, titles and comment
bodies are written by whoever opened the PR: they are read as data, escaped
when shown, and every decision about rights or state is made from a fresh
API read (the PR's head SHA, the user's permission), not from the payload.
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
from bot.github.respond import run_commands
from bot.github.settings import base_config
from bot.github.start import start

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
    cfg = base_config(client, pr.base_ref)
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
    if permissions.level(client, cfg, sender) < Level.MAINTAIN:
        text = f"@{sender}: the `{label}` label needs maintain access; it was removed."
    elif labelled_sha != pr.head_sha:
        text = (
            f"@{sender}: the head moved to `{pr.short}` after the label was added; approve again."
        )
    else:
        trust.approve(client, cfg, pr, sender)
        inputs = {"pr": str(pr.number), "sha": pr.head_sha, "requested_by": sender}
        started = start(client, cfg, "generate", pr.base_ref, inputs, pr.number)
        text = f"@{sender} approved `{pr.head_sha}` with the `{label}` label; {started.describe()}."
    comments.reply(client, pr.number, text)
    say(text)
    return 0


def issue_comment(client: Client, payload: Payload, say: Say) -> int:
    if payload.get("action") != "created":
        say("issue_comment: only new comments carry commands")
        return 0
    comment = payload.get("comment") or {}
    user = comment.get("user") or {}
    login = str(user.get("login") or "")
    issue = payload.get("issue") or {}
    if user.get("type") == "Bot" or login.endswith("[bot]"):
        say(f"comment by {login}: bots are not obeyed")
        return 0
    if not issue.get("pull_request"):
        say("comment on an issue, not a pull request: nothing to do")
        return 0
    cfg_login = client.login(GithubConfig().bot_login)
    if login == cfg_login:
        say("comment by the bot itself: nothing to do")
        return 0
    number = _number(payload, "issue")
    outcomes = run_commands(
        client, number, int(comment.get("id") or 0), str(comment.get("body") or ""), login
    )
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
    cfg = base_config(client, default)
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
    pr = trust.pull_request(client, number)
    verdict = trust.gate(client, base_config(client, pr.base_ref), number, inputs.get("sha"))
    say(("allowed: " if verdict.allowed else "refused: ") + verdict.reason)
    return 0 if verdict.allowed else 1


def workflow_run(client: Client, payload: Payload, say: Say) -> int:
    """A bot workflow that ended badly gets a short failure note in its topic's comment."""
    run = payload.get("workflow_run") or {}
    conclusion = str(run.get("conclusion") or "")
    if payload.get("action") != "completed" or conclusion in ("success", "skipped", "neutral"):
        say(f"workflow_run {conclusion or payload.get('action')}: nothing to do")
        return 0
    repo = payload.get("repository") or {}
    cfg = base_config(client, str(repo.get("default_branch") or "main"))
    kind = kind_of(cfg, posixpath.basename(str(run.get("path") or "")))
    if kind is None:
        say(f"workflow {run.get('path')!r} is not one of the bot's: nothing to do")
        return 0
    numbers = [p.get("number") for p in run.get("pull_requests") or [] if p.get("number")]
    if not numbers:  # GitHub leaves this empty for fork PRs: find them by head SHA
        head = run.get("head_sha")
        pulls = client.paginate(client.repo("pulls"), {"state": "open"})
        numbers = [p["number"] for p in pulls if (p.get("head") or {}).get("sha") == head]
    url = f"{client.env.server_url}/{client.env.repository}/actions/runs/{run.get('id')}"
    detail = f"Run #{run.get('run_number')} of `{run.get('name')}` ended with `{conclusion}`."
    body = failure_markdown(kind.capitalize(), url, detail, artifact="bot-logs")
    login = client.login(cfg.bot_login)
    for number in numbers:
        comments.upsert(client, int(number), kind, body, login)
    say(f"{kind} failed ({conclusion}); noted on {', '.join(f'#{n}' for n in numbers) or 'no PR'}")
    return 0


def kind_of(cfg: GithubConfig, workflow: str) -> str | None:
    return {
        cfg.validate_workflow: "validation",
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
