from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pygit2
import pytest

from bot.git.diff import GitError, changed_leaves, tree_changes
from tests.conftest import dump, skill_doc
from tests.gitrepo import Repo, git_status

LEAF = "taxonomy/compositional_skills/{}/qna.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "repo")
    for name in ("a", "b", "c", "d"):
        r.write(LEAF.format(name), dump(skill_doc(seed=ord(name))))
        r.write(LEAF.format(name).replace("qna.yaml", "attribution.txt"), "me\n")
    r.write("README.md", "hi\n")
    r.commit("init")
    return r


def names(paths: list[Path]) -> list[str]:
    return [p.parent.name for p in paths]


def test_nothing_changed(repo: Repo) -> None:
    ch = changed_leaves(repo.path, "main")
    assert (ch.changed, ch.deleted, ch.base) == ([], [], "main")


def test_committed_staged_unstaged_untracked_and_deleted(repo: Repo) -> None:
    repo.branch("feature")
    repo.write(LEAF.format("a"), dump(skill_doc(seed=199)))
    repo.commit("edit a")  # committed on the branch
    repo.write(LEAF.format("b"), dump(skill_doc(seed=198)))
    repo.stage(LEAF.format("b"))  # staged
    repo.write(LEAF.format("c").replace("qna.yaml", "attribution.txt"), "changed\n")  # unstaged
    repo.write(LEAF.format("new"), dump(skill_doc(seed=197)))  # untracked
    (repo.path / LEAF.format("d")).unlink()  # deleted, unstaged
    repo.write("README.md", "not a leaf\n")
    ch = changed_leaves(repo.path, "main")
    assert names(ch.changed) == ["a", "b", "c", "new"]
    assert names(ch.deleted) == ["d"]


def _git_leaves(repo: Repo, base: str) -> tuple[list[str], list[str]]:
    """What git itself says changed: the merge-base diff plus `git status`, each path
    mapped to its leaf (the nearest qna.yaml at or above it)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo.path, capture_output=True, text=True).stdout

    merge_base = git("merge-base", base, "HEAD").strip()
    paths = set(git("diff", "--name-only", "-z", merge_base, "HEAD").split("\0")) - {""}
    changed, deleted = set(), set()
    for rel in paths | git_status(repo.path):
        path = repo.path / rel
        if path.name == "qna.yaml" and not path.exists():
            deleted.add(path.parent.name)
        for folder in (path, *path.parents):
            if folder.name == "qna.yaml" or (folder / "qna.yaml").is_file():
                changed.add((folder if folder.name != "qna.yaml" else folder.parent).name)
                break
    return sorted(changed - deleted), sorted(deleted)


def test_changed_is_what_git_says(repo: Repo) -> None:
    repo.write(".gitignore", "*.log\n")
    repo.commit("ignore logs")
    repo.branch("feature")
    repo.write(LEAF.format("a"), dump(skill_doc(seed=101)))
    repo.commit("edit a")  # committed on the branch
    repo.repo.checkout(repo.repo.branches.local["main"])
    repo.write(LEAF.format("b"), dump(skill_doc(seed=102)))
    repo.commit("main moves on")  # after the merge base: not the branch's change
    repo.repo.checkout(repo.repo.branches.local["feature"])
    repo.write(LEAF.format("c"), dump(skill_doc(seed=103)))
    repo.stage(LEAF.format("c"))  # staged
    repo.write(LEAF.format("b").replace("qna.yaml", "run.log"), "ignored\n")
    repo.write("taxonomy/compositional_skills/b/documents/x.md", "# untracked document\n")
    repo.write(LEAF.format("new/deeper"), dump(skill_doc(seed=104)))  # an untracked folder
    (repo.path / LEAF.format("d")).unlink()  # deleted
    ch = changed_leaves(repo.path, "main")
    assert (names(ch.changed), names(ch.deleted)) == _git_leaves(repo, "main")
    assert names(ch.changed) == ["a", "b", "c", "deeper"] and names(ch.deleted) == ["d"]


def test_unborn_head_on_an_orphan_branch(repo: Repo) -> None:
    """No commit on HEAD yet: every file in the index or untracked is new, and the base
    ref's leaves that are gone from the working tree are deleted."""
    # as `git checkout --orphan fresh`, with the index emptied
    repo.repo.references.create("HEAD", "refs/heads/fresh", force=True)
    repo.repo.index.clear()
    repo.repo.index.write()
    shutil.rmtree(repo.path / "taxonomy/compositional_skills/a")
    repo.write(LEAF.format("b"), dump(skill_doc(seed=105)))
    repo.stage(LEAF.format("b"))
    ch = changed_leaves(repo.path, "main")
    assert repo.repo.head_is_unborn
    assert names(ch.changed) == ["b", "c", "d"] and names(ch.deleted) == ["a"]


def test_merge_base_ignores_changes_on_main(repo: Repo) -> None:
    repo.branch("feature")
    repo.write(LEAF.format("a"), dump(skill_doc(seed=50)))
    repo.commit("feature edit")
    feature = repo.repo.head.target
    main = repo.repo.branches.local["main"]
    repo.repo.checkout(main)
    repo.write(LEAF.format("b"), dump(skill_doc(seed=51)))
    repo.commit("main moves on")
    repo.repo.checkout(repo.repo.branches.local["feature"])
    assert repo.repo.head.target == feature
    assert names(changed_leaves(repo.path, "main").changed) == ["a"]


def test_default_base_falls_back_to_main(repo: Repo) -> None:
    repo.write(LEAF.format("a"), dump(skill_doc(seed=5)))
    assert changed_leaves(repo.path, None).base == "main"


def test_origin_main_preferred(repo: Repo) -> None:
    first = repo.repo.head.target
    repo.write(LEAF.format("a"), dump(skill_doc(seed=6)))
    repo.commit("second")
    repo.repo.references.create("refs/remotes/origin/main", first)
    ch = changed_leaves(repo.path, None)
    assert ch.base == "origin/main" and names(ch.changed) == ["a"]


def test_document_change_marks_leaf(repo: Repo) -> None:
    repo.write("taxonomy/compositional_skills/c/documents/x.md", "# doc\n")
    assert names(changed_leaves(repo.path, "main").changed) == ["c"]


def test_errors(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="cannot find the base ref nope"):
        changed_leaves(repo.path, "nope")
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitError, match="not inside a git repository"):
        changed_leaves(tmp_path / "plain", None)


def _libgit2_paths(old: pygit2.Tree, new: pygit2.Tree) -> set[str]:
    paths: set[str] = set()
    for delta in old.diff_to_tree(new).deltas:
        paths.update((delta.old_file.path, delta.new_file.path))
    return paths


def test_tree_changes_match_libgit2(repo: Repo) -> None:
    def file_to_folder() -> None:
        (repo.path / "README.md").unlink()
        repo.write("README.md/x", "t\n")

    trees = [repo.repo.head.peel(pygit2.Commit).tree]
    edits = [
        lambda: repo.write(LEAF.format("a"), dump(skill_doc(seed=77))),  # deep edit
        lambda: repo.write("taxonomy/knowledge/x/y/qna.yaml", "new\n"),  # new folders
        lambda: shutil.rmtree(repo.path / "taxonomy/compositional_skills/b"),  # gone folder
        lambda: os.chmod(repo.path / "README.md", 0o755),  # mode only
        file_to_folder,
    ]
    for edit in edits:
        edit()
        repo.commit("edit")
        trees.append(repo.repo.head.peel(pygit2.Commit).tree)
    assert tree_changes(repo.repo, trees[0], trees[0]) == set()
    for old, new in itertools.combinations(trees, 2):
        assert tree_changes(repo.repo, old, new) == _libgit2_paths(old, new)
        assert tree_changes(repo.repo, new, old) == _libgit2_paths(new, old)


def test_scan_state_goes_to_the_cache_dir(repo: Repo, tmp_path: Path) -> None:
    repo.write(LEAF.format("a"), dump(skill_doc(seed=3)))
    ch = changed_leaves(repo.path, "main", tmp_path / "elsewhere")
    assert names(ch.changed) == ["a"]
    assert (tmp_path / "elsewhere" / "gitscan-v2.bin").is_file()
    assert not (repo.path / ".bot").exists()
    assert names(changed_leaves(repo.path, "main", tmp_path / "elsewhere").changed) == ["a"]
