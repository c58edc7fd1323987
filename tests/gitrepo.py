"""A real git repository in a temporary folder, driven with pygit2 (no git binary)."""

from __future__ import annotations

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
            if (self.path / rel).exists():
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
