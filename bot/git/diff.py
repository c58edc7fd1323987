"""Which leaves changed: committed since the merge base with a base ref, staged,
unstaged and untracked, read with pygit2 and bot/git/scan.py (no `git` executable needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.taxonomy.find import LEAF_NAME, is_candidate


class GitError(Exception):
    """A git problem the user must fix (no repository, unknown ref); exit code 2."""


@dataclass(frozen=True)
class Changes:
    base: str  # the ref as resolved, for messages
    changed: list[Path]  # leaf files (qna.yaml) to validate, absolute
    deleted: list[Path]  # leaf files that are gone, absolute


def repo_root(start: Path) -> Path | None:
    import pygit2

    found = pygit2.discover_repository(str(start.absolute()))
    if not found:
        return None
    repo = pygit2.Repository(found)
    return Path(repo.workdir) if repo.workdir else None


def _resolve(repo: object, base: str | None) -> tuple[str, object]:
    import pygit2

    candidates = [base] if base else ["origin/main", "main"]
    for ref in candidates:
        try:
            return ref, repo.revparse_single(ref).peel(pygit2.Commit)  # type: ignore[attr-defined]
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            continue
    tried = " or ".join(candidates)
    raise GitError(
        f"cannot find the base ref {tried}; pass --base-ref REF (a branch, tag or commit)"
    )


def _leaf_for(path: Path, workdir: Path) -> Path | None:
    """The leaf file owning a changed path: itself, or the nearest qna.yaml above it."""
    if is_candidate(path.name):
        return path
    for parent in path.parents:
        if parent == workdir or workdir not in parent.parents:
            break
        if (parent / LEAF_NAME).exists():
            return parent / LEAF_NAME
    return None


def tree_changes(repo: Any, old: Any, new: Any) -> set[str]:
    """Paths of the blobs that differ between two trees (libgit2's tree-to-tree diff
    without rename detection), skipping subtrees whose ids are equal: libgit2 walks
    both trees whole, 0.07 s for 30,000 entries even when nothing changed."""
    import pygit2

    out: set[str] = set()
    stack: list[tuple[str, Any, Any]] = [("", old, new)]
    while stack:
        prefix, a, b = stack.pop()
        if a is not None and b is not None and a.id == b.id:
            continue
        left = {e.name: e for e in a} if a is not None else {}
        right = {e.name: e for e in b} if b is not None else {}
        for name in left.keys() | right.keys():
            x, y = left.get(name), right.get(name)
            if x is not None and y is not None and x.id == y.id and x.filemode == y.filemode:
                continue
            sub_x, sub_y = (repo[e.id] if isinstance(e, pygit2.Tree) else None for e in (x, y))
            if sub_x is not None or sub_y is not None:
                stack.append((f"{prefix}{name}/", sub_x, sub_y))
            if any(e is not None and not isinstance(e, pygit2.Tree) for e in (x, y)):
                out.add(prefix + name)
    return out


def changed_leaves(start: Path, base: str | None, cache_dir: Path | None = None) -> Changes:
    """Leaves changed vs the merge base with `base`; `cache_dir` (default .bot/cache in
    the working tree) keeps the working-tree scan's state between runs."""
    import pygit2

    from bot.git.scan import status_paths

    found = pygit2.discover_repository(str(start.absolute()))
    if not found:
        raise GitError(f"{start} is not inside a git repository; --changed needs one")
    repo = pygit2.Repository(found)
    if repo.workdir is None:
        raise GitError("--changed needs a repository with a working tree (this one is bare)")
    workdir = Path(repo.workdir).resolve()
    name, base_commit = _resolve(repo, base)
    paths: set[str] = set()
    head_tree = None
    if not repo.head_is_unborn:
        head = repo.head.peel(pygit2.Commit)
        head_tree = head.tree
        mb = repo.merge_base(base_commit.id, head.id)  # type: ignore[attr-defined]
        old = repo[mb] if mb is not None else base_commit
        paths |= tree_changes(repo, old.peel(pygit2.Tree), head_tree)
    else:
        for delta in base_commit.tree.diff_to_workdir().deltas:  # type: ignore[attr-defined]
            paths.update((delta.old_file.path, delta.new_file.path))
    paths |= status_paths(repo, head_tree, cache_dir or workdir / ".bot" / "cache")
    changed: set[Path] = set()
    deleted: set[Path] = set()
    for rel in paths:
        path = workdir / rel
        if is_candidate(path.name) and not path.exists():
            deleted.add(path)
            continue
        leaf = _leaf_for(path, workdir)
        if leaf is not None and leaf.exists():
            changed.add(leaf)
    return Changes(name, sorted(changed), sorted(deleted))
