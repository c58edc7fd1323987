"""What the site reads, and how bad or missing inputs show: never a crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bot.site.collect import evaluation, read_report
from bot.site.model import Evaluation
from bot.stages.site import SiteRequest, site
from bot.workspace import Workspace
from tests.bot.site.conftest import INVALID, LEAVES, MERGES, SiteRepo, make_repo


def built(ws: Workspace, out: Path) -> dict[str, str]:
    site(ws, SiteRequest(out=out))
    return {str(p.relative_to(out)): p.read_text("utf-8") for p in out.rglob("*.html")}


def test_a_fresh_repository_without_a_work_folder_builds_a_site(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    ws = Workspace.open(repo.path)
    pages = built(ws, tmp_path / "site")
    assert "No release yet." in pages["index.html"]
    assert "no benchmark report in this workspace yet" in pages["index.html"]
    assert "No retrain reports kept yet" in pages["history.html"]
    assert "No releases yet" in pages["releases/index.html"]
    leaf = pages[f"leaves/{LEAVES[0]}.html"]
    assert "not generated yet" in leaf and "not evaluated in any kept report" in leaf


def test_a_leaf_that_fails_validation_shows_file_line_column_rule(
    site_repo: SiteRepo, tmp_path: Path
) -> None:
    pages = built(site_repo.ws, tmp_path / "site")
    leaf = pages[f"leaves/{INVALID}.html"]
    assert "This leaf fails validation" in leaf
    assert f"taxonomy/{INVALID}/qna.yaml:1:1 " in leaf and "created_by" in leaf
    assert "1 invalid" in pages["taxonomy.html"] and "1 invalid" in pages["index.html"]


def test_older_and_unreadable_reports_show_as_such(site_repo: SiteRepo, tmp_path: Path) -> None:
    history = site_repo.ws.layout.history
    (history / "000004" / "report.json").write_text("{not json", "utf-8")
    pages = built(site_repo.ws, tmp_path / "site")
    assert "older format (report format v1): not shown" in pages["history.html"]
    assert "unreadable (JSONDecodeError)" in pages["history.html"]
    assert "history/000004/report.json: unreadable" in pages["index.html"]  # listed as a problem
    assert pages["history.html"].count('class="heat"') == 1


def test_a_release_without_its_evaluation_says_so(site_repo: SiteRepo, tmp_path: Path) -> None:
    pages = built(site_repo.ws, tmp_path / "site")
    assert "the manifest&#x27;s summary only" in pages["releases/0.1.0.html"]
    shutil.rmtree(site_repo.ws.layout.release("0.2.0"))
    manifest = site_repo.root / "releases" / "0.1.0" / "manifest.yaml"
    manifest.write_text("version: [unclosed\n", "utf-8")
    pages = built(site_repo.ws, tmp_path / "site")
    assert "manifest.yaml unreadable" in pages["releases/0.1.0.html"]
    assert "no evaluation for this release" in pages["releases/0.1.0.html"]
    assert "the manifest&#x27;s summary only" in pages["releases/0.2.0.html"]
    assert "Evaluation of v0.2.0" in pages["index.html"]


def test_a_damaged_store_entry_and_missing_samples(site_repo: SiteRepo, tmp_path: Path) -> None:
    ws = site_repo.ws
    record = next((ws.layout.store / "entries").rglob("record.json"))
    leaf = json.loads(record.read_text("utf-8"))["key"]["leaf"]
    (record.parent / "data.jsonl").write_text("changed\n", "utf-8")  # the hash no longer matches
    (ws.layout.data / f"{leaf}.jsonl").unlink()
    pages = built(ws, tmp_path / "site")
    page = pages[f"leaves/{leaf}.html"]
    assert "missing or damaged" in page and "no exported samples" in page


def test_reports_in_other_shapes_are_described_not_raised() -> None:
    assert evaluation([]) == "not a benchmark report"
    assert evaluation({}) == "older format (report format v1): not shown"
    bad = {"schema": "taxonomy-bot/benchmark-report/v2", "summary": {}}
    assert str(evaluation(bad)).startswith("unreadable report: KeyError")
    assert read_report(Path("/nonexistent/report.json")) == "no report"


def test_the_collected_history_matches_the_archive(site_repo: SiteRepo) -> None:
    from bot.site.collect import merges

    problems: list[str] = []
    found = merges(site_repo.ws.layout.history, problems)
    assert len(found) == MERGES and problems == []
    assert [m.seq for m in found] == [f"{i:06d}" for i in range(1, MERGES + 1)]
    assert isinstance(found[0].evaluation, Evaluation) and found[1].evaluation is None
    assert found[0].trained == (LEAVES[0],)
