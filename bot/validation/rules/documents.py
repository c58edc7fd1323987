"""Rule document-fetch (`bot validate --documents`): the documents a knowledge leaf
points at exist.

Two forms (schema/README.md):
- `repo` + `commit` + `patterns`: a git repository (URL, file:// URL, or a path
  relative to this repository's root) fetched with pygit2 into a bare cache
  repository, and read at exactly that commit;
- `patterns` alone: markdown files stored beside qna.yaml, in this repository.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.taxonomy.find import LeafFile
from bot.taxonomy.yamlload import Loaded
from bot.validation.problems import Problem, error

MARKDOWN = (".md", ".markdown")


def _segment_regex(seg: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[" and (end := seg.find("]", i + 1)) > i:
            body = seg[i + 1 : end]
            out += (
                "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
            )
            i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    """Glob with `*`, `?`, `[..]` within one path segment and `**` across segments."""
    pat = [p for p in pattern.strip("/").split("/") if p]
    parts = path.split("/")

    def match(pi: int, si: int) -> bool:
        if pi == len(pat):
            return si == len(parts)
        if pat[pi] == "**":
            return any(match(pi + 1, k) for k in range(si, len(parts) + 1))
        return (
            si < len(parts)
            and bool(_segment_regex(pat[pi]).match(parts[si]))
            and match(pi + 1, si + 1)
        )

    return match(0, 0)


def _matches(patterns: list[str], files: Iterable[str]) -> list[str]:
    return sorted(
        f for f in files if f.endswith(MARKDOWN) and any(glob_match(p, f) for p in patterns)
    )


def tree_files(tree: Any, prefix: str = "") -> Iterable[str]:
    import pygit2

    for entry in tree:
        name = f"{prefix}{entry.name}"
        if entry.type == pygit2.enums.ObjectType.TREE:
            yield from tree_files(entry, name + "/")
        else:
            yield name


def repo_url(repo: str, root: Path) -> str:
    if "://" in repo or repo.startswith("git@"):
        return repo
    return str((root / repo).resolve())


def fetch(url: str, commit: str, cache: Path) -> Any:
    """The commit object, fetching into the cache only when it is not there yet."""
    import pygit2

    cache.mkdir(parents=True, exist_ok=True)
    path = cache / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".git")
    with open(cache / (path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two workers must not fetch into one repo at once
        repo = (
            pygit2.Repository(str(path))
            if path.exists()
            else pygit2.init_repository(str(path), bare=True)
        )
        obj = repo.get(commit)
        if obj is None:
            remote = (
                repo.remotes["origin"]
                if "origin" in [r.name for r in repo.remotes]
                else repo.remotes.create("origin", url)
            )
            remote.fetch(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"])
            obj = repo.get(commit)
        return obj


def check_documents(doc: Loaded, leaf: LeafFile, cache: Path | None) -> list[Problem]:
    d = doc.data.get("document") if isinstance(doc.data, dict) else None
    if not isinstance(d, dict) or not isinstance(d.get("patterns"), list):
        return []
    patterns = [p for p in d["patterns"] if isinstance(p, str) and p.strip()]
    repo, commit = d.get("repo"), d.get("commit")
    where = doc.where(("document",))
    if repo is None and commit is None:
        base = leaf.leaf_dir
        files = (str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())
        if not _matches(patterns, files):
            return [
                error(
                    "document-fetch",
                    f"no markdown file beside {leaf.path.name} matches "
                    f"{patterns}; add the documents (e.g. documents/topic.md)",
                    *where,
                )
            ]
        return []
    if not (isinstance(repo, str) and isinstance(commit, str)):
        return []  # the schema reports it
    import pygit2

    from bot.git.diff import repo_root

    root = repo_root(leaf.path) or leaf.leaf_dir
    cache = cache or root / ".bot" / "cache"
    url = repo_url(repo, root)
    try:
        obj = fetch(url, commit.strip(), cache / "documents")
    except (pygit2.GitError, ValueError, KeyError) as exc:
        return [
            error("document-fetch", f"cannot fetch {repo}: {exc}", *doc.where(("document", "repo")))
        ]
    if obj is None or obj.type != pygit2.enums.ObjectType.COMMIT:
        return [
            error(
                "document-fetch",
                f"commit {commit} is not in {repo} (fetched all "
                "branches and tags); pin a commit that exists there",
                *doc.where(("document", "commit")),
            )
        ]
    if not _matches(patterns, tree_files(obj.peel(pygit2.Tree))):
        return [
            error(
                "document-fetch",
                f"at commit {commit[:12]} of {repo}, no markdown document matches {patterns}",
                *doc.where(("document", "patterns")),
            )
        ]
    return []
