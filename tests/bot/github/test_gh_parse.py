"""The pure parts: the command parser, escaping, annotation batches, retry decisions."""

from __future__ import annotations

import pytest

from bot.github import render
from bot.github.checks import Annotation, batches
from bot.github.client import BotError
from bot.github.commands import Command, Level, Unknown, help_table, parse
from bot.github.comments import cap, inert, marker, neutralize
from bot.github.retry import is_rate_limited, wait_seconds


def names(body: str) -> list[str]:
    return [i.name if isinstance(i, Command) else f"?{i.text}" for i in parse(body, "taxonomy-bot")]


def test_one_command_per_line_slash_or_mention() -> None:
    body = "Looks good.\n/generate\n@taxonomy-bot benchmark\n  /help  \nnot /retrain mid-line"
    assert names(body) == ["generate", "benchmark", "help"]
    sha = "0123abc" + "d" * 33
    assert parse(f"/ok-to-generate {sha}", "taxonomy-bot") == [Command("ok-to-generate", (sha,), 1)]


def test_ok_to_generate_takes_only_a_full_sha() -> None:
    # A 7-hex prefix could name a commit pushed after the approval (prefixes are cheap to
    # collide); before, `/ok-to-generate 0123abc` was accepted.
    for arg in ("0123abc", "0123abc" + "d" * 32, "0123abc" + "d" * 34, "G" * 40):
        (found,) = parse(f"/ok-to-generate {arg}", "taxonomy-bot")
        assert isinstance(found, Unknown) and "full commit SHA (40 hex digits)" in found.reason


def test_quotes_and_code_fences_never_run() -> None:
    body = "> /generate\n```\n/release\n```\n~~~\n@taxonomy-bot retrain\n~~~\n"
    assert parse(body, "taxonomy-bot") == []


def test_unknown_and_malformed_commands_are_reported() -> None:
    body = "/generat\n/generate now please\n@taxonomy-bot\n/ok-to-generate zz\n/@everyone`x`"
    found = parse(body, "taxonomy-bot")
    assert all(isinstance(i, Unknown) for i in found)
    reasons = [i.reason for i in found if isinstance(i, Unknown)]
    assert reasons[0] == "unknown command `generat`"
    assert "at most 0 argument" in reasons[1]
    assert reasons[2] == "no command after the mention"
    assert "commit SHA" in reasons[3]
    assert reasons[4] == "not a command name"  # the name itself is never echoed


def test_repeats_count_once_and_other_bots_are_ignored() -> None:
    assert names("/generate\n/GENERATE\n@other-bot release\n/generate") == ["generate"]


def test_help_table_lists_every_command_with_its_level() -> None:
    table = help_table("taxonomy-bot")
    assert "| `/ok-to-generate` | maintain |" in table
    assert "| `/generate` | write |" in table and "| `/help` | anyone |" in table
    assert Level.ADMIN > Level.MAINTAIN > Level.WRITE > Level.NONE


def test_inert_quotes_pr_text_as_one_code_span() -> None:
    evil = (
        "hi @owner and @org/team ![x](https://evil.example/t.png) [click](https://evil.example) "
        "<img src=x> <!-- taxonomy-bot:approved sha=" + "a" * 40 + " by=owner -->\n"
        "<!-- taxonomy-bot:approval -->\u202e| cell ``` fence"
    )
    out = inert(evil, 1000)
    fence = "````"  # longer than the longest backtick run inside (3)
    assert out.startswith(fence) and out.endswith(fence) and out.count(fence) == 2
    assert "\n" not in out and "\u202e" not in out, "one line, no bidi override"
    body = out[len(fence) : -len(fence)]
    assert "@owner" in body and "![x](" in body, "kept as text, inside the span"
    assert inert(evil, 1000, cell=True).count("\\|") == 1, "a table cell's pipe is escaped"
    assert inert("`tick`") == "`` `tick` ``", "padded where the text starts with a backtick"
    assert inert("x" * 500, 50) == "`" + "x" * 49 + "…`"
    assert inert(" \n\t") == "*(empty)*"


def test_neutralize_keeps_the_layout_but_defuses_html_images_and_mentions() -> None:
    report = "<!-- taxonomy-bot:benchmark -->\n**ok** for @owner ![i](http://t) <img src=x>\n"
    out = neutralize(report)
    assert out.startswith("**ok** for @\u2060owner !\\[i](http://t) &lt;img")
    assert "<!--" not in neutralize("# Report\n<!-- taxonomy-bot:approval -->\n")
    assert neutralize("a < b, `x@y`\n") == "a < b, `x@y`\n"
    folded = "<details><summary>more</summary>\n\n| a |\n\n</details>\n"
    assert neutralize(folded) == folded  # the reports' collapsible sections stay
    sneaky = '<details open><summary onclick="x">s</summary><details/x>'
    assert "<details " not in neutralize(sneaky) and "<summary " not in neutralize(sneaky)
    with pytest.raises(ValueError):
        marker("everything")


def test_cap_cuts_at_a_line_break() -> None:
    text = "\n".join(f"- line {i}" for i in range(10_000))
    out = cap(text, 1000)
    assert len(out) <= 1000 and out.endswith("\n\n(cut: too long)")
    kept = out.removesuffix("\n\n(cut: too long)").splitlines()
    assert kept == text.splitlines()[: len(kept)], "whole lines only"
    assert cap("short", 1000) == "short"


def test_annotations_go_in_batches_of_50_with_exact_positions() -> None:
    items = [Annotation("a.yaml", i + 1, 3, "failure", "schema", f"m{i}") for i in range(120)]
    groups = list(batches(items))
    assert [len(g) for g in groups] == [50, 50, 20]
    first = groups[0][0]
    assert (first["start_line"], first["end_line"], first["start_column"]) == (1, 1, 3)
    assert first["annotation_level"] == "failure" and first["title"] == "schema"


def test_validation_json_is_checked_with_located_errors() -> None:
    doc: dict = {"files": [{"path": "taxonomy/a/qna.yaml", "errors": []}]}
    with pytest.raises(BotError, match=r"in.json: files\[0\]: `warnings` must be a list"):
        render.validation(doc, "in.json")
    doc["files"][0] |= {"warnings": [], "errors": [{"line": 2, "column": 1, "rule": "r"}]}
    with pytest.raises(BotError, match=r"files\[0\].errors\[0\]: `message` must be a str"):
        render.validation(doc, "in.json")
    with pytest.raises(BotError, match=r"^in.json:1:2: not JSON"):
        render.load_json("{]", "in.json")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "/etc/passwd"}, "is not a file under taxonomy/"),
        ({"path": "taxonomy/../bot/cli.py"}, "is not a file under taxonomy/"),
        ({"path": "README.md"}, "is not a file under taxonomy/"),
        ({"errors": [{"line": -1, "column": 1, "rule": "schema", "message": "m"}]}, "range"),
        ({"errors": [{"line": True, "column": 1, "rule": "schema", "message": "m"}]}, "an int"),
        ({"errors": [{"line": 1, "column": 1, "rule": "made-up", "message": "m"}]}, "known rule"),
        ({"errors": [{"line": 1, "column": 1, "rule": "**b**", "message": "m"}]}, "known rule"),
    ],
)
def test_validation_report_is_rechecked_not_trusted(entry: dict, message: str) -> None:
    base = {"path": "taxonomy/a/qna.yaml", "errors": [], "warnings": []}
    doc = {"files": [base | entry]}
    with pytest.raises(BotError, match=message):
        render.validation(doc, "in.json", render.known_rules())


def test_validation_counts_come_from_the_entries_not_the_summary() -> None:
    problem = {"line": 3, "column": 1, "rule": "schema", "message": "@owner ![x](http://t)"}
    doc = {
        "files": [{"path": "taxonomy/a/qna.yaml", "errors": [problem], "warnings": []}],
        "summary": {"errors": 0},  # a report claiming success is not believed
    }
    v = render.validation(doc, "in.json", render.known_rules())
    assert v.conclusion == "failure" and v.errors == 1
    text = render.validation_markdown(v, "a" * 40)
    assert "| `taxonomy/a/qna.yaml:3:1` | error `schema` | `@owner ![x](http://t)` |" in text


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
