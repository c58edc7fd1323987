"""The GitHub settings the security model rests on, read through the API (`bot doctor
--policy`). They cannot live in the repository, so a maintainer sets them once and this
checks them (docs/security.md, "What a maintainer must configure"):

- outside contributors' workflow runs need approval, every time;
- the default workflow token is read-only and cannot approve pull requests;
- the GPU runner groups admit only the bot's own workflow files on the default branch
  (a fork's workflow asking for `gpu` then never gets a runner), and no GPU runner is
  registered at repository level, where no such restriction exists;
- the release environment requires a reviewer.

Reading them needs an organisation owner's or repository admin's token (a workflow's
GITHUB_TOKEN cannot): a token that may not read a setting fails that check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.config import GithubConfig
from bot.doctor.result import Result
from bot.github.client import ApiError, BotError, Client, UsageError, read_env

ADMIN = "needs a token of a repository admin (organisation owner for runner groups)"


@dataclass
class Context:
    """One client and the default branch's settings, made on first use."""

    environ: Mapping[str, str]
    timeout: float
    _client: Client | None = None
    _cfg: GithubConfig | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        if self._client is None:
            env = read_env(self.environ)
            self._client = Client(env, timeout=(self.timeout, self.timeout), retries=1)
        return self._client

    @property
    def cfg(self) -> GithubConfig:
        if self._cfg is None:
            from bot.github.settings import default_config

            self._cfg = default_config(self.client)
        return self._cfg


def guarded(name: str, check: Callable[[Context], Result], ctx: Context) -> Result:
    """A setting the token may not read, or no token at all, is a failure that says so."""
    try:
        return check(ctx)
    except UsageError as exc:
        return Result(name, "fail", str(exc), "export GITHUB_REPOSITORY and an admin's token")
    except ApiError as exc:
        return Result(name, "fail", f"cannot read it: {exc}", ADMIN)
    except BotError as exc:
        return Result(name, "fail", str(exc))


def fork_approval(ctx: Context) -> Result:
    c = ctx.client
    got = c.get(c.repo("actions", "permissions", "fork-pr-contributor-approval"))
    policy = str(got.get("approval_policy"))
    if policy != "all_external_contributors":
        return Result(
            "fork approval",
            "fail",
            f"workflow runs of outside contributors need approval only for {policy}",
            "Settings -> Actions -> General: require approval for all external contributors",
        )
    return Result("fork approval", "pass", "every outside contributor's run waits for approval")


def workflow_token(ctx: Context) -> Result:
    c = ctx.client
    got = c.get(c.repo("actions", "permissions", "workflow"))
    wrong = []
    if got.get("default_workflow_permissions") != "read":
        wrong.append(f"the default token is {got.get('default_workflow_permissions')}")
    if got.get("can_approve_pull_request_reviews"):
        wrong.append("workflows may approve pull requests")
    if wrong:
        return Result(
            "workflow token",
            "fail",
            "; ".join(wrong),
            "Settings -> Actions -> General -> Workflow permissions: read, no PR approvals",
        )
    return Result("workflow token", "pass", "read-only by default, cannot approve PRs")


def allowed_workflows(ctx: Context, files: tuple[str, ...]) -> set[str]:
    branch = ctx.client.default_branch()
    return {f"{ctx.client.env.repository}/.github/workflows/{f}@refs/heads/{branch}" for f in files}


def runner_group(ctx: Context, name: str, files: tuple[str, ...]) -> Result:
    """The group exists, serves only selected repositories, and only the named workflow files
    of the default branch (no wildcard, no other ref: a fork PR's run is refs/pull/N/merge)."""
    check = f"runner group {name}"
    c = ctx.client
    groups = c.get(f"/orgs/{c.owner}/actions/runner-groups", params={"per_page": "100"})
    found = next((g for g in groups.get("runner_groups", []) if g.get("name") == name), None)
    fix = (
        f"Organisation settings -> Actions -> Runner groups -> {name}: selected repositories, "
        f"selected workflows {', '.join(sorted(allowed_workflows(ctx, files)))}"
    )
    if found is None:
        return Result(check, "fail", f"no runner group {name} in {c.owner}", fix)
    selected = set(found.get("selected_workflows") or [])
    extra = selected - allowed_workflows(ctx, files)
    if found.get("visibility") == "all":
        return Result(check, "fail", "open to every repository of the organisation", fix)
    if not found.get("restricted_to_workflows") or not selected:
        return Result(check, "fail", "any workflow may use it, a fork's too", fix)
    if extra:
        return Result(check, "fail", f"also admits {', '.join(sorted(extra))}", fix)
    return Result(check, "pass", f"only {', '.join(sorted(selected))}")


def repository_runners(ctx: Context) -> Result:
    """Self-hosted runners registered on the repository itself are in no runner group."""
    c = ctx.client
    runners = c.get(c.repo("actions", "runners"), params={"per_page": "100"}).get("runners", [])
    gpu = [
        str(r.get("name"))
        for r in runners
        if {str(lab.get("name")) for lab in r.get("labels", [])} & {"gpu", "gpu-release"}
    ]
    if gpu:
        return Result(
            "repository runners",
            "fail",
            f"GPU runners registered on the repository, which no runner group restricts: "
            f"{', '.join(gpu)}",
            "register them at organisation level, in the runner groups (runners/README.md)",
        )
    return Result("repository runners", "pass", "no GPU runner outside the runner groups")


def release_environment(ctx: Context) -> Result:
    c, name = ctx.client, ctx.cfg.release_environment
    try:
        env = c.get(c.repo("environments", name))
    except ApiError as exc:
        if exc.status != 404:
            raise
        env = None
    rules = [r for r in (env or {}).get("protection_rules", []) if isinstance(r, dict)]
    reviewers = [r for r in rules if r.get("type") == "required_reviewers" and r.get("reviewers")]
    if not reviewers:
        return Result(
            f"environment {name}",
            "fail",
            "missing" if env is None else "no required reviewer",
            f"Settings -> Environments -> {name}: required reviewers (maintainers), "
            "deployment branches: the default branch only",
        )
    return Result(f"environment {name}", "pass", "a maintainer reviews every release")


def checks(environ: Mapping[str, str], timeout: float) -> list[tuple[str, Callable[[], Result]]]:
    ctx = Context(environ, timeout)

    def group(kind: str) -> Callable[[Context], Result]:
        def check(c: Context) -> Result:
            cfg = c.cfg
            if kind == "pr":
                pr = (cfg.generate_workflow, cfg.benchmark_workflow, cfg.retrain_workflow)
                return runner_group(c, cfg.pr_runner_group, pr)
            release = (cfg.retrain_workflow, cfg.release_workflow)
            return runner_group(c, cfg.release_runner_group, release)

        return check

    named: list[tuple[str, Callable[[Context], Result]]] = [
        ("fork approval", fork_approval),
        ("workflow token", workflow_token),
        ("runner group (pr)", group("pr")),
        ("runner group (release)", group("release")),
        ("repository runners", repository_runners),
        ("release environment", release_environment),
    ]
    return [(name, _bind(name, check, ctx)) for name, check in named]


def _bind(name: str, check: Callable[[Context], Result], ctx: Context) -> Callable[[], Result]:
    return lambda: guarded(name, check, ctx)
