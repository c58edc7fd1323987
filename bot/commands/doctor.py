"""`bot doctor`: check that this machine can run the bot's jobs; exit 0 no failure, 1 failures."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from bot.commands._common import usage, work_dir
from bot.taxonomy.find import find_root

ACCESS = ("read", "triage", "write", "maintain", "admin")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check a runner: Python, packages, GPU, disk, caches, GitHub token and API",
        description="Run every check and print a pass/warn/fail report. Exit 0 when nothing "
        "failed, 1 otherwise, 2 on usage errors. Env: BOT_CACHE, GITHUB_REPOSITORY, "
        "GITHUB_TOKEN (never printed), GITHUB_API_URL; with --runner the runner's "
        "BOT_RUNNER_ROLE, BOT_RUNNER_KIND, BOT_RUNNER_DIR, BOT_STATE, BOT_PUBLISHED, "
        "BOT_RELEASE_PATHS.",
    )
    p.add_argument("--work", type=Path, metavar="DIR", help="work folder (default .bot/)")
    p.add_argument("--cache", type=Path, metavar="DIR", help="model cache (default $BOT_CACHE)")
    p.add_argument("--min-work-gb", type=float, default=10.0, metavar="GB")
    p.add_argument("--min-cache-gb", type=float, default=20.0, metavar="GB")
    p.add_argument("--gpu", action="store_true", help="a GPU runner: no visible GPU fails")
    p.add_argument("--github", action="store_true", help="a missing token or unreachable API fails")
    p.add_argument(
        "--token-access",
        choices=ACCESS,
        default="read",
        help="the least repository access the token must have (default read)",
    )
    p.add_argument(
        "--runner",
        choices=("pr", "release"),
        help="inside a job on a self-hosted runner: it must be this kind, and isolated as "
        "docs/security.md says (state, release volume, credentials, installation)",
    )
    p.add_argument(
        "--policy",
        action="store_true",
        help="check the repository's and organisation's security settings (an admin's token)",
    )
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="per API request")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    for flag in ("min_work_gb", "min_cache_gb", "timeout"):
        value = getattr(args, flag)
        if not math.isfinite(value) or value < 0 or (flag == "timeout" and value == 0):
            return usage(
                "doctor", f"--{flag.replace('_', '-')} must be a positive number, not {value}"
            )
    from bot.doctor import Settings, run_checks
    from bot.doctor.report import as_json, print_table
    from bot.github.commands import Level
    from trainer.models.cache import cache_root

    settings = Settings(
        work=work_dir(args.work, find_root(Path.cwd())),
        cache=(args.cache or cache_root()).absolute(),
        min_work_gb=args.min_work_gb,
        min_cache_gb=args.min_cache_gb,
        gpu=args.gpu,
        github=args.github,
        token_access=Level[args.token_access.upper()],
        timeout=args.timeout,
        runner=args.runner or "",
        policy=args.policy,
    )
    results = run_checks(settings, os.environ)
    if args.format == "json":
        sys.stdout.write(as_json(results))
    else:
        print_table(results)
    return 1 if any(r.status == "fail" for r in results) else 0
