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


def walk_str(root: Path | str) -> list[str]:
    found: list[str] = []
    stack = [str(root)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif is_candidate(entry.name):
                        found.append(entry.path)
        except OSError:
            continue
    found.sort()
    return found


def display(path: Path, cwd: Path) -> Path:
    try:
        return path.absolute().relative_to(cwd)
    except ValueError:
        return path


def collect(
    paths: list[Path], cwd: Path, absolute: bool = False
) -> tuple[list[LeafFile], list[str]]:
    """Leaf files for the given files/folders (relative to `cwd` where inside it, or all
    absolute), plus messages for paths that don't exist."""
    missing: list[str] = []
    seen: set[str] = set()
    out: list[LeafFile] = []
    here = os.fspath(cwd.absolute())
    for p in paths:
        if p.is_dir():
            files = walk_str(p)
        elif p.exists() or p.is_symlink():
            files = [os.fspath(p)]
        else:
            missing.append(str(display(p, cwd)))
            continue
        for f in files:
            key = os.path.abspath(f)
            if key not in seen:
                seen.add(key)
                inside = key.startswith(here + os.sep) and not absolute
                out.append(place(key[len(here) + 1 :] if inside else key if absolute else f))
    return out, missing


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
