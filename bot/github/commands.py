"""Slash commands in PR comments, parsed strictly. Pure functions: no API calls here.

A command is a whole line: `/name [args]` or `@bot-name name [args]`, one per
line. Lines inside code fences and quoted lines (`> ...`) are ignored, so
quoting someone's command in a reply never runs it again. A line that looks
like a command but names none we know is returned as Unknown and answered
with the help text.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import NamedTuple


class Level(IntEnum):
    """Repository permission levels, ordered; the collaborator-permission API's role names."""

    NONE = 0
    READ = 1
    TRIAGE = 2
    WRITE = 3
    MAINTAIN = 4
    ADMIN = 5


class Spec(NamedTuple):
    needs: Level
    max_args: int  # arguments allowed after the name
    help: str


SPECS: dict[str, Spec] = {
    "generate": Spec(Level.WRITE, 0, "generate synthetic data for this PR's leaves (GPU)"),
    "benchmark": Spec(Level.WRITE, 0, "benchmark the model trained with this PR (GPU)"),
    "ok-to-generate": Spec(
        Level.MAINTAIN,
        1,
        "approve a commit for GPU work, then generate: `/ok-to-generate SHA` (all 40 hex "
        "digits of the head you reviewed); without SHA, only if the head has not moved since "
        "the bot recorded it, before your comment",
    ),
    "retrain": Spec(Level.MAINTAIN, 0, "retrain the model with this PR's data (GPU)"),
    "release": Spec(Level.MAINTAIN, 0, "release the current model from the default branch"),
    "help": Spec(Level.NONE, 0, "show this help"),
}


class Command(NamedTuple):
    name: str
    args: tuple[str, ...]
    line: int  # 1-based line of the comment it came from


class Unknown(NamedTuple):
    text: str
    line: int
    reason: str


_WORD = re.compile(r"[a-z][a-z0-9-]*\Z")
_SHA = re.compile(r"[0-9a-f]{40}")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse(body: str, bot_name: str) -> list[Command | Unknown]:
    """Each command line of a comment, in order; a repeated command counts once."""
    found: list[Command | Unknown] = []
    seen: set[str] = set()
    in_fence = False
    mention = f"@{bot_name.lower()}"
    for number, raw in enumerate(body.splitlines(), 1):
        if _FENCE.match(raw):
            in_fence = not in_fence
            continue
        line = raw.strip()
        if in_fence or not line or line.startswith(">"):
            continue
        words = line.split()
        if words[0].startswith("/") and len(words[0]) > 1:
            name, args = words[0][1:], words[1:]
        elif words[0].lower() == mention:
            if len(words) == 1:
                found.append(Unknown(line, number, "no command after the mention"))
                continue
            name, args = words[1].lstrip("/"), words[2:]
        else:
            continue
        item = _check(name.lower(), args, line, number)
        key = item.name if isinstance(item, Command) else item.text
        if key not in seen:
            seen.add(key)
            found.append(item)
    return found


def _check(name: str, args: list[str], line: str, number: int) -> Command | Unknown:
    if not _WORD.match(name) or len(name) > 40:
        return Unknown(line, number, "not a command name")
    if name not in SPECS:
        return Unknown(line, number, f"unknown command `{name}`")
    spec = SPECS[name]
    if len(args) > spec.max_args:
        return Unknown(line, number, f"`{name}` takes at most {spec.max_args} argument(s)")
    if name == "ok-to-generate" and args and not _SHA.fullmatch(args[0]):
        # A prefix could name a commit pushed later (a 7-digit one is cheap to collide).
        return Unknown(line, number, "`ok-to-generate` takes the full commit SHA (40 hex digits)")
    return Command(name, tuple(args), number)


def help_table(bot_name: str) -> str:
    rows = [
        f"| `/{name}` | {spec.needs.name.lower() if spec.needs else 'anyone'} | {spec.help} |"
        for name, spec in SPECS.items()
    ]
    return "\n".join(
        [
            f"Commands (one per line; `@{bot_name} <command>` works too):",
            "",
            "| command | who may run it | what it does |",
            "|---|---|---|",
            *rows,
        ]
    )
