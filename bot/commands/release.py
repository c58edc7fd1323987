"""`bot release`: retrain, benchmark, write the manifest and notes, commit and tag
(bot/release/). The release notes go to stdout; progress and errors to stderr."""

from __future__ import annotations

import argparse
import contextlib
import sys

from bot.commands._common import add_work, open_workspace


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "release",
        help="retrain, benchmark and tag a versioned release",
        description="Collect the leaves added, changed and removed since the last release "
        "tag, retrain in phases with replay, benchmark against the previous release, write "
        "releases/<version>/ (manifest, model card, changelog), commit and tag. An "
        "interrupted release continues where it stopped. Prints the release notes.",
    )
    p.add_argument(
        "--version",
        dest="release_version",
        metavar="X.Y.Z",
        help="the version (default: the next minor after the last tag, or 0.1.0)",
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be released")
    p.add_argument("--force", action="store_true", help="release even if the benchmark fails")
    p.add_argument(
        "--base-model", metavar="SPEC", help="base model (default bot.yaml release.base)"
    )
    add_work(p)


def run(args: argparse.Namespace) -> int:
    from bot.interrupts import interruptible
    from bot.release.state import ReleaseError

    ws = open_workspace("release", args.work)
    if isinstance(ws, int):
        return ws
    from bot.report.progress import RichProgress
    from bot.stages.release import ReleaseRequest, dry_run, release

    req = ReleaseRequest(version=args.release_version, base_model=args.base_model, force=args.force)
    try:
        # stdout carries the notes alone: everything the stages print goes to stderr.
        # Ctrl-C and SIGTERM stop it as an exception: the next release continues.
        with (
            contextlib.redirect_stdout(sys.stderr),
            interruptible(),
            RichProgress(prefix="bot release: ") as progress,
        ):
            result = dry_run(ws, req) if args.dry_run else release(ws, req, progress)
    except ReleaseError as exc:
        print(f"bot release: {exc}", file=sys.stderr)
        return exc.code
    sys.stdout.write(result.notes)
    return 0
