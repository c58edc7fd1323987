"""A real git repository in a temporary folder, driven with pygit2 (`git_status` asks git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2

SIG = pygit2.Signature("Test", "test@example.org", 1_700_000_000, 0)


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = pygit2.init_repository(str(path), initial_head="main")

    def write(self, rel: str, text: str) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, "utf-8")
        return p

    def stage(self, *rels: str) -> None:
        idx = self.repo.index
        for rel in rels:
            if (self.path / rel).is_symlink() or (self.path / rel).exists():  # links dangle
                idx.add(rel)
            else:
                idx.remove(rel)
        idx.write()

    def stage_all(self) -> None:
        self.repo.index.add_all()
        self.repo.index.write()

    def commit(self, message: str = "change") -> pygit2.Oid:
        self.stage_all()
        tree = self.repo.index.write_tree()
        parents = [] if self.repo.head_is_unborn else [self.repo.head.target]
        return self.repo.create_commit("HEAD", SIG, SIG, message, tree, parents)

    def branch(self, name: str) -> None:
        """Create `name` at HEAD and check it out."""
        commit = self.repo.head.peel(pygit2.Commit)
        ref = self.repo.branches.local.create(name, commit)
        self.repo.checkout(ref)


def git_status(path: Path) -> set[str]:
    """The paths `git status` lists (staged, unstaged, untracked; ignored left out), from the
    git executable itself; --no-optional-locks: it must not refresh the index as it reads."""
    out = subprocess.run(
        ["git", "--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=all"],
        cwd=path,
        capture_output=True,
        check=True,
    ).stdout
    fields = iter(out.decode("utf-8").split("\0"))
    paths: set[str] = set()
    for field in fields:
        if not field:
            continue
        paths.add(field[3:])
        if "R" in field[:2] or "C" in field[:2]:  # a rename's source follows
            paths.add(next(fields))
    return paths
