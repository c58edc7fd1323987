"""What the command modules share: usage errors, the taxonomy root with its bot.yaml, and
the work folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Config

USAGE = 2  # exit status of a usage error (bad arguments or bot.yaml), as argparse's


def usage(command: str, message: str) -> int:
    """Print `bot <command>: error: <message>` to stderr; returns the usage-error status."""
    print(f"bot {command}: error: {message}", file=sys.stderr)
    return USAGE


def root_and_config(command: str) -> tuple[Path, Config] | int:
    """The taxonomy root at or above the working directory and its bot.yaml; or, when
    bot.yaml is invalid, the usage error printed and its status returned."""
    from bot.config import ConfigError, load_config
    from bot.taxonomy.find import find_root

    root = find_root(Path.cwd())
    try:
        return root, load_config(root)
    except ConfigError as exc:
        return usage(command, str(exc))


def work_dir(work: Path | None, root: Path) -> Path:
    """--work, or `.bot/` in the taxonomy root; absolute."""
    return (work or root / ".bot").absolute()
