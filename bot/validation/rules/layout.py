"""Rules about where a leaf sits and what lies beside it: file-name, symlink,
layout-branch, leaf-nesting, attribution."""

from __future__ import annotations

import os
from pathlib import Path

from bot.taxonomy.find import BRANCHES, LEAF_NAME, LeafFile
from bot.validation.problems import Problem, error, warning


def file_name(leaf: LeafFile) -> list[Problem]:
    if leaf.path.name == LEAF_NAME:
        return []
    return [
        error(
            "file-name",
            f"leaf files must be named exactly '{LEAF_NAME}', not "
            f"'{leaf.path.name}': rename it (other tools will not see this leaf)",
        )
    ]


def symlink(leaf: LeafFile, repo_root: Path) -> list[Problem]:
    """A link may point within the repository; one that escapes it could read any file."""
    if not leaf.path.is_symlink():
        return []
    target = leaf.path.resolve()
    if target.is_relative_to(repo_root.resolve()):
        return []
    return [
        error(
            "symlink",
            f"symbolic link to {os.readlink(leaf.path)} points outside the "
            "repository; commit the file itself",
        )
    ]


def branch(leaf: LeafFile) -> list[Problem]:
    if leaf.branch is not None:
        return []
    return [
        warning(
            "layout-branch",
            "this file is not under any of "
            f"{', '.join(b + '/' for b in BRANCHES)}; it was checked as "
            "knowledge if it has a `document` key, else as a skill",
        )
    ]


def nesting(leaf: LeafFile) -> list[Problem]:
    """A leaf inside another leaf's folder makes the outer leaf's contents ambiguous."""
    out: list[Problem] = []
    here = os.path.dirname(os.path.abspath(leaf.path))  # os.path: this runs for every leaf
    parent = here
    for _ in range(max(len(leaf.taxonomy_path) - 2, 0)):  # stop at the branch folder
        parent = os.path.dirname(parent)
        if os.path.isfile(os.path.join(parent, LEAF_NAME)):
            out.append(
                error(
                    "leaf-nesting",
                    f"this leaf is inside another leaf "
                    f"({os.path.join(parent, LEAF_NAME)}); move one of them so that no qna.yaml "
                    "sits in a folder above another",
                )
            )
            break
    if inner := _leaf_below(here, top=True):
        out.append(
            error(
                "leaf-nesting",
                f"another leaf sits inside this one ({inner}); "
                "move it out so that no qna.yaml sits above another",
            )
        )
    return out


def _leaf_below(folder: str, top: bool = False) -> str | None:
    """The first qna.yaml in a subfolder of `folder` (top-down, sorted), skipping hidden
    folders. One scandir per folder: a leaf folder rarely has subfolders."""
    subdirs: list[str] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir():
                    if not entry.name.startswith(".") and not entry.is_symlink():
                        subdirs.append(entry.path)
                elif not top and entry.name == LEAF_NAME:
                    return entry.path
    except OSError:
        return None
    for sub in sorted(subdirs):
        if found := _leaf_below(sub):
            return found
    return None


def attribution(leaf: LeafFile, version: int) -> list[Problem]:
    if version < 2:
        return []
    path = leaf.leaf_dir / "attribution.txt"
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return [
            error(
                "attribution",
                f"{path} is missing; version {version} leaves need an "
                "attribution.txt (title, link, licence and creators of the source)",
            )
        ]
    except OSError as exc:
        return [error("attribution", f"{path} cannot be read: {exc.strerror}")]
    if not text.strip():
        return [
            error(
                "attribution",
                f"{path} is empty; say where the content comes from and under which licence",
            )
        ]
    return []
