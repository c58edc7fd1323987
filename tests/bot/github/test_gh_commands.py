"""Each PR command with a user who may run it and one who may not, through `bot gh event`."""

from __future__ import annotations

import pytest

from tests.bot.github.conftest import Run, World, comment_event


def command(world: World, run_gh: Run, number: int, who: str, text: str) -> str:
    """Post `text` as `who`, run the event, return the bot's reply."""
    made = world.comment(number, who, text)
    code, out, err = run_gh("event", event=comment_event(number, made))
    assert code == 0, err
    replies = [
        c["body"]
        for c in world.gh.comments(number)
        if c["user"]["login"] == "taxonomy-bot" and c["body"].startswith(f"@{who}:")
    ]
    assert replies, out
    reactions = world.proxy.calls("POST", rf"/issues/comments/{made['id']}/reactions$")
    assert len(reactions) == 1, "every command comment gets a reaction"
    return replies[-1]


def dispatched(world: World, workflow: str) -> list[dict]:
    return [c.body for c in world.proxy.calls("POST", rf"/actions/workflows/{workflow}/dispatches")]


@pytest.mark.parametrize(
    ("name", "allowed", "refused", "needs"),
    [
        ("generate", "writer", "reader", "write"),
        ("benchmark", "writer", "stranger", "write"),
        ("retrain", "maintainer", "writer", "maintain"),
        ("release", "owner", "writer", "maintain"),
    ],
)
def test_commands_allowed_and_refused(
    world: World, run_gh: Run, name: str, allowed: str, refused: str, needs: str
) -> None:
    n = world.pr("writer")
    sha = world.gh.head(n)
    reply = command(world, run_gh, n, refused, f"/{name}")
    assert f"⛔ `/{name}` needs {needs} access" in reply
    assert not world.proxy.calls("POST", r"/dispatches$")
    reply = command(world, run_gh, n, allowed, f"@taxonomy-bot {name}")
    assert f"✅ `/{name}`" in reply
    (body,) = dispatched(world, f"{name}.yml")
    assert body["ref"] == "main" and body["inputs"]["pr"] == str(n)
    if name == "release":  # the release job reads the requester from this comment itself
        assert set(body["inputs"]) == {"pr", "comment"}
    else:
        assert body["inputs"]["sha"] == sha and body["inputs"]["requested_by"] == allowed
    # emulate@0.11.2 cannot register workflows (404): the visible fallback is a label.
    assert "recorded as label `bot:" in reply and f"bot:{name}" in world.gh.labels(n)


def test_help_and_unknown_commands_answer_with_the_table(world: World, run_gh: Run) -> None:
    n = world.pr("writer")
    reply = command(world, run_gh, n, "stranger", "/help")
    assert "| `/ok-to-generate` | maintain |" in reply and "✅ `/help`" in reply
    reply = command(world, run_gh, n, "stranger", "thanks!\n/generat")
    assert "unknown command `generat`" in reply and "| command | who may run it |" in reply


def test_comment_without_commands_gets_no_reply(world: World, run_gh: Run) -> None:
    n = world.pr("writer")
    made = world.comment(n, "writer", "Nice leaf. > /generate is what I'd run")
    code, out, _ = run_gh("event", event=comment_event(n, made))
    assert code == 0 and "no command" in out
    assert len(world.gh.comments(n)) == 1
    assert not world.proxy.calls("POST", r"/reactions$")


def test_team_list_comes_from_the_base_branch(world: World, run_gh: Run) -> None:
    # teamlead has no collaborator role; main's bot.yaml names them a maintainer. The PR's own
    # bot.yaml (naming stranger) must change nothing.
    n = world.pr("writer", files={"bot.yaml": "github:\n  maintainers: [stranger]\n"})
    assert "✅ `/retrain`" in command(world, run_gh, n, "teamlead", "/retrain")
    refused = command(world, run_gh, n, "stranger", "/retrain")
    assert "⛔ `/retrain` needs maintain access" in refused
    reads = world.proxy.calls("GET", r"/contents/bot.yaml$")
    assert reads and all(c.query == "ref=main" for c in reads)


def test_bots_own_comments_are_not_obeyed(world: World, run_gh: Run) -> None:
    n = world.pr("writer")
    made = world.comment(n, "bot", "/release")  # tok_bot: the bot's own login
    code, out, _ = run_gh("event", event=comment_event(n, made))
    assert code == 0 and "not obeyed" in out
    assert not world.proxy.calls("POST", r"/dispatches$")
