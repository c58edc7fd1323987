"""`bot gh`: the GitHub bot, as the workflows call it (one subcommand per action).

Reads GITHUB_REPOSITORY, GITHUB_TOKEN and GITHUB_API_URL (plus GITHUB_EVENT_NAME
and GITHUB_EVENT_PATH for `event`). Exit status: 0 done (or gate open), 1 a
failure or a closed gate, 2 a usage error. Errors are one line with the token
masked; an unexpected crash writes its traceback to a log file (kept by the
workflow as an artifact) instead of the console.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gh",
        help="the GitHub bot: events, gates and sticky PR comments",
        description="Run inside GitHub Actions. Env: GITHUB_REPOSITORY, GITHUB_TOKEN, "
        "GITHUB_API_URL; `event` also GITHUB_EVENT_NAME and GITHUB_EVENT_PATH.",
    )
    s = p.add_subparsers(dest="gh_command", metavar="SUBCOMMAND", required=True)
    s.add_parser("event", help="do what the current workflow event needs")
    g = s.add_parser("gate", help="exit 0 only if GPU work may run for the PR's head")
    _pr(g)
    g.add_argument("--sha", help="the head SHA the caller was started for (must still be head)")
    r = s.add_parser(
        "release-gate",
        help="exit 0 only if whoever started this release run maintains the repository",
        description="Reads GITHUB_ACTOR and GITHUB_TRIGGERING_ACTOR (set by GitHub). A run "
        "started by the bot must name the PR and the `/release` comment, which is read "
        "through the API.",
    )
    r.add_argument("--pr", type=_number, metavar="N", help="the PR the /release came from")
    r.add_argument("--comment", type=_number, metavar="ID", help="the /release comment's id")
    v = s.add_parser("post-validation", help="check run + annotations + sticky comment")
    _pr(v)
    v.add_argument("--sha", help="the commit validated (default: the PR's head)")
    v.add_argument("--check-name", default="taxonomy-bot/validation")
    _input(v, "`bot validate --format json` output")
    for name, what in (
        ("post-generation", "`bot generate --format json` output, or Markdown"),
        ("post-benchmark", "the benchmark report (Markdown)"),
        ("post-release", "the release notes (Markdown)"),
    ):
        q = s.add_parser(name, help=f"sticky comment from {what}")
        _pr(q)
        q.add_argument("--sha", default="", help="the commit the report is for")
        _input(q, what)
        if name == "post-generation":
            q.add_argument(
                "--samples", type=Path, metavar="DIR", help="exported data: show a few Q&A"
            )
    f = s.add_parser("post-failure", help="a short failure note in a topic's sticky comment")
    _pr(f)
    f.add_argument(
        "--kind",
        required=True,
        choices=("validation", "generation", "training", "benchmark", "release"),
    )
    f.add_argument("--detail", default="", help="one line saying what failed")
    f.add_argument("--artifact", default="bot-logs", help="the artifact holding the logs")


def _number(text: str) -> int | None:
    """An optional number: empty (an unset workflow input) is None."""
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise argparse.ArgumentTypeError(f"not a number: {text[:20]!r}")
    return int(text)


def _pr(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pr", type=int, required=True, metavar="N", help="pull request number")


def _input(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--input", default="-", metavar="FILE", help=f"{what} (default: stdin)")


def _read(path: str) -> str:
    from bot.github.client import UsageError

    if path == "-":
        if sys.stdin is None or sys.stdin.closed or sys.stdin.isatty():
            raise UsageError("--input - needs a document on stdin")
        text = sys.stdin.read()
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise UsageError(f"--input {path}: {exc.strerror}") from None
    if not text.strip():
        raise UsageError(f"{'stdin' if path == '-' else path}: the input is empty")
    return text


def run(args: argparse.Namespace) -> int:
    from bot.github.client import BotError, UsageError

    token = os.environ.get("GITHUB_TOKEN", "")
    try:
        return _run(args)
    except UsageError as exc:
        print(f"bot gh: error: {_mask(str(exc), token)}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"bot gh {args.gh_command}: error: {_mask(str(exc), token)}", file=sys.stderr)
        return 1
    except Exception as exc:  # the traceback goes to a file, a short line to the log
        where = _crash_log(token)
        print(
            f"bot gh {args.gh_command}: internal error ({type(exc).__name__}); "
            f"full traceback in {where}",
            file=sys.stderr,
        )
        return 1


def _mask(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _crash_log(token: str) -> Path:
    folder = Path(os.environ.get("BOT_LOG_DIR") or ".bot/logs")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gh-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text(_mask(traceback.format_exc(), token), "utf-8")
    return path


def _say(message: str) -> None:
    print(message)


def _run(args: argparse.Namespace) -> int:
    from bot.github.client import connect

    command = args.gh_command
    if command == "event":
        from bot.github.events import handle, load_payload

        client = connect(need_event=True)
        payload = load_payload(client.env.event_path)
        return handle(client, client.env.event_name, payload, _say)
    client = connect()
    if command in ("gate", "release-gate"):
        return _gate(client, args)
    text = _read(args.input) if command != "post-failure" else ""
    return _post(client, command, args, text)


def _gate(client: Any, args: argparse.Namespace) -> int:
    from bot.github import requester, trust
    from bot.github.settings import default_config

    cfg = default_config(client)
    if args.gh_command == "gate":
        verdict = trust.gate(client, cfg, args.pr, args.sha)
    else:
        who = requester.Actors(
            os.environ.get("GITHUB_ACTOR", ""), os.environ.get("GITHUB_TRIGGERING_ACTOR", "")
        )
        verdict = requester.authorize(client, cfg, who, args.pr, args.comment)
    print(("allowed: " if verdict.allowed else "refused: ") + verdict.reason)
    return 0 if verdict.allowed else 1


def _post(client: Any, command: str, args: argparse.Namespace, text: str) -> int:
    from bot.github import post

    where = "stdin" if getattr(args, "input", "-") == "-" else args.input
    if command == "post-validation":
        done = post.validation(client, args.pr, args.sha, text, where, args.check_name)
        print(f"validation {done.detail}; comment {done.comment}")
        return 0
    if command == "post-failure":
        done = post.failure(client, args.pr, args.kind, args.detail, args.artifact)
    elif command == "post-generation":
        done = post.generation(client, args.pr, args.sha, text, where, args.samples)
    else:
        done = post.markdown(client, args.pr, command.removeprefix("post-"), text)
    print(f"{done.kind} comment {'created' if done.created else 'updated'}: {done.comment}")
    return 0
