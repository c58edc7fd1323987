"""What a release holds: the previous release (the highest `<prefix>X.Y.Z` tag), this
version, and every leaf's content hash compared with the previous release's manifest."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.release.state import ReleaseError

VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse_version(text: str) -> tuple[int, int, int]:
    m = VERSION.match(text)
    if not m:
        raise ReleaseError(f"version must be X.Y.Z, not {text!r}", 2)
    return int(m[1]), int(m[2]), int(m[3])


@dataclass(frozen=True)
class Tag:
    version: str
    name: str
    commit: str


@dataclass(frozen=True)
class Collected:
    version: str
    tag: str
    commit: str  # the taxonomy's commit (HEAD)
    previous: Tag | None
    leaves: dict[str, str]  # taxonomy path -> content hash, every leaf in the release
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Collected:
        prev = Tag(**doc["previous"]) if doc.get("previous") else None
        return cls(**{**doc, "previous": prev})


def open_repo(root: Path) -> Any:
    import pygit2

    found = pygit2.discover_repository(str(root))
    if not found:
        raise ReleaseError(f"{root} is not inside a git repository; a release is a git tag", 2)
    repo = pygit2.Repository(found)
    if repo.workdir is None or repo.head_is_unborn:
        raise ReleaseError("a release needs a working tree with at least one commit", 2)
    return repo


def release_tags(repo: Any, prefix: str) -> list[Tag]:
    """Every `<prefix>X.Y.Z` tag, oldest version first."""
    import pygit2

    found = []
    for ref in repo.references:
        if not ref.startswith("refs/tags/" + prefix):
            continue
        version = ref.removeprefix("refs/tags/" + prefix)
        if VERSION.match(version):
            commit = repo.revparse_single(ref).peel(pygit2.Commit)
            found.append(Tag(version, ref.removeprefix("refs/tags/"), str(commit.id)))
    return sorted(found, key=lambda t: parse_version(t.version))


def next_version(tags: list[Tag]) -> str:
    if not tags:
        return "0.1.0"
    major, minor, _ = parse_version(tags[-1].version)
    return f"{major}.{minor + 1}.0"


def previous_tag(tags: list[Tag], version: str) -> Tag | None:
    older = [t for t in tags if parse_version(t.version) < parse_version(version)]
    return older[-1] if older else None


def manifest_at(repo: Any, tag: Tag) -> dict[str, Any]:
    """The manifest committed with an earlier release, read from its tag."""
    path = f"releases/{tag.version}/manifest.yaml"
    try:
        blob = repo[tag.commit].tree[path]
    except KeyError:
        raise ReleaseError(
            f"tag {tag.name} has no {path}: it was not made by `bot release`; "
            "pass --version of a release after it or delete the tag"
        ) from None
    doc = yaml.safe_load(blob.data)
    if not isinstance(doc, dict) or not isinstance(doc.get("leaves"), dict):
        raise ReleaseError(f"{tag.name}:{path} is not a release manifest")
    return doc


def current_leaves(root: Path, cache: Path) -> dict[str, str]:
    """Taxonomy path -> content hash (qna.yaml and its documents) of every leaf."""
    from bot.taxonomy.find import LEAF_NAME, default_taxonomy, walk
    from bot.taxonomy.leaves import LeafError, read_leaf

    out: dict[str, str] = {}
    for path in walk(default_taxonomy(root)):
        if path.name != LEAF_NAME:
            continue
        try:
            leaf = read_leaf(path, root, cache)
        except LeafError as exc:
            first = str(exc).splitlines()[0]
            raise ReleaseError(
                f"{first} (run `bot validate`): a release needs a valid taxonomy"
            ) from None
        out[leaf.path] = leaf.content_hash
    if not out:
        raise ReleaseError(f"no leaves under {default_taxonomy(root)}: nothing to release")
    return dict(sorted(out.items()))


def collect(root: Path, cache: Path, version: str | None, prefix: str) -> Collected:
    import pygit2

    repo = open_repo(root)
    tags = release_tags(repo, prefix)
    version = version or next_version(tags)
    parse_version(version)
    tag = prefix + version
    if any(t.name == tag for t in tags):
        raise ReleaseError(f"{tag} is already released; pass --version for a new one", 2)
    previous = previous_tag(tags, version)
    old: dict[str, str] = (
        {str(k): str(v) for k, v in manifest_at(repo, previous)["leaves"].items()}
        if previous
        else {}
    )
    leaves = current_leaves(root, cache)
    return Collected(
        version=version,
        tag=tag,
        commit=str(repo.head.peel(pygit2.Commit).id),
        previous=previous,
        leaves=leaves,
        added=sorted(set(leaves) - set(old)),
        changed=sorted(p for p in leaves if p in old and old[p] != leaves[p]),
        removed=sorted(set(old) - set(leaves)),
    )
