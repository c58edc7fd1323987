"""Run every check in order; a check that crashes becomes a one-line failure, not a traceback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bot.doctor import github, machine, policy, runner, state
from bot.doctor.result import Result
from bot.github.commands import Level


@dataclass(frozen=True)
class Settings:
    work: Path  # the bot's work folder (.bot/): generate store, replay buffer
    cache: Path  # $BOT_CACHE: converted models
    min_work_gb: float = 10.0
    min_cache_gb: float = 20.0
    gpu: bool = False  # a GPU runner: no visible GPU is a failure
    github: bool = False  # a missing token or unreachable API is a failure
    token_access: Level = Level.READ
    timeout: float = 5.0
    runner: str = ""  # "pr" or "release": check this runner's isolation from inside a job
    policy: bool = False  # check the repository's and organisation's security settings


Check = Callable[[], Result | list[Result]]


def checks(s: Settings, environ: Mapping[str, str]) -> list[tuple[str, Check]]:
    api = environ.get("GITHUB_API_URL") or github.DEFAULT_API
    packages: list[tuple[str, Check]] = [
        (f"package {module}", partial(machine.package, module, dist, extra, required))
        for module, (dist, extra, required) in machine.PACKAGES.items()
    ]
    found: list[tuple[str, Check]] = [
        ("python", machine.python_version),
        *packages,
        ("gpu", partial(machine.gpu, s.gpu)),
        ("disk work", partial(machine.free_disk, "work", s.work, s.min_work_gb)),
        ("disk cache", partial(machine.free_disk, "cache", s.cache, s.min_cache_gb)),
        ("embedded model", partial(state.embedded_model, s.cache)),
        ("generate store", partial(state.generate_store, s.work)),
        ("replay buffer", partial(state.replay_buffer, s.work)),
        ("github api", partial(github.api_reachable, api, s.timeout, s.github)),
        (
            "github token",
            partial(github.token_access, environ, s.token_access, s.timeout, s.github),
        ),
    ]
    if s.runner:
        found.append(("runner", partial(runner.checks, s.runner, environ)))
    if s.policy:
        found += policy.checks(environ, s.timeout)
    return found


def run_checks(s: Settings, environ: Mapping[str, str]) -> list[Result]:
    token = environ.get("GITHUB_TOKEN", "")
    results = []
    for name, check in checks(s, environ):
        try:
            found = check()
        except Exception as exc:  # a bug in one check must not hide the others
            first = (str(exc).splitlines() or [""])[0]
            found = Result(name, "fail", f"check crashed: {type(exc).__name__}: {first}")
        for result in found if isinstance(found, list) else [found]:
            if token and token in result.detail:  # never print the token, whatever it says
                result = result._replace(detail=result.detail.replace(token, "***"))
            results.append(result)
    return results
