"""`bot release` end to end on a real git repository: dry run, first and second release
(manifest hashes, changelog deltas, tags, the model store), and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
import yaml

from bot.taxonomy.leaves import read_leaf
from tests.bot.release.conftest import ANTONYMS, PAIRS, SYNONYMS, Release, leaf
from tests.conftest import dump, skill_doc
from tests.gitrepo import Repo
from tests.trainer.evaluation.conftest import antonyms_doc
from trainer.models.hf import dir_weights_id

WRITING = "compositional_skills/writing/haiku"


def manifest_at(repo: Repo, tag: str, version: str) -> dict:
    commit = repo.repo.revparse_single(f"refs/tags/{tag}").peel(pygit2.Commit)
    return yaml.safe_load(commit.tree[f"releases/{version}/manifest.yaml"].data)


def assert_hugging_face_folder(folder: Path, card: str) -> None:
    """The released folder as the Hugging Face tools read it: transformers loads it, and
    huggingface_hub parses its README.md card with the front matter the hub needs."""
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("hello", return_tensors="pt").input_ids
    assert model(ids).logits.shape[-1] == model.config.vocab_size
    assert (folder / "README.md").read_text() == card
    parsed = ModelCard.load(folder / "README.md")
    data = parsed.data
    assert data.license == "apache-2.0" and data.base_model == "test-org/tiny-llama"
    assert data.datasets == ["test-org/taxonomy-data"] and "taxonomy-bot" in data.tags
    assert data.library_name == "transformers" and data.model_name == "taxonomy student v0.1.0"
    results = {(r.dataset_type, r.metric_type): r for r in data.eval_results}
    nll = results[("taxonomy-bot/branch", "nll")]
    assert nll.task_type == "text-generation" and nll.metric_value > 0
    assert nll.verified is False


def test_first_and_second_release(repo: Repo, release: Release) -> None:
    code, out, err = release("--dry-run")
    assert code == 0, err
    assert out.startswith("## Release v0.1.0 (dry run: nothing was changed)")
    assert f"- **added** `{ANTONYMS}`" in out and "(first release)" in out
    assert "full retrain from `hf:" in out and "on 2 new leaves" in out
    assert (
        not (repo.path / ".bot" / "release").exists()
        and "refs/tags/v0.1.0" not in repo.repo.references
    )

    code, notes, err = release()
    assert code == 0, err
    assert notes.startswith("## Release v0.1.0\n")
    tag = repo.repo.revparse_single("refs/tags/v0.1.0")
    assert isinstance(tag, pygit2.Tag) and tag.message == notes  # annotated, with the notes
    head = repo.repo.head.peel(pygit2.Commit)
    assert tag.peel(pygit2.Commit).id == head.id and head.message == "Release v0.1.0"
    assert head.author.name == "Release Tester"
    first = manifest_at(repo, "v0.1.0", "0.1.0")
    for path in (ANTONYMS, SYNONYMS):
        qna = repo.path / "taxonomy" / path / "qna.yaml"
        assert (
            first["leaves"][path]
            == read_leaf(qna, repo.path, repo.path / ".bot/cache").content_hash
        )
    assert first["changes"] == {"added": [ANTONYMS, SYNONYMS], "changed": [], "removed": []}
    assert first["previous"] is None and first["version"] == "0.1.0" and first["format"] == 1
    assert first["model"]["mode"] == "full"
    stored = repo.path / ".bot" / "releases" / first["model"]["digest"].replace(":", "-")
    assert dir_weights_id(stored) == first["model"]["digest"]
    assert not (stored / "state").exists()  # no optimizer state in the store
    phases = first["datasets"]["phases"]
    assert phases["skills"]["rows"] > 0 and all(len(p["sha256"]) == 64 for p in phases.values())
    assert first["datasets"]["replay_buffer_version"]
    assert first["benchmark"]["baseline"] == first["base_model"]["spec"]
    assert not first["benchmark"]["failed"] and "branch" in first["benchmark"]["suites"]
    assert first["training"]["train"]["max_steps"] == 1
    card = (repo.path / "releases/0.1.0/MODEL_CARD.md").read_text()
    assert card.startswith("---\n") and "# Model card: taxonomy student v0.1.0" in card
    assert "## Limitations" in card
    assert_hugging_face_folder(stored, card)
    # the benchmark's per-leaf deltas are in the changelog (antonyms has 3 held-out items)
    log = (repo.path / "CHANGELOG.md").read_text()
    assert log.startswith("# Changelog\n\n## v0.1.0 (")
    assert f"- **added** `{ANTONYMS}`" in log and "nll " in log.split(ANTONYMS)[1].splitlines()[0]
    assert not repo.repo.status(untracked_files="no")  # committed, index clean

    # a second release: one leaf added, one changed, one removed
    leaf(repo, WRITING, skill_doc(seed=7))
    leaf(repo, ANTONYMS, antonyms_doc(PAIRS[1:]))
    for rel in ("qna.yaml", "attribution.txt"):
        (repo.path / "taxonomy" / SYNONYMS / rel).unlink()
    code, out, err = release("--dry-run")
    assert code == 0 and "would refuse: uncommitted changes in taxonomy/" in out
    code, out, err = release()  # a release records commits, never a dirty working tree
    assert code == 2 and out == "" and "uncommitted changes in taxonomy/" in err
    assert len(err.strip().splitlines()) == 1
    repo.commit("edit the taxonomy")
    code, out, _ = release("--dry-run")
    assert code == 0 and "## Release v0.2.0 (dry run" in out and "since v0.1.0" in out
    new_hash = read_leaf(
        repo.path / "taxonomy" / ANTONYMS / "qna.yaml", repo.path, repo.path / ".bot/cache"
    ).content_hash
    assert f"- **changed** `{ANTONYMS}` (`{new_hash[:12]}`)" in out
    assert f"- **added** `{WRITING}`" in out and f"- **removed** `{SYNONYMS}`" in out
    assert f"model `{first['model']['digest']}`" in out

    code, notes, err = release()
    assert code == 0, err
    second = manifest_at(repo, "v0.2.0", "0.2.0")
    assert second["changes"] == {"added": [WRITING], "changed": [ANTONYMS], "removed": [SYNONYMS]}
    assert second["previous"] == {"version": "0.1.0", "tag": "v0.1.0"}
    assert second["benchmark"]["baseline"] == f"hf:{stored}"  # the previous release's model
    assert set(second["leaves"]) == {ANTONYMS, WRITING} and second["leaves"][ANTONYMS] == new_hash
    log = (repo.path / "CHANGELOG.md").read_text()
    assert log.index("## v0.2.0") < log.index("## v0.1.0")
    assert f"- **removed** `{SYNONYMS}`" in (repo.path / "releases/0.2.0/CHANGELOG.md").read_text()
    assert "since v0.1.0" in notes and "RELEASE_MODEL" in notes


def test_regression_refuses_then_force_resumes_after_a_failure(
    repo: Repo, release: Release, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.release import gitops
    from bot.release.state import ReleaseError
    from bot.stages import release as stages
    from tests.bot.release.conftest import bot_yaml

    # a learning rate that wrecks the model: its held-out NLL regresses past the 0.05 limit
    repo.write("bot.yaml", bot_yaml(tiny, lr=5.0, limits="[]"))
    repo.commit("wreck the training")
    code, out, err = release()
    assert code == 3 and out == "", err
    assert "not tagging v0.1.0: the benchmark regressed past its limits (branch nll +" in err
    assert "pass --force" in err and "refs/tags/v0.1.0" not in repo.repo.references
    state = json.loads((repo.path / ".bot/release/0.1.0/state.json").read_text())
    assert set(state["stages"]) == {"collect", "retrain", "benchmark"}

    # with --force it goes on from the benchmark (no retrain); the commit fails once
    def again(*_: object) -> None:
        raise AssertionError("a finished stage ran again")

    monkeypatch.setattr(stages, "_retrain", again)
    monkeypatch.setattr(stages, "_benchmark", again)
    real_commit = gitops.commit_files

    def broken(*_: object) -> str:
        raise ReleaseError("the disk went away")

    monkeypatch.setattr(gitops, "commit_files", broken)
    code, _, err = release("--force")
    assert code == 1 and "the disk went away" in err
    state = json.loads((repo.path / ".bot/release/0.1.0/state.json").read_text())
    assert set(state["stages"]) == {"collect", "retrain", "benchmark", "write"}

    monkeypatch.setattr(gitops, "commit_files", real_commit)
    code, notes, err = release("--force")
    assert code == 0, err
    assert "❌ **failed**" in notes and "released with --force" in notes
    assert "refs/tags/v0.1.0" in repo.repo.references
    manifest = manifest_at(repo, "v0.1.0", "0.1.0")
    assert manifest["benchmark"]["failed"] and manifest["benchmark"]["failures"][0]["suite"]
    assert (repo.path / "CHANGELOG.md").read_text().count("## v0.1.0") == 1
    # done is done: the same version again says so and prints the notes
    code, again_notes, err = release("--version", "0.1.0")
    assert code == 0 and again_notes == notes and "already released" in err


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (["--version", "1.2"], "version must be X.Y.Z", 2),
        (["--version", "v1.2.0"], "version must be X.Y.Z", 2),
    ],
)
def test_usage_errors_are_one_line(
    repo: Repo, release: Release, args: list[str], message: str, status: int
) -> None:
    code, out, err = release(*args)
    assert code == status and message in err and out == ""
    assert len(err.strip().splitlines()) == 1


def test_invalid_taxonomy_and_foreign_tag_are_refused(repo: Repo, release: Release) -> None:
    leaf(repo, "compositional_skills/writing/short", skill_doc(seed=3, n=3))  # needs 5
    repo.commit("an invalid leaf")
    code, _, err = release("--dry-run")
    assert code == 1 and "a release needs a valid taxonomy" in err
    (repo.path / "taxonomy/compositional_skills/writing/short/qna.yaml").write_text(
        dump(skill_doc(seed=3))
    )
    repo.commit("fixed")
    head = repo.repo.head.peel(pygit2.Commit)
    repo.repo.create_tag("v0.1.0", head.id, pygit2.enums.ObjectType.COMMIT, head.author, "by hand")
    code, _, err = release("--dry-run")
    assert code == 1 and "tag v0.1.0 has no releases/0.1.0/manifest.yaml" in err
