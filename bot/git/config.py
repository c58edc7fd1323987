"""Which repository settings bot/git/scan.py handles like libgit2, and whether content
filters may apply (then libgit2 is asked about each changed file)."""

from __future__ import annotations

import os
from typing import Any

from bot.git.index import Unsupported


def settings(repo: Any) -> tuple[bool, bool]:
    """(core.filemode, core.autocrlf on); Unsupported for settings the scan ignores."""
    cfg = repo.config

    def flag(name: str, default: bool) -> bool:
        if name not in cfg:
            return default
        try:
            return bool(cfg.get_bool(name))
        except Exception:  # not a boolean (core.fsmonitor may name a hook)
            return True

    for name in ("core.ignorecase", "core.precomposeunicode", "core.sparsecheckout"):
        if flag(name, False):
            raise Unsupported(name)
    if flag("core.fsmonitor", False) or not flag("core.symlinks", True):
        raise Unsupported("core.fsmonitor or core.symlinks")
    if "extensions.objectformat" in cfg and str(cfg["extensions.objectformat"]) != "sha1":
        raise Unsupported("extensions.objectformat")
    crlf = "core.autocrlf" in cfg and str(cfg["core.autocrlf"]).lower() not in (
        "false",
        "no",
        "off",
        "0",
        "",
    )
    return flag("core.filemode", True), crlf


def attribute_files(repo: Any) -> bool:
    """Whether an attributes file outside the working tree exists: info/attributes,
    core.attributesFile, or libgit2's global (XDG) or system one."""
    import pygit2

    if "core.attributesfile" in repo.config:
        return True
    paths = [os.path.join(repo.path, "info", "attributes")]
    levels = (
        (pygit2.enums.ConfigLevel.XDG, "attributes"),
        (pygit2.enums.ConfigLevel.SYSTEM, "gitattributes"),
    )
    for level, name in levels:
        found = str(pygit2.settings.search_path[level] or "")
        paths += [os.path.join(folder, name) for folder in found.split(os.pathsep) if folder]
    return any(os.path.exists(p) for p in paths)
