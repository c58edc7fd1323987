"""The trust model: fork PRs wait for a maintainer's approval of one exact head SHA."""

from __future__ import annotations

from tests.bot.github.conftest import REPO, Run, World, pr_event
from tests.bot.github.test_gh_commands import command


def approval_comment(world: World, n: int) -> str:
    (body,) = [
        c["body"]
        for c in world.gh.comments(n)
        if c["body"].startswith("<!-- taxonomy-bot:approval -->")
    ]
    return str(body)


def test_fork_approval_is_for_one_sha_and_a_push_revokes_it(world: World, run_gh: Run) -> None:
    n = world.pr("stranger", fork=True)
    first = world.gh.head(n)
    assert run_gh("event", event=pr_event("opened", n, first))[0] == 0
    assert "needs-ok-to-generate" in world.gh.labels(n)
    assert "comes from a fork" in approval_comment(world, n)
    code, out, _ = run_gh("gate", "--pr", str(n))
    assert code == 1 and "not approved by a maintainer" in out

    # A writer cannot start GPU work on it; a writer cannot approve it either.
    assert "⛔ `/generate` refused" in command(world, run_gh, n, "writer", "/generate")
    assert "needs maintain access" in command(world, run_gh, n, "writer", "/ok-to-generate")
    assert not world.proxy.calls("POST", r"/dispatches$")

    reply = command(world, run_gh, n, "maintainer", f"/ok-to-generate {first}")
    assert f"approved `{first}`" in reply and "✅" in reply
    assert world.gh.labels(n) == {"bot:generate"}
    assert run_gh("gate", "--pr", str(n), "--sha", first)[0] == 0

    # New commits (emulate moves a PR's head only through update-branch): unapproved.
    world.gh.call("PUT", f"/repos/{REPO}/pulls/{n}/update-branch", "stranger", json={})
    second = world.gh.head(n)
    assert second != first
    code, out, _ = run_gh("gate", "--pr", str(n))
    assert code == 1 and f"approved {first[:7]}, but the head is {second[:7]}" in out
    code, out, _ = run_gh("gate", "--pr", str(n), "--sha", first)
    assert code == 1 and "no longer the head" in out
    assert run_gh("event", event=pr_event("synchronize", n, second))[0] == 0
    assert "needs-ok-to-generate" in world.gh.labels(n)
    assert f"approval of `{first[:7]}` by @maintainer does not carry over" in approval_comment(
        world, n
    )
    # An approval naming the old head is refused, not applied to the new one.
    reply = command(world, run_gh, n, "maintainer", f"/ok-to-generate {first}")
    assert f"refused: the head is now `{second}`, not `{first}`" in reply
    assert run_gh("gate", "--pr", str(n))[0] == 1


def test_trusted_author_needs_no_approval(world: World, run_gh: Run) -> None:
    n = world.pr("writer")
    assert run_gh("event", event=pr_event("opened", n, world.gh.head(n)))[0] == 0
    assert "needs-ok-to-generate" not in world.gh.labels(n)
    code, out, _ = run_gh("gate", "--pr", str(n))
    assert code == 0 and "write access" in out


def test_approve_label_from_a_maintainer_only(world: World, run_gh: Run) -> None:
    n = world.pr("stranger", fork=True)
    sha = world.gh.head(n)
    for who, ok in (("writer", False), ("maintainer", True)):
        label = {"labels": ["ok-to-generate"]}
        world.gh.call("POST", f"/repos/{REPO}/issues/{n}/labels", json=label)
        event = pr_event("labeled", n, sha, label={"name": "ok-to-generate"}, sender={"login": who})
        code, out, _ = run_gh("event", event=event)
        assert code == 0
        assert "ok-to-generate" not in world.gh.labels(n), "the label is consumed"
        assert run_gh("gate", "--pr", str(n))[0] == (0 if ok else 1), out


def test_dispatched_workflow_gates_itself(world: World, run_gh: Run) -> None:
    n = world.pr("stranger", fork=True)
    sha = world.gh.head(n)
    event = ("workflow_dispatch", {"inputs": {"pr": str(n), "sha": sha}, "ref": "refs/heads/main"})
    code, out, _ = run_gh("event", event=event)
    assert code == 1 and out.startswith("refused:")
    assert run_gh("event", event=pr_event("opened", n, sha))[0] == 0  # the bot records the head
    command(world, run_gh, n, "owner", "/ok-to-generate")
    assert run_gh("event", event=event)[0] == 0
    code, out, _ = run_gh("event", event=("workflow_dispatch", {"inputs": {}}))
    assert code == 0 and "no gate needed" in out
