"""Commit the release files and tag the commit, with pygit2 (no git executable)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.config import ReleaseConfig
from bot.release.state import ReleaseError

BOT_NAME, BOT_EMAIL = "taxonomy-bot", "taxonomy-bot@users.noreply.github.com"


def signature(cfg: ReleaseConfig) -> Any:
    import pygit2

    name = cfg.author_name or os.environ.get("GIT_AUTHOR_NAME") or BOT_NAME
    email = cfg.author_email or os.environ.get("GIT_AUTHOR_EMAIL") or BOT_EMAIL
    return pygit2.Signature(name, email)


def dirty(repo: Any, prefixes: list[str]) -> list[str]:
    """Changed, staged or untracked paths under `prefixes` (folders end with /)."""
    import pygit2

    found = []
    for path, flags in repo.status(untracked_files="all").items():
        if flags == pygit2.enums.FileStatus.CURRENT or flags & pygit2.enums.FileStatus.IGNORED:
            continue
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in prefixes):
            found.append(path)
    return sorted(found)


def _with_blob(repo: Any, tree: Any, parts: list[str], blob: Any) -> Any:
    """`tree` with the blob at parts (creating folders), as a new tree id."""
    import pygit2

    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    head, rest = parts[0], parts[1:]
    if not rest:
        builder.insert(head, blob, pygit2.enums.FileMode.BLOB)
    else:
        sub = tree[head] if tree is not None and head in tree else None
        builder.insert(head, _with_blob(repo, sub, rest, blob), pygit2.enums.FileMode.TREE)
    return builder.write()


def commit_files(repo: Any, root: Path, rels: list[str], message: str, sig: Any) -> str:
    """Commit exactly these files (as they are in the working tree) on top of HEAD, and
    stage them, so the rest of the index and working tree stay as they were."""
    import pygit2

    head = repo.head.peel(pygit2.Commit)
    tree = head.tree
    for rel in rels:
        blob = repo.create_blob((root / rel).read_bytes())
        tree = repo[_with_blob(repo, tree, rel.split("/"), blob)]
    oid = repo.create_commit("HEAD", sig, sig, message, tree.id, [head.id])
    index = repo.index
    for rel in rels:
        index.add(rel)
    index.write()
    return str(oid)


def tag(repo: Any, name: str, commit: str, message: str, sig: Any) -> str:
    """An annotated tag; one already pointing at `commit` counts as done."""
    import pygit2

    ref = f"refs/tags/{name}"
    if ref in repo.references:
        target = repo.revparse_single(ref).peel(pygit2.Commit)
        if str(target.id) == commit:
            return str(repo.references[ref].target)
        raise ReleaseError(f"tag {name} exists and points elsewhere ({str(target.id)[:12]})")
    oid = repo.create_tag(
        name, pygit2.Oid(hex=commit), pygit2.enums.ObjectType.COMMIT, sig, message
    )
    return str(oid)
