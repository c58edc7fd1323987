"""Runs one side of changed_speed.py in this (fresh) interpreter; not a benchmark itself.

    python _changed_runner.py SIDE command ARGS...   # bot.cli.main(ARGS); exit code passed on
    python _changed_runner.py SIDE status ROOT       # prints {"s": seconds, "paths": [...]}

SIDE picks what answers `git status` inside `bot.git.diff.changed_leaves`:
- scan: bot/git/scan.py, as `bot` ships (its memo in ROOT/.bot/cache);
- libgit2: libgit2's status through the two diffs it is made of, which release the GIL
  (`bot.git.scan.libgit2_paths`);
- libgit2-cached: the same, with the staged paths (HEAD to index, 0.06 s of the 0.3 s)
  remembered in ROOT/.bot/cache under the index file's checksum and HEAD's tree id: the
  cheapest cache there is, as the working-tree half has no cheap key (that is the scan);
- status: pygit2's `Repository.status(untracked_files="all")`, which holds the GIL.
The replacement is put in when bot.git.scan is first imported (an import hook), so every
side imports the same modules at the same moments as `bot` does.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

SIDES = ("scan", "libgit2", "libgit2-cached", "status")


def replacement(side: str, scan: ModuleType) -> Callable[[Any, Any, Path], set[str]]:
    if side == "libgit2":
        return lambda repo, head_tree, cache_dir: set(scan.libgit2_paths(repo, head_tree))
    if side == "libgit2-cached":
        return lambda repo, head_tree, cache_dir: cached_staged(scan, repo, head_tree, cache_dir)
    if side == "status":
        return lambda repo, head_tree, cache_dir: set(repo.status(untracked_files="all"))
    real: Callable[[Any, Any, Path], set[str]] = scan.status_paths
    return real


def cached_staged(scan: ModuleType, repo: Any, head_tree: Any, cache_dir: Path) -> set[str]:
    """libgit2's status with the HEAD-to-index half from a cache keyed by what decides it."""
    from pygit2.enums import DiffOption

    with open(os.path.join(repo.path, "index"), "rb") as fh:
        fh.seek(-20, os.SEEK_END)
        key = f"{fh.read(20).hex()} {head_tree.id}"
    memo = cache_dir / "staged-bench.json"
    try:
        saved = json.loads(memo.read_text())
    except (OSError, ValueError):
        saved = {}
    flags = DiffOption.INCLUDE_TYPECHANGE  # as in scan.libgit2_paths
    if saved.get("key") == key:
        staged = set(saved["paths"])
    else:
        staged = scan._delta_paths(repo.index.diff_to_tree(head_tree, flags))
        memo.write_text(json.dumps({"key": key, "paths": sorted(staged)}))
    flags |= DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS
    return staged | set(scan._delta_paths(repo.index.diff_to_workdir(flags)))


class _Hook(importlib.abc.MetaPathFinder):
    """Swaps bot.git.scan.status_paths for SIDE's right after the module is loaded."""

    def __init__(self, side: str) -> None:
        self.side = side

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "bot.git.scan":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        loader, side = spec.loader, self.side
        load = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            module.status_paths = replacement(side, module)  # type: ignore[attr-defined]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def status_step(side: str, root: str) -> None:
    """The step alone: the paths, timed after imports and opening the repository."""
    import pygit2

    from bot.git import scan

    repo = pygit2.Repository(root)
    head = repo.head.peel(pygit2.Commit).tree
    call = replacement(side, scan)
    t0 = time.perf_counter()
    paths = call(repo, head, Path(root) / ".bot" / "cache")
    seconds = time.perf_counter() - t0
    print(json.dumps({"s": seconds, "paths": sorted(paths)}))


def main() -> int:
    side, mode, *args = sys.argv[1:]
    assert side in SIDES and mode in ("command", "status"), __doc__
    if mode == "status":
        status_step(side, args[0])
        return 0
    if side != "scan":
        sys.meta_path.insert(0, _Hook(side))
    from bot.cli import main as bot_main

    return int(bot_main(args))


if __name__ == "__main__":
    sys.exit(main())
