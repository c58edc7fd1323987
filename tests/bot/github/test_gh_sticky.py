"""Sticky comments and check runs against the real emulator (through the recording proxy)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.github.conftest import REPO, Run, World
from tests.bot.github.ghproxy import Fault


def sticky(world: World, number: int, kind: str) -> list[dict]:
    mark = f"<!-- taxonomy-bot:{kind} -->"
    return [c for c in world.gh.comments(number) if c["body"].startswith(mark)]


def test_rerun_edits_the_one_comment_in_place(world: World, run_gh: Run, tmp_path: Path) -> None:
    n = world.pr("writer")
    report = tmp_path / "report.md"
    report.write_text("## Benchmark\n\n| task | delta |\n|---|---|\n| math | +1.0 |\n")
    assert run_gh("post-benchmark", "--pr", str(n), "--input", str(report))[0] == 0
    first = sticky(world, n, "benchmark")
    report.write_text("## Benchmark\n\n| task | delta |\n|---|---|\n| math | +2.5 |\n")
    code, out, _ = run_gh("post-benchmark", "--pr", str(n), "--input", str(report))
    assert code == 0 and "updated" in out
    again = sticky(world, n, "benchmark")
    assert len(again) == 1 and again[0]["id"] == first[0]["id"] and "+2.5" in again[0]["body"]
    assert run_gh("post-benchmark", "--pr", str(n), "--input", str(report))[0] == 0
    assert not world.proxy.calls("PATCH", r"/issues/comments/")[1:], "unchanged: no edit"
    assert len(sticky(world, n, "benchmark")) == 1


def test_markers_by_others_are_ignored_and_duplicates_removed(
    world: World, run_gh: Run, tmp_path: Path
) -> None:
    n = world.pr("writer")
    planted = world.comment(n, "stranger", "<!-- taxonomy-bot:release -->\nplanted")
    for _ in range(2):  # two racing runs left two copies
        world.gh.call("POST", f"/repos/{REPO}/issues/{n}/comments", "taxonomy-bot",
                      json={"body": "<!-- taxonomy-bot:release -->\nold"})  # fmt: skip
    notes = tmp_path / "notes.md"
    notes.write_text("Release v3: <!-- taxonomy-bot:approval --> inert")
    assert run_gh("post-release", "--pr", str(n), "--input", str(notes))[0] == 0
    bodies = {c["user"]["login"]: c["body"] for c in sticky(world, n, "release")}
    assert bodies["stranger"] == planted["body"]
    mine = [c for c in sticky(world, n, "release") if c["user"]["login"] == "taxonomy-bot"]
    assert len(mine) == 1 and "&lt;!-- taxonomy-bot:approval" in mine[0]["body"]


def test_502_on_create_is_retried_without_duplicates(
    world: World, run_gh: Run, tmp_path: Path
) -> None:
    n = world.pr("writer")
    report = tmp_path / "r.md"
    report.write_text("generation summary")
    # Rejected before reaching GitHub, then processed-but-502: neither may duplicate.
    world.proxy.inject(Fault("POST", rf"/issues/{n}/comments$", 502))
    world.proxy.inject(Fault("POST", rf"/issues/{n}/comments$", 502, forward=True))
    code, _out, err = run_gh("post-generation", "--pr", str(n), "--input", str(report))
    assert code == 0, err
    assert [c.status for c in world.proxy.calls("POST", rf"/issues/{n}/comments$")] == [502, 502]
    assert len(sticky(world, n, "generation")) == 1


def test_gets_retry_5xx_and_secondary_rate_limits(world: World, run_gh: Run) -> None:
    n = world.pr("writer")
    world.proxy.inject(Fault("GET", rf"/pulls/{n}$", 502, times=2))
    limit = {"message": "You have exceeded a secondary rate limit. Please wait."}
    world.proxy.inject(Fault("GET", r"/contents/bot.yaml", 403, headers={"Retry-After": "1"},
                             body=limit))  # fmt: skip
    import time

    began = time.monotonic()
    code, out, err = run_gh("gate", "--pr", str(n))
    assert code == 0 and out.startswith("allowed:"), err
    assert time.monotonic() - began >= 1.0, "Retry-After: 1 was honoured"
    assert [c.status for c in world.proxy.calls("GET", rf"/pulls/{n}$")][:3] == [502, 502, 200]
    assert "rate limited; retry 1/4 in 1.0s" in err


def validation_doc(problems: int) -> dict:
    errors = [
        {"line": i + 1, "column": 3, "rule": "schema", "message": f"problem {i}"}
        for i in range(problems)
    ]
    warn = {"line": 7, "column": 9, "rule": "duplicate-across-leaves", "message": "<b>similar</b>"}
    return {
        "files": [
            {"path": "taxonomy/a/qna.yaml", "errors": errors, "warnings": [warn]},
            {"path": "taxonomy/b/qna.yaml", "errors": [], "warnings": []},
        ],
        "deleted": [],
        "summary": {"files": 2, "errors": problems, "warnings": 1},
    }


def test_validation_check_run_annotates_exact_lines_in_batches(
    world: World, run_gh: Run, tmp_path: Path
) -> None:
    n = world.pr("writer")
    sha = world.gh.head(n)
    data = tmp_path / "v.json"
    data.write_text(json.dumps(validation_doc(119)))
    code, out, err = run_gh("post-validation", "--pr", str(n), "--input", str(data))
    assert code == 0, err
    assert "check run" in out and "120 annotation(s) in 3 call(s)" in out
    sent = world.proxy.calls("POST", r"/check-runs$") + world.proxy.calls("PATCH", r"/check-runs/")
    batches = [c.body["output"]["annotations"] for c in sent]
    assert [len(b) for b in batches] == [50, 50, 20]
    flat = [a for b in batches for a in b]
    assert flat[0] == {
        "path": "taxonomy/a/qna.yaml", "start_line": 1, "end_line": 1, "start_column": 3,
        "end_column": 3, "annotation_level": "failure", "title": "schema", "message": "problem 0",
    }  # fmt: skip
    assert flat[-1]["start_line"] == 7 and flat[-1]["annotation_level"] == "warning"
    runs = world.gh.call("GET", f"/repos/{REPO}/commits/{sha}/check-runs")["check_runs"]
    run = next(r for r in runs if r["name"] == "taxonomy-bot/validation")
    assert run["conclusion"] == "failure" and run["head_sha"] == sha
    assert run["output"]["title"] == "119 error(s), 1 warning(s) in 2 file(s)"
    (comment,) = sticky(world, n, "validation")
    assert "| `taxonomy/a/qna.yaml:3:3` | error `schema` | `problem 2` |" in comment["body"]
    assert "20 more: see the check run's annotations." in comment["body"]


def test_commit_status_when_check_runs_are_refused(
    world: World, run_gh: Run, tmp_path: Path
) -> None:
    n = world.pr("writer")
    sha = world.gh.head(n)
    data = tmp_path / "v.json"
    data.write_text(json.dumps(validation_doc(0)))
    refused = {"message": "Resource not accessible by integration"}
    world.proxy.inject(Fault("POST", r"/check-runs$", 403, body=refused))
    code, out, err = run_gh("post-validation", "--pr", str(n), "--input", str(data))
    assert code == 0, err
    assert "commit status" in out and "posting a commit status instead" in err
    assert world.proxy.statuses[sha][0]["state"] == "success"
    assert world.proxy.statuses[sha][0]["context"] == "taxonomy-bot/validation"
    body = sticky(world, n, "validation")[0]["body"]
    assert (
        "`taxonomy/a/qna.yaml:7:9` | warning `duplicate-across-leaves` | `<b>similar</b>` |" in body
    )
