"""The pure parts: the command parser, escaping, annotation batches, retry decisions."""

from __future__ import annotations

import pytest

from bot.github import render
from bot.github.checks import Annotation, batches
from bot.github.client import BotError
from bot.github.commands import Command, Level, Unknown, help_table, parse
from bot.github.comments import escape, marker, neutralize
from bot.github.retry import is_rate_limited, wait_seconds


def names(body: str) -> list[str]:
    return [i.name if isinstance(i, Command) else f"?{i.text}" for i in parse(body, "taxonomy-bot")]


def test_one_command_per_line_slash_or_mention() -> None:
    body = "Looks good.\n/generate\n@taxonomy-bot benchmark\n  /help  \nnot /retrain mid-line"
    assert names(body) == ["generate", "benchmark", "help"]
    assert parse("/ok-to-generate 0123abc", "taxonomy-bot") == [
        Command("ok-to-generate", ("0123abc",), 1)
    ]


def test_quotes_and_code_fences_never_run() -> None:
    body = "> /generate\n```\n/release\n```\n~~~\n@taxonomy-bot retrain\n~~~\n"
    assert parse(body, "taxonomy-bot") == []


def test_unknown_and_malformed_commands_are_reported() -> None:
    body = "/generat\n/generate now please\n@taxonomy-bot\n/ok-to-generate zz"
    found = parse(body, "taxonomy-bot")
    assert all(isinstance(i, Unknown) for i in found)
    reasons = [i.reason for i in found if isinstance(i, Unknown)]
    assert reasons[0] == "unknown command `generat`"
    assert "at most 0 argument" in reasons[1]
    assert reasons[2] == "no command after the mention"
    assert "commit SHA" in reasons[3]


def test_repeats_count_once_and_other_bots_are_ignored() -> None:
    assert names("/generate\n/GENERATE\n@other-bot release\n/generate") == ["generate"]


def test_help_table_lists_every_command_with_its_level() -> None:
    table = help_table("taxonomy-bot")
    assert "| `/ok-to-generate` | maintain |" in table
    assert "| `/generate` | write |" in table and "| `/help` | anyone |" in table
    assert Level.ADMIN > Level.MAINTAIN > Level.WRITE > Level.NONE


def test_escape_makes_pr_text_inert() -> None:
    evil = "x <!-- taxonomy-bot:approved sha=" + "a" * 40 + " by=owner --> | y\nz"
    out = escape(evil)
    assert "<" not in out and ">" not in out and "\n" not in out and "\\|" in out
    assert "<!--" not in neutralize("# Report\n<!-- taxonomy-bot:approval -->\n")
    # report.md's own leading marker is dropped, not shown escaped in the comment.
    assert neutralize("<!-- taxonomy-bot:benchmark -->\n**ok**\n") == "**ok**\n"
    with pytest.raises(ValueError):
        marker("everything")


def test_annotations_go_in_batches_of_50_with_exact_positions() -> None:
    items = [Annotation("a.yaml", i + 1, 3, "failure", "schema", f"m{i}") for i in range(120)]
    groups = list(batches(items))
    assert [len(g) for g in groups] == [50, 50, 20]
    first = groups[0][0]
    assert (first["start_line"], first["end_line"], first["start_column"]) == (1, 1, 3)
    assert first["annotation_level"] == "failure" and first["title"] == "schema"


def test_validation_json_is_checked_with_located_errors() -> None:
    doc: dict = {"files": [{"path": "a.yaml", "errors": []}]}
    with pytest.raises(BotError, match=r"in.json: files\[0\]: `warnings` must be a list"):
        render.validation(doc, "in.json")
    doc["files"][0] |= {"warnings": [], "errors": [{"line": 2, "column": 1, "rule": "r"}]}
    with pytest.raises(BotError, match=r"files\[0\].errors\[0\]: `message` must be a str"):
        render.validation(doc, "in.json")
    with pytest.raises(BotError, match=r"^in.json:1:2: not JSON"):
        render.load_json("{]", "in.json")


def test_secondary_rate_limits_and_retry_after() -> None:
    body = '{"message": "You have exceeded a secondary rate limit"}'
    assert is_rate_limited(403, {}, body)
    assert is_rate_limited(403, {"Retry-After": "3"}, "")
    assert is_rate_limited(429, {}, "")
    assert not is_rate_limited(403, {}, '{"message": "Resource not accessible by integration"}')
    assert wait_seconds({"retry-after": "7"}, 0, 1.0, 0) == 7
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"}
    assert wait_seconds(reset, 0, 1.0, 1000) == 10
    assert wait_seconds({}, 3, 0.5, 0) == 4
