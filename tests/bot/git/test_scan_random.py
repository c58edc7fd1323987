"""Random edits of small repositories: after each, bot/git/scan.py reports what libgit2's
status and `git status` report (libgit2's through the diffs the fallback uses, too), and
bot/git/diff.tree_changes what libgit2's tree diff reports.
Deterministic (derandomized), few examples: a property check, not a fuzzing run."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path

import pygit2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.git import scan as gitscan
from bot.git.diff import tree_changes
from tests.gitrepo import Repo, git_status

FILES = (
    "t/a/qna.yaml",
    "t/a/notes.txt",
    "t/b/c/qna.yaml",
    "t/d.txt",
    "top.txt",
    "t/new/deep/f.md",
    "t/a/run.log",
    "build/out.txt",
)
FOLDERS = ("t/a", "t/b", "t/b/c", "t/new", "build")
TEXTS = ("one\n", "two\n", "three\n")  # "one" and "two": same size, different content
OPS = ("write", "delete", "rmtree", "touch", "chmod", "link", "stage", "age", "commit")

_counter = itertools.count()


def _apply(repo: Repo, op: str, i: int, j: int) -> None:
    path, folder = FILES[i % len(FILES)], FOLDERS[i % len(FOLDERS)]
    full = repo.path / path
    if op == "write":
        if full.is_symlink() or full.is_dir():
            _remove(full)
        repo.write(path, TEXTS[j % len(TEXTS)])
    elif op == "delete" and (full.is_symlink() or full.exists()):
        _remove(full)
    elif op == "rmtree" and (repo.path / folder).exists():
        _remove(repo.path / folder)
    elif op == "touch" and full.is_file() and not full.is_symlink():
        os.utime(full, ns=(time.time_ns() + j, time.time_ns() + j))
    elif op == "chmod" and full.is_file() and not full.is_symlink():
        os.chmod(full, 0o755 if j % 2 else 0o644)
    elif op == "link":
        if full.is_symlink() or full.exists():
            _remove(full)
        full.parent.mkdir(parents=True, exist_ok=True)
        full.symlink_to(TEXTS[j % len(TEXTS)].strip())
    elif op == "stage" and not (full.is_dir() and not full.is_symlink()):
        if full.is_symlink() or full.exists() or path in repo.repo.index:
            repo.stage(path)
    elif op == "age":
        _age(repo.path, 30 + j)
    elif op == "commit":
        before = repo.repo.head.peel(pygit2.Commit).tree
        repo.commit(f"random {j}")
        after = repo.repo.head.peel(pygit2.Commit).tree
        expected: set[str] = set()
        for delta in before.diff_to_tree(after).deltas:
            expected.update((delta.old_file.path, delta.new_file.path))
        assert tree_changes(repo.repo, before, after) == expected


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _age(root: Path, seconds: float) -> None:
    past = time.time() - seconds
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            os.utime(os.path.join(folder, name), (past, past), follow_symlinks=False)
        os.utime(folder, (past, past))


@settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(OPS), st.integers(0, 40), st.integers(0, 5)),
        min_size=1,
        max_size=10,
    )
)
def test_scan_agrees_with_libgit2(tmp_path: Path, ops: list[tuple[str, int, int]]) -> None:
    base = tmp_path / f"ex{next(_counter)}"
    repo = Repo(base / "repo")
    repo.write(".gitignore", "*.log\nbuild/\n")
    for path in FILES[:4]:
        repo.write(path, "one\n")
    repo.commit("init")
    _age(repo.path, 60)
    cache = base / "cache"
    for step, (op, i, j) in enumerate(ops):
        _apply(repo, op, i, j)
        head = repo.repo.head.peel(pygit2.Commit).tree
        expected = set(repo.repo.status(untracked_files="all"))
        assert git_status(repo.path) == expected, (step, ops)
        assert gitscan.libgit2_paths(repo.repo, head) == expected, (step, ops)
        for _ in range(2):  # from scratch or the earlier memo, then from this run's memo
            found = gitscan.status_paths(repo.repo, head, cache)
            assert found == expected, (step, ops)
