"""The simulation's repositories: a bare "origin" and a clone to work in (pygit2), and the
GitHub side (emulator seed, fork, pull request) of the same change."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

REPO = "owner/taxonomy"
FIRST = "compositional_skills/linguistics/antonyms"  # on main from the start
ADDED = "foundational_skills/reasoning/unit_conversion"  # the contributor's leaf
SEED = """tokens:
  tok_owner: {login: owner, scopes: [repo, user, workflow]}
  tok_maintainer: {login: maintainer, scopes: [repo]}
  tok_contributor: {login: contributor, scopes: [repo]}
  tok_taxonomy-bot: {login: taxonomy-bot, scopes: [repo, workflow]}
github:
  users:
    - {login: owner}
    - {login: maintainer}
    - {login: contributor}
    - {login: taxonomy-bot}
  repos:
    - {owner: owner, name: taxonomy, description: simulated taxonomy, auto_init: true}
"""
ROLES = {"maintainer": "maintain", "taxonomy-bot": "push"}
SIG = ("Simulated Contributor", "contributor@example.org")


def bot_yaml(teacher: str, base: str, fast: bool) -> str:
    steps = 1 if fast else 2
    return (
        f"generate: {{teacher: '{teacher}', samples: {1 if fast else 2}, max_rounds: 1}}\n"
        f"train: {{max_steps: {steps}, batch_size: 2, choose_checkpoint: false}}\n"
        f"release:\n  base: '{base}'\n  general: false\n"
        "  max_regression: [nll=inf]\n"
    )


class Git:
    """The working clone, pushing to a bare origin on the local disk."""

    def __init__(self, out: Path) -> None:
        import pygit2

        self.origin = pygit2.init_repository(str(out / "origin.git"), bare=True)
        self.path = out / "work"
        self.repo = pygit2.init_repository(str(self.path), initial_head="main")
        self.repo.remotes.create("origin", str(out / "origin.git"))

    def copy_leaf(self, source: Path, leaf: str) -> None:
        shutil.copytree(source / "taxonomy" / leaf, self.path / "taxonomy" / leaf)

    def commit(self, message: str) -> str:
        import pygit2

        sig = pygit2.Signature(*SIG)
        self.repo.index.add_all()
        self.repo.index.write()
        tree = self.repo.index.write_tree()
        parents = [] if self.repo.head_is_unborn else [self.repo.head.target]
        return str(self.repo.create_commit("HEAD", sig, sig, message, tree, parents))

    def branch(self, name: str) -> None:
        import pygit2

        ref = self.repo.branches.local.create(name, self.repo.head.peel(pygit2.Commit))
        self.repo.checkout(ref)

    def fast_forward(self, target: str, source: str) -> str:
        """Move `target` to `source`'s commit and check `target` out (a merge)."""
        commit = self.repo.branches.local[source].target
        self.repo.references[f"refs/heads/{target}"].set_target(commit)
        self.repo.checkout(f"refs/heads/{target}")
        return str(commit)

    def push(self, *refs: str) -> None:
        self.repo.remotes["origin"].push([f"+{r}:{r}" for r in refs])

    def origin_has(self, ref: str) -> bool:
        return ref in self.origin.references

    def origin_file(self, ref: str, path: str) -> bytes:
        import pygit2

        blob = self.origin.revparse_single(ref).peel(pygit2.Commit).tree[path]
        if not isinstance(blob, pygit2.Blob):
            raise KeyError(path)
        return bytes(blob.data)


def open_pr(api: Any, files: dict[str, str], branch: str) -> tuple[int, str]:
    """The contributor forks, pushes `files` to a branch of the fork and opens a PR."""
    api.call("POST", f"/repos/{REPO}/forks", "contributor", json={})
    fork = "contributor/taxonomy"
    start = api.call("GET", f"/repos/{fork}/branches/main", "contributor")["commit"]["sha"]
    ref = {"ref": f"refs/heads/{branch}", "sha": start}
    api.call("POST", f"/repos/{fork}/git/refs", "contributor", json=ref)
    head = push_files(api, files, branch)
    body = {
        "title": "Add a unit conversion skill",
        "head": f"contributor:{branch}",
        "base": "main",
        "body": "A new foundational skill: converting between units.",
    }
    made = api.call("POST", f"/repos/{REPO}/pulls", "contributor", json=body)
    return int(made["number"]), head


def push_files(api: Any, files: dict[str, str], branch: str) -> str:
    head = ""
    for path, text in files.items():
        head = api.put_file("contributor/taxonomy", path, text, branch, "contributor")
    return head
