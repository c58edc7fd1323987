"""The workflows call the bot with flags the bot has: every `bot COMMAND --flag` in a
workflow's `run:` script (and every flag in a shell array handed to one) is an option of
that command's parser, so a renamed flag cannot leave a workflow behind."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

from bot.cli import parser

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))
# `bot`, "$bot", ".../venv/bin/bot" or `-m bot`, then the command (and gh's subcommand).
CALL = re.compile(
    r'(?:(?<![\w./-])bot|"\$bot"|/bin/bot"?|-m bot)\s+([a-z][a-z-]*)((?:\s+[a-z][a-z-]*)?)(.*)'
)
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
ARRAY = re.compile(r'"\$\{(\w+)\[@\]\}"')


def scripts(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text())
    return [
        step["run"]
        for job in doc.get("jobs", {}).values()
        for step in job.get("steps", [])
        if isinstance(step.get("run"), str)
    ]


def options(command: str, sub: str) -> set[str]:
    """The option strings `bot COMMAND [SUB]` accepts."""
    top = parser([command])
    action = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    cmd = action.choices[command]
    nested = [a for a in cmd._actions if isinstance(a, argparse._SubParsersAction)]
    if nested and sub:
        cmd = nested[0].choices[sub]
    return set(cmd._option_string_actions)


def calls(script: str) -> list[tuple[str, str, set[str]]]:
    """(command, subcommand, flags) for every bot call in a shell script."""
    text = script.replace("\\\n", " ")
    arrays: dict[str, set[str]] = {}
    for name, body in re.findall(r"(\w+)\+?=\(([^)]*)\)", text):
        arrays.setdefault(name, set()).update(FLAG.findall(body))
    found = []
    for line in text.splitlines():
        for command, sub, rest in CALL.findall(line):
            flags = set(FLAG.findall(rest))
            for name in ARRAY.findall(rest):
                flags |= arrays.get(name, set())
            found.append((command, sub.strip(), flags))
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_flag_a_workflow_passes_exists(path: Path) -> None:
    wrong = []
    for script in scripts(path):
        for command, sub, flags in calls(script):
            if command not in ("validate", "generate", "train", "benchmark", "run", "release",
                               "gh", "doctor", "serve", "simulate"):  # fmt: skip
                continue
            known = options(command, sub)
            wrong += [f"bot {command} {sub} {flag}".replace("  ", " ") for flag in flags - known]
    assert wrong == []


def test_the_check_sees_arrays_and_continued_lines() -> None:
    script = (
        'gen=(--changed --base-ref "x")\ngen+=(--teacher "$T")\n'
        '"$bot" generate "${gen[@]}" \\\n  --no-such-flag\n'
    )
    [(command, sub, flags)] = calls(script)
    assert command == "generate" and sub == ""
    assert flags == {"--changed", "--base-ref", "--teacher", "--no-such-flag"}
    assert "--no-such-flag" not in options("generate", "")
