"""The `bot` command line: parse and dispatch; every command lives in bot/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

# Imported lazily so `bot validate` never pays for (or imports) torch.
COMMANDS = (
    "validate",
    "generate",
    "serve",
    "gh",
    "train",
    "benchmark",
    "doctor",
    "run",
    "release",
    "simulate",
    "site",
)


class _CommandParser(argparse.ArgumentParser):
    """A (sub-)command's parser: an argument it does not know is reported with its own usage
    (`bot validate --bad` prints `usage: bot validate ...`), not with the top level's, which
    is where argparse would otherwise collect it. Nested sub-commands inherit the class."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed, extra


def parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bot",
        description="Taxonomy bot: validate leaves, generate data, train, benchmark and release.",
    )
    p.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = p.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )
    wanted = [a for a in argv[:1] if a in COMMANDS]
    for name in wanted or COMMANDS:  # only the command being run needs its module imported
        try:
            importlib.import_module(f"bot.commands.{name}").register(sub)
        except ModuleNotFoundError as exc:
            if exc.name != f"bot.commands.{name}":
                raise
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser(argv).parse_args(argv)
    module = importlib.import_module(f"bot.commands.{args.command}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM where bot.interrupts is in effect
        from bot.interrupts import exit_code, what

        print(what(exc), file=sys.stderr)
        return exit_code(exc)
