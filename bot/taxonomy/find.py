"""Find leaf files (qna.yaml) under the paths a user names, and place each leaf in its tree.

A taxonomy root is the folder holding the branch folders. The branch of a file
is the first path component that names a branch, so both `taxonomy/knowledge/..`
(this repository) and `knowledge/..` (a bare InstructLab checkout) work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BRANCHES = ("knowledge", "foundational_skills", "compositional_skills")
LEAF_NAME = "qna.yaml"
# Misspellings we still pick up so that the user hears about them (rule file-name).
NEAR_NAMES = frozenset({"qna.yml", "QNA.yaml", "qna.YAML", "Qna.yaml", "qna.yaml.txt"})
# Hidden folders that are never searched for leaves: git's, and the default work folder
# (its caches hold fetched document repositories).
NEVER_ENTERED = frozenset({".git", ".bot"})
NOT_A_LEAF = (
    "not part of a leaf (no qna.yaml in its folder or above it); a leaf is a folder with "
    "qna.yaml and attribution.txt"
)


@dataclass(frozen=True)
class LeafFile:
    path: Path  # as the user should see it (relative to cwd when possible)
    branch: str | None  # None: not under any branch folder
    taxonomy_path: tuple[str, ...]  # components after the taxonomy root, e.g. ("knowledge", "x")

    @property
    def kind(self) -> str:
        return "knowledge" if self.branch == "knowledge" else "skill"

    @property
    def leaf_dir(self) -> Path:
        return self.path.parent


def place(path: Path | str) -> LeafFile:
    # os.path on strings: this runs once per leaf, and pathlib costs ~10x more.
    text = os.fspath(path)
    parts = os.path.abspath(text).split(os.sep)
    for i, part in enumerate(parts):
        if part in BRANCHES:
            return LeafFile(Path(text), part, tuple(parts[i:]))
    return LeafFile(Path(text), None, (os.path.basename(text),))


def is_candidate(name: str) -> bool:
    return name == LEAF_NAME or name in NEAR_NAMES


def walk(root: Path) -> list[Path]:
    """All candidate leaf files below root, sorted; skips hidden folders (.git, .bot)."""
    return [Path(p) for p in walk_str(root)]


def walk_str(root: Path | str, hidden: list[str] | None = None) -> list[str]:
    """Candidate leaf files below root, sorted, outside hidden folders. With `hidden`, the
    candidates found inside hidden folders are appended to it (never returned): a leaf put in
    `.drafts/` is reported rather than silently left out. Git's own folder and virtual
    environments are never entered."""
    found: list[str] = []
    stack = [str(root)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        if hidden is not None and _may_hold_leaves(entry):
                            hidden += walk_str(entry.path, hidden)
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif is_candidate(entry.name):
                        found.append(entry.path)
        except OSError:
            continue
    found.sort()
    return found


def _may_hold_leaves(entry: os.DirEntry[str]) -> bool:
    return (
        entry.is_dir(follow_symlinks=False)
        and entry.name not in NEVER_ENTERED
        and not os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
    )


def owning_leaf(path: Path) -> Path | None:
    """The leaf file a path belongs to: itself when it is one, else the qna.yaml (or a
    misspelt one) of the nearest folder above it that has one, up to a branch folder or the
    repository root. None: the path is part of no leaf."""
    if is_candidate(path.name):
        return path
    for parent in path.absolute().parents:
        if parent.name in BRANCHES or (parent / ".git").exists():
            return None
        try:
            with os.scandir(parent) as it:
                names = sorted(e.name for e in it if is_candidate(e.name) and e.is_file())
        except OSError:  # unreadable: no leaf found there
            return None
        if names:
            return parent / (LEAF_NAME if LEAF_NAME in names else names[0])
    return None


def display(path: Path, cwd: Path) -> Path:
    try:
        return path.absolute().relative_to(cwd)
    except ValueError:
        return path


@dataclass
class Found:
    """What the paths a user named hold."""

    leaves: list[LeafFile]
    missing: list[str]  # named paths that do not exist, as shown
    skipped: list[tuple[str, str]]  # (path as shown, why it is not validated)


def collect(paths: list[Path], cwd: Path, absolute: bool = False) -> Found:
    """Leaf files for the given files/folders (relative to `cwd` where inside it, or all
    absolute). A file named that is not a leaf file counts for the leaf it belongs to (an
    attribution.txt or a document: that leaf's qna.yaml), or is skipped with the reason;
    leaf files inside hidden folders are skipped with the reason too."""
    found = Found([], [], [])
    seen: set[str] = set()
    here = os.fspath(cwd.absolute())
    for p in paths:
        hidden: list[str] = []
        if p.is_dir():
            files = walk_str(p, hidden)
        elif p.exists() or p.is_symlink():
            leaf = owning_leaf(p)
            if leaf is None:
                found.skipped.append((str(display(p, cwd)), NOT_A_LEAF))
                continue
            files = [os.fspath(leaf)]
        else:
            found.missing.append(str(display(p, cwd)))
            continue
        for f in hidden:
            found.skipped.append((str(display(Path(f), cwd)), _hidden_reason(f, p)))
        for f in files:
            key = os.path.abspath(f)
            if key not in seen:
                seen.add(key)
                inside = key.startswith(here + os.sep) and not absolute
                found.leaves.append(
                    place(key[len(here) + 1 :] if inside else key if absolute else f)
                )
    return found


def _hidden_reason(path: str, top: Path) -> str:
    parts = Path(os.path.relpath(path, top)).parts
    folder = next((part for part in parts if part.startswith(".")), parts[0])
    return f"in the hidden folder {folder}/, which is not part of the taxonomy: not validated"


def find_root(start: Path) -> Path:
    """The repository root (nearest folder with .git), else `start`; no pygit2 import."""
    here = start.absolute()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def default_taxonomy(root: Path) -> Path:
    """`taxonomy/` in this project's layout; the root itself in a bare InstructLab repo."""
    if (root / "taxonomy").is_dir() or not any((root / b).is_dir() for b in BRANCHES):
        return root / "taxonomy"
    return root
