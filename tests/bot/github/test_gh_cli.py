"""End to end through the real `bot` entry point: environment, errors, secrets, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.github.conftest import REPO, Run, World, pr_event
from tests.bot.github.ghproxy import Fault
from tests.conftest import run_bot

SECRET = "tok_bot"


def env(world: World, tmp_path: Path, event: tuple[str, dict] | None = None) -> dict[str, str]:
    out = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": SECRET,
        "GITHUB_API_URL": world.proxy.url,
        "BOT_GH_BACKOFF": "0.01",
        "BOT_LOG_DIR": str(tmp_path / "logs"),
    }
    if event:
        (tmp_path / "event.json").write_text(json.dumps(event[1]))
        out |= {"GITHUB_EVENT_NAME": event[0], "GITHUB_EVENT_PATH": str(tmp_path / "event.json")}
    return out


def test_event_through_the_cli_labels_a_fork_pr(world: World, tmp_path: Path) -> None:
    world.proxy.reset()
    n = world.pr("stranger", fork=True)
    event = pr_event("opened", n, world.gh.head(n))
    proc = run_bot("gh", "event", cwd=tmp_path, env=env(world, tmp_path, event))
    assert proc.returncode == 0, proc.stderr
    assert f"#{n} awaits approval: #{n} comes from a fork" in proc.stdout
    assert "needs-ok-to-generate" in world.gh.labels(n)
    assert all(call.auth == f"token {SECRET}" for call in world.proxy.log)


def test_bad_token_is_one_line_exit_1_and_masked(world: World, tmp_path: Path) -> None:
    # emulate@0.11.2 accepts any token (it falls back to a seeded user): the 401 is injected.
    world.proxy.reset()
    n = world.pr("writer")
    world.proxy.inject(Fault("GET", r"/pulls/", 401, body={"message": "Bad credentials"}))
    proc = run_bot("gh", "gate", "--pr", str(n), cwd=tmp_path, env=env(world, tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"bot gh gate: error: GitHub rejected the token (401 Bad credentials) on "
        f"GET /repos/{REPO}/pulls/{n}"
    ]
    assert SECRET not in proc.stdout + proc.stderr


def test_missing_permission_names_it(world: World, run_gh: Run, tmp_path: Path) -> None:
    n = world.pr("writer")
    report = tmp_path / "r.md"
    report.write_text("# Benchmarks\n")
    refused = {"message": "Resource not accessible by integration"}
    world.proxy.inject(Fault("POST", rf"/issues/{n}/comments$", 403, body=refused))
    code, _out, err = run_gh("post-benchmark", "--pr", str(n), "--input", str(report))
    assert code == 1 and "Traceback" not in err
    assert "missing permission on POST" in err and "needs issues: write" in err


def test_usage_errors_exit_2(world: World, tmp_path: Path) -> None:
    bare = {"GITHUB_REPOSITORY": "", "GITHUB_TOKEN": ""}
    proc = run_bot("gh", "gate", "--pr", "1", cwd=tmp_path, env=bare)
    assert proc.returncode == 2
    missing = "missing environment variable GITHUB_REPOSITORY, GITHUB_TOKEN"
    assert proc.stderr == f"bot gh: error: {missing}\n"
    broken = env(world, tmp_path, ("push", {}))
    (tmp_path / "event.json").write_text("{nope")
    proc = run_bot("gh", "event", cwd=tmp_path, env=broken)
    assert proc.returncode == 2 and "event.json:1:2:" in proc.stderr
    proc = run_bot("gh", "post-validation", "--pr", "1", cwd=tmp_path, env=env(world, tmp_path))
    assert proc.returncode == 2 and proc.stderr == "bot gh: error: stdin: the input is empty\n"


def test_bad_validation_input_is_located(world: World, run_gh: Run, tmp_path: Path) -> None:
    n = world.pr("writer")
    data = tmp_path / "v.json"
    data.write_text(json.dumps({"files": [{"path": 3}]}))
    code, _, err = run_gh("post-validation", "--pr", str(n), "--input", str(data))
    assert code == 1 and err.strip().endswith("v.json: files[0]: `path` must be a str")
    assert not world.proxy.calls("POST", r"/check-runs$")


def workflow_run(head: str, **extra: object) -> tuple[str, dict]:
    run = {
        "id": 4242, "run_number": 9, "name": "generate", "path": ".github/workflows/generate.yml",
        "conclusion": "failure", "head_sha": head, "pull_requests": [],
        "event": "workflow_dispatch", "head_repository": {"full_name": REPO}, **extra,
    }  # fmt: skip
    return "workflow_run", {"action": "completed", "workflow_run": run, "repository": {}}


def test_failed_run_posts_a_short_note_not_stderr(world: World, run_gh: Run) -> None:
    n = world.pr("stranger", fork=True)
    for _ in range(2):
        code, _out, err = run_gh("event", event=workflow_run(world.gh.head(n)))
        assert code == 0, err
    (note,) = [c["body"] for c in world.gh.comments(n) if "taxonomy-bot:generation" in c["body"]]
    assert "### ❌ Generation failed" in note and "ended with failure" in note
    assert f"https://github.com/{REPO}/actions/runs/4242" in note and "`bot-logs`" in note


@pytest.mark.parametrize(
    "spoof",
    [
        # A fork's PR adds a workflow called `generate`: bot.yml's `workflows: [generate]`
        # matches it by name, and its run fails on purpose.
        {"event": "pull_request", "head_repository": {"full_name": "stranger/taxonomy"}},
        {"event": "pull_request", "path": ".github/workflows/generate.yml"},
        {"head_repository": {"full_name": "stranger/taxonomy"}},
        {"path": "other/generate.yml"},
    ],
)
def test_a_workflow_that_copies_a_bot_workflows_name_is_not_the_bots(
    world: World, run_gh: Run, spoof: dict
) -> None:
    n = world.pr("stranger", fork=True)
    code, out, err = run_gh("event", event=workflow_run(world.gh.head(n), **spoof))
    assert code == 0, err
    assert "is not one of the bot's runs" in out
    assert not [c for c in world.gh.comments(n) if "taxonomy-bot:generation" in c["body"]]


def test_unexpected_crash_writes_a_log_not_a_traceback(
    world: World, run_gh: Run, tmp_path: Path, monkeypatch
) -> None:
    from bot.github import trust

    def boom(*_: object) -> None:
        raise RuntimeError(f"internal detail with {SECRET}")

    monkeypatch.setattr(trust, "pull_request", boom)
    code, _out, err = run_gh("gate", "--pr", "1")
    assert code == 1 and "internal error (RuntimeError)" in err and "Traceback" not in err
    (log,) = (tmp_path / "logs").iterdir()
    text = log.read_text()
    assert "Traceback" in text and SECRET not in text and "***" in text


def test_real_validate_output_becomes_annotations(
    world: World, run_gh: Run, tmp_path: Path, write_leaf
) -> None:
    from tests.conftest import skill_doc

    write_leaf("compositional_skills/short", skill_doc(n=2, seed=4))
    proc = run_bot("validate", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    (tmp_path / "v.json").write_text(proc.stdout)
    n = world.pr("writer")
    code, _out, err = run_gh("post-validation", "--pr", str(n), "--input", str(tmp_path / "v.json"))
    assert code == 0, err
    (sent,) = world.proxy.calls("POST", r"/check-runs$")
    (note,) = sent.body["output"]["annotations"]
    assert note["path"] == "taxonomy/compositional_skills/short/qna.yaml"
    assert (note["start_line"], note["title"]) == (5, "schema")


def test_push_to_main_retrains_only_on_taxonomy_changes(world: World, run_gh: Run) -> None:
    base = {"ref": "refs/heads/main", "after": "f" * 40, "repository": {"default_branch": "main"}}
    docs = {**base, "commits": [{"added": [], "modified": ["README.md"], "removed": []}]}
    code, out, _ = run_gh("event", event=("push", docs))
    assert code == 0 and "no taxonomy change" in out
    leaf = {**base, "commits": [{"added": ["taxonomy/x/qna.yaml"], "modified": [], "removed": []}]}
    code, out, err = run_gh("event", event=("push", leaf))
    assert code == 1 and "retrain.yml" in err  # no PR to label: the 404 is reported, not hidden
    (sent,) = world.proxy.calls("POST", r"/retrain.yml/dispatches$")
    assert sent.body == {"ref": "main", "inputs": {"sha": "f" * 40}}
