"""What the command modules share: usage errors, and the workspace of the current
directory (the only place below bot/cli.py that looks at the current directory or at
$BOT_CONFIG)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.workspace import Workspace

USAGE = 2  # exit status of a usage error (bad arguments or bot.yaml), as argparse's


def usage(command: str, message: str) -> int:
    """Print `bot <command>: error: <message>` to stderr; returns the usage-error status."""
    print(f"bot {command}: error: {message}", file=sys.stderr)
    return USAGE


def add_work(p: argparse.ArgumentParser) -> None:
    """--work: the one work folder of every command."""
    p.add_argument(
        "--work",
        type=Path,
        metavar="DIR",
        help="work folder: generation store, data, runs, replay buffer, caches (default .bot/)",
    )


def open_workspace(
    command: str, work: Path | None = None, replay_from: Path | None = None
) -> Workspace | int:
    """The workspace of the repository at or above the current directory, with bot.yaml (or
    the profile $BOT_CONFIG names); or, when that is invalid, the usage error printed and
    its status returned."""
    from bot.config import ConfigError
    from bot.taxonomy.find import find_root
    from bot.workspace import Workspace

    profile = os.environ.get("BOT_CONFIG")
    try:
        return Workspace.open(
            find_root(Path.cwd()),
            work=work,
            config_file=Path(profile) if profile else None,
            replay_from=replay_from,
        )
    except ConfigError as exc:
        return usage(command, str(exc))


def work_dir(work: Path | None, root: Path) -> Path:
    """--work, or `.bot/` in the repository root; absolute (bot.workspace.Layout.work)."""
    from bot.workspace import WORK

    return (work or root / WORK).absolute()
