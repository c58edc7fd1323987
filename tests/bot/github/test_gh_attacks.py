"""Issue 17's attacks, each played against the GitHub emulator as a fork author (or another
workflow) would, and refused. Each of these passed before the fix."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from bot.github import requester
from bot.github.client import Client, read_env
from bot.github.settings import default_config
from tests.bot.github.conftest import REPO, Run, World, comment_event, pr_event
from tests.bot.github.test_gh_commands import command, dispatched
from tests.conftest import run_bot, skill_doc

OURS = f"https://github.com/{REPO}/actions/runs/"
SITE = "https://owner.github.io/taxonomy/"  # the project site every comment links to
EVIL = "@owner @org/team ![t](https://evil.example/t.png) [x](https://evil.example) <img src=x>"


def live(markdown: str) -> list[str]:
    """What GitHub would make live in `markdown`: HTML tags, links, images and mentions
    outside code spans (rendered with a real CommonMark + tables parser)."""
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    outside = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    for own in (OURS, SITE):  # the bot's own links: its runs and the project site
        outside = outside.replace(f'<a href="{own}', "").replace(own, "")
    found = re.findall(r"<(?:img|a)\b[^>]*>", outside)
    found += re.findall(r"@[A-Za-z0-9]", outside)  # GitHub links these in text
    found += re.findall(r"https?://", outside)  # and autolinks bare URLs
    return found


def bot_comments(world: World, n: int, mark: str) -> list[str]:
    return [
        c["body"]
        for c in world.gh.comments(n)
        if c["user"]["login"] == "taxonomy-bot" and c["body"].startswith(mark)
    ]


# --- approvals -----------------------------------------------------------------------------


def test_a_sha_prefix_approves_nothing(world: World, run_gh: Run) -> None:
    n = world.pr("stranger", fork=True)
    sha = world.gh.head(n)
    reply = command(world, run_gh, n, "maintainer", f"/ok-to-generate {sha[:7]}")
    assert "takes the full commit SHA (40 hex digits)" in reply and "approved" not in reply
    assert not world.proxy.calls("POST", r"/dispatches$")
    assert run_gh("gate", "--pr", str(n), "--sha", sha)[0] == 1


@pytest.mark.parametrize("synced", [False, True], ids=["before-the-bot-saw-it", "after"])
def test_a_bare_approval_is_refused_when_the_head_moved_after_the_comment(
    world: World, run_gh: Run, synced: bool
) -> None:
    n = world.pr("stranger", fork=True)
    first = world.gh.head(n)
    assert run_gh("event", event=pr_event("opened", n, first))[0] == 0  # the bot records `first`
    made = world.comment(n, "maintainer", "/ok-to-generate")  # reviewed `first`
    world.gh.call("PUT", f"/repos/{REPO}/pulls/{n}/update-branch", "stranger", json={})
    second = world.gh.head(n)  # pushed between the comment and the bot's read of it
    if synced:
        assert run_gh("event", event=pr_event("synchronize", n, second))[0] == 0
    code, out, err = run_gh("event", event=comment_event(n, made))
    assert code == 0, err
    assert f"may have moved after your comment was written; review that commit and comment " \
           f"`/ok-to-generate {second}`" in out  # fmt: skip
    assert not world.proxy.calls("POST", r"/dispatches$")
    assert run_gh("gate", "--pr", str(n), "--sha", second)[0] == 1


def test_a_bare_approval_of_the_recorded_head_states_the_sha(world: World, run_gh: Run) -> None:
    n = world.pr("stranger", fork=True)
    sha = world.gh.head(n)
    assert run_gh("event", event=pr_event("opened", n, sha))[0] == 0
    reply = command(world, run_gh, n, "maintainer", "/ok-to-generate")
    assert f"✅ `/ok-to-generate`: approved `{sha}`" in reply
    (body,) = dispatched(world, "generate.yml")
    assert body["inputs"]["sha"] == sha
    assert run_gh("gate", "--pr", str(n), "--sha", sha)[0] == 0


# --- branches other than the default one ---------------------------------------------------


def test_prs_into_another_branch_get_no_gpu_work_and_its_grants_count_for_nothing(
    world: World, run_gh: Run
) -> None:
    # Whoever can push `side` can edit its workflows and bot.yaml (granting `stranger`).
    if "side" not in {b["name"] for b in world.gh.call("GET", f"/repos/{REPO}/branches")}:
        world.branch("side", {"bot.yaml": "github:\n  maintainers: [stranger]\n"})
    n = world.pr("writer", base="side")
    sha = world.gh.head(n)
    assert "⛔ `/retrain` needs maintain access" in command(
        world, run_gh, n, "stranger", "/retrain"
    )
    reply = command(world, run_gh, n, "writer", "/generate")
    assert f"⛔ `/generate` refused: #{n} targets `side`, not `main`" in reply
    reply = command(world, run_gh, n, "maintainer", f"/ok-to-generate {sha}")
    assert "refused" in reply and "targets `side`" in reply
    assert not world.proxy.calls("POST", r"/dispatches$")
    code, out, _ = run_gh("gate", "--pr", str(n), "--sha", sha)
    assert code == 1 and "targets `side`" in out
    assert all(c.query == "ref=main" for c in world.proxy.calls("GET", r"/contents/bot.yaml$"))


# --- comments ------------------------------------------------------------------------------


def test_a_leaf_with_mentions_and_image_links_renders_inert(
    world: World, run_gh: Run, tmp_path: Path, write_leaf
) -> None:
    doc = skill_doc(seed=7)
    doc[EVIL] = "x"  # an unknown key: the validator quotes it in its message
    write_leaf("compositional_skills/evil", doc)
    proc = run_bot("validate", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1 and "evil.example" in proc.stdout
    (tmp_path / "v.json").write_text(proc.stdout)
    n = world.pr("stranger", fork=True)
    code, _, err = run_gh("post-validation", "--pr", str(n), "--input", str(tmp_path / "v.json"))
    assert code == 0, err
    (body,) = bot_comments(world, n, "<!-- taxonomy-bot:validation -->")
    assert "evil.example/t.png" in body and live(body) == []
    (sent,) = world.proxy.calls("POST", r"/check-runs$")
    assert live(sent.body["output"]["summary"]) == []


def test_generated_samples_render_inert(world: World, run_gh: Run, tmp_path: Path) -> None:
    leaf = "compositional_skills/evil"
    data = tmp_path / "data" / f"{leaf}.jsonl"
    data.parent.mkdir(parents=True)
    row = {"messages": [{"role": "user", "content": f"Q {EVIL}\n\n<!-- taxonomy-bot:approval -->"},
                        {"role": "assistant", "content": f"A | {EVIL} ``` x"}],
           "metadata": {"source": "generated"}}  # fmt: skip
    data.write_text(json.dumps(row) + "\n")
    report = {"leaves": [{"path": leaf, "status": "ok", "kept": 1, "model_calls": 2},
                         {"path": "../../../etc/passwd", "status": EVIL}],
              "summary": {"kept": 1, "model_calls": 2, "failed": 0}}  # fmt: skip
    (tmp_path / "g.json").write_text(json.dumps(report))
    n = world.pr("stranger", fork=True)
    args = ("--input", str(tmp_path / "g.json"), "--samples", str(tmp_path / "data"))
    code, _, err = run_gh("post-generation", "--pr", str(n), "--sha", "a" * 40, *args)
    assert code == 0, err
    (body,) = bot_comments(world, n, "<!-- taxonomy-bot:generation -->")
    assert "#### Sample Q&A" in body and body.count("evil.example/t.png") == 2
    assert live(body) == []
    markers = [line for line in body.splitlines() if line.lstrip().startswith("<!--")]
    assert markers == ["<!-- taxonomy-bot:generation -->"], "quoted markers never head a line"
    rows = [line for line in body.splitlines() if line.startswith("| `compositional")]
    assert [r.count(" | ") for r in rows] == [3, 2], "pipes in text never add a table cell"


def test_command_replies_quote_inertly_and_are_capped(world: World, run_gh: Run) -> None:
    n = world.pr("writer")
    reply = command(world, run_gh, n, "stranger", f"/{EVIL}")
    mention, rest = reply.split("\n", 1)
    assert mention == "@stranger:", "the bot answers the commenter, by name"
    assert "not a command name" in rest and live(rest) == []
    # 10,000 command lines once produced a 458k-character reply.
    flood = "\n".join(f"/n{i} @owner" for i in range(5_000))  # fits GitHub's 65,536
    reply = command(world, run_gh, n, "stranger", flood)
    assert len(reply) <= 6_000 and "4990 more command line(s) ignored" in reply


# --- bot.yaml in a pull request ------------------------------------------------------------


def test_a_prs_bot_yaml_is_validated_never_applied(
    world: World, run_gh: Run, tmp_path: Path
) -> None:
    evil = (
        "generate:\n  teacher: openai:https://evil.example/v1\n"
        "github:\n  maintainers: [stranger]\n  bogus: 1\n"
    )
    n = world.pr("writer", files={"bot.yaml": evil})
    (tmp_path / "v.json").write_text(json.dumps({"files": [], "deleted": []}))
    code, out, err = run_gh("post-validation", "--pr", str(n), "--input", str(tmp_path / "v.json"))
    assert code == 0, err
    assert "1 error(s)" in out
    (sent,) = world.proxy.calls("POST", r"/check-runs$")
    assert sent.body["conclusion"] == "failure"
    (note,) = sent.body["output"]["annotations"]
    assert (note["path"], note["title"], note["start_line"]) == ("bot.yaml", "config", 5)
    (body,) = bot_comments(world, n, "<!-- taxonomy-bot:validation -->")
    assert "apply only after a maintainer reviews and merges them" in body
    assert "⛔ `/retrain` needs maintain" in command(world, run_gh, n, "stranger", "/retrain")


# --- releases ------------------------------------------------------------------------------

BOT = {"GITHUB_ACTOR": "github-actions[bot]", "GITHUB_TRIGGERING_ACTOR": "github-actions[bot]"}


def release_gate(run_gh: Run, *args: str, **env: str) -> tuple[int, str]:
    code, out, err = run_gh("release-gate", *args, extra=env)
    assert code in (0, 1), err
    return code, out


def test_a_release_dispatched_by_another_workflow_is_refused(world: World, run_gh: Run) -> None:
    # Any workflow with `actions: write` dispatches as github-actions[bot] with any inputs; the
    # old gate then believed `requested_by: owner`.
    n = world.pr("writer")
    code, out = release_gate(run_gh, "--pr", str(n), **BOT)
    assert code == 1 and "without a `/release` comment" in out
    by_writer = world.comment(n, "writer", "/release")
    code, out = release_gate(run_gh, "--pr", str(n), "--comment", str(by_writer["id"]), **BOT)
    assert code == 1 and "@writer has write access" in out
    chat = world.comment(n, "owner", "> /release\nshould we release?")
    code, out = release_gate(run_gh, "--pr", str(n), "--comment", str(chat["id"]), **BOT)
    assert code == 1 and "is not a `/release` request" in out
    other = world.pr("writer")
    asked = world.comment(other, "owner", "/release")
    code, out = release_gate(run_gh, "--pr", str(n), "--comment", str(asked["id"]), **BOT)
    assert code == 1 and f"is not on #{n}" in out
    code, out = release_gate(run_gh, "--pr", str(other), "--comment", str(asked["id"]), **BOT)
    assert code == 0 and "@owner asked" in out


def test_release_honours_the_default_branchs_grants_and_the_people_who_ran_it(
    world: World, run_gh: Run
) -> None:
    n = world.pr("writer")
    asked = world.comment(n, "teamlead", "/release")  # maintainer by main's bot.yaml only
    code, out = release_gate(run_gh, "--pr", str(n), "--comment", str(asked["id"]), **BOT)
    assert code == 0 and "@teamlead asked" in out, out
    assert release_gate(run_gh, GITHUB_ACTOR="owner")[0] == 0
    assert release_gate(run_gh, GITHUB_ACTOR="teamlead")[0] == 0
    code, out = release_gate(run_gh, GITHUB_ACTOR="writer")
    assert code == 1 and "@writer has write access" in out
    rerun = {"GITHUB_ACTOR": "owner", "GITHUB_TRIGGERING_ACTOR": "writer"}
    assert release_gate(run_gh, **rerun)[0] == 1, "a re-run by a writer is not the owner's"


def test_a_stale_release_comment_is_not_a_request(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = world.pr("writer")
    asked = world.comment(n, "owner", "/release")
    env = read_env({"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "tok_bot",
                    "GITHUB_API_URL": world.proxy.url})  # fmt: skip
    client = Client(env, backoff=0.01)
    cfg = default_config(client)
    created = requester.timestamp(asked["created_at"])
    assert created is not None
    who = requester.Actors("github-actions[bot]", "")
    for delay, allowed in ((timedelta(minutes=5), True), (timedelta(hours=2), False)):
        verdict = requester.authorize(client, cfg, who, n, asked["id"], now=created + delay)
        assert verdict.allowed is allowed, verdict.reason
