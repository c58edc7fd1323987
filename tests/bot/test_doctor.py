"""`bot doctor`: each check on real inputs (folders, stores, the GitHub emulator), then the CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.doctor import Settings, run_checks
from bot.doctor.github import api_reachable, token_access
from bot.doctor.machine import free_disk, gpu, package, python_version
from bot.doctor.report import as_json, verdict
from bot.doctor.result import Result
from bot.doctor.runner import MARKER, release_volume
from bot.doctor.state import embedded_model, generate_store, replay_buffer
from bot.github.commands import Level
from tests.bot.github.conftest import REPO, World, world  # noqa: F401  (the emulator fixture)
from tests.bot.github.ghproxy import Fault
from tests.conftest import closed_to_others, run_bot
from tests.trainer.data.mixdata import export
from trainer.data import replay
from trainer.data.replay import Buffer, ReplayConfig
from trainer.sdg.store import Store, StoreKey

SECRET = "tok_bot"


def env_for(emulator: World, token: str = SECRET) -> dict[str, str]:
    return {"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": token, "GITHUB_API_URL": emulator.proxy.url}


def closed_port_url() -> str:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- the machine --------------------------------------------------------------------------


def test_python_version() -> None:
    assert python_version((3, 11)).status == "pass"
    old = python_version((99, 0))
    assert old.status == "fail" and "older than 99.0" in old.detail


def test_package_found_missing_and_optional() -> None:
    found = package("yaml", "PyYAML")
    assert found.status == "pass" and found.detail[0].isdigit()
    absent = package("no_such_module_for_doctor", extra="train")
    assert (absent.status, absent.detail) == ("fail", "not installed")
    assert absent.fix == 'pip install ".[train]"'
    assert package("no_such_module_for_doctor", required=False).status == "warn"


def test_gpu_required_or_not() -> None:
    import torch

    if torch.cuda.is_available():
        found = gpu(required=True)
        assert found.status == "pass" and torch.cuda.get_device_name(0) in found.detail
    else:
        assert gpu(required=True).status == "fail"
        soft = gpu(required=False)
        assert soft.status == "warn" and "no CUDA device visible" in soft.detail


def test_free_disk_threshold_and_missing_folder(tmp_path: Path) -> None:
    free_gb = shutil.disk_usage(tmp_path).free / 1024**3
    ok = free_disk("work", tmp_path / "not" / "made" / "yet", 0.001)
    assert ok.status == "pass" and "GiB free" in ok.detail
    short = free_disk("work", tmp_path, free_gb * 2 + 1)
    assert short.status == "fail" and "needs" in short.detail and short.fix


# --- what a runner keeps ------------------------------------------------------------------


def test_embedded_model_converted_or_convertible(tmp_path: Path) -> None:
    fresh = embedded_model(tmp_path)
    assert fresh.status == "pass" and "converts into" in fresh.detail
    target = tmp_path / "models" / "smollm2-135m-instruct"
    target.mkdir(parents=True)
    marker = {"format": 1, "converted_at": "2026-01-02T03:04:05Z"}
    (target / "taxonomy-bot-conversion.json").write_text(json.dumps(marker))
    done = embedded_model(tmp_path)
    assert done.status == "pass" and "2026-01-02T03:04:05Z" in done.detail


def _store_entry(store: Store, leaf: str) -> Path:
    key = StoreKey(leaf, f"hash-of-{leaf}", "teacher", "pipeline", 2, 0)
    entry = store.put(key, [{"messages": [], "metadata": {"leaf": leaf}}], {})
    store.set_current(key)
    return entry.data


def test_generate_store_empty_intact_and_damaged(tmp_path: Path) -> None:
    assert "empty" in generate_store(tmp_path).detail
    store = Store(tmp_path / "generate")
    _store_entry(store, "knowledge/a")
    data = _store_entry(store, "compositional_skills/b")
    intact = generate_store(tmp_path)
    assert (intact.status, intact.detail) == ("pass", f"2 leaves readable in {store.root}")
    data.write_text("tampered\n")
    damaged = generate_store(tmp_path)
    assert damaged.status == "warn"
    assert "1 of 2 leaves damaged" in damaged.detail and "compositional_skills/b" in damaged.detail


def test_replay_buffer_empty_loaded_and_damaged(tmp_path: Path) -> None:
    assert replay_buffer(tmp_path).status == "pass"
    current = export(tmp_path / "data", {"knowledge/science/one": 4, "knowledge/science/two": 2})
    config = ReplayConfig(max_rows=100)
    saved = replay.save(tmp_path / "replay", replay.update(Buffer(), current, config), config)
    loaded = replay_buffer(tmp_path)
    assert loaded.status == "pass"
    assert loaded.detail == f"version {saved.version[:12]}: 2 leaves, 6 rows"  # type: ignore[index]
    obj = next((tmp_path / "replay" / "objects").rglob("*.jsonl"))
    obj.write_text(obj.read_text() + "\n{}\n")
    broken = replay_buffer(tmp_path)
    assert broken.status == "fail" and "does not match its hash" in broken.detail and broken.fix


# --- GitHub: the emulator behind the recording proxy ---------------------------------------


def test_api_reachable_and_not(world: World) -> None:  # noqa: F811
    up = api_reachable(world.proxy.url, 5, required=True)
    assert up.status == "pass" and "answered" in up.detail
    down = closed_port_url()
    assert api_reachable(down, 2, required=True).status == "fail"
    assert api_reachable(down, 2, required=False).status == "warn"


def test_token_with_enough_and_too_little_access(world: World) -> None:  # noqa: F811
    world.proxy.reset()
    good = token_access(env_for(world), Level.WRITE, 5, required=True)
    assert (good.status, good.detail) == ("pass", f"@taxonomy-bot has write access to {REPO}")
    low = token_access(env_for(world, "tok_reader"), Level.WRITE, 5, required=True)
    assert low.status == "fail"
    assert low.detail == f"@reader has read access to {REPO}; needs write"


def test_actions_token_reads_the_repo_permissions(world: World) -> None:  # noqa: F811
    # GITHUB_TOKEN cannot read /user: the repository's `permissions` object is used instead.
    world.proxy.reset()
    world.proxy.inject(Fault("GET", r"^/user$", 403, body={"message": "Forbidden"}))
    found = token_access(env_for(world), Level.WRITE, 5, required=True)
    assert found.status == "pass" and found.detail.startswith("the token has ")


def test_bad_token_fails_without_printing_it(world: World) -> None:  # noqa: F811
    world.proxy.reset()
    world.proxy.inject(Fault("GET", rf"^/repos/{REPO}$", 401, body={"message": "Bad credentials"}))
    bad = token_access(env_for(world, "tok_leaked_secret"), Level.READ, 5, required=True)
    assert bad.status == "fail"
    assert bad.detail == f"GitHub rejected the token (401 Bad credentials) on GET /repos/{REPO}"
    assert "tok_leaked_secret" not in bad.detail + bad.fix


def test_missing_token_is_a_warning_unless_required() -> None:
    soft = token_access({}, Level.READ, 1, required=False)
    assert soft.status == "warn" and "GITHUB_REPOSITORY, GITHUB_TOKEN" in soft.detail
    hard = token_access({"GITHUB_REPOSITORY": REPO}, Level.READ, 1, required=True)
    assert (hard.status, hard.detail) == ("fail", "missing environment variable GITHUB_TOKEN")


# --- orchestration and the report ----------------------------------------------------------


def test_a_crashing_check_is_one_line_and_the_token_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.doctor import machine

    def boom() -> Result:
        raise RuntimeError("header Authorization: token s3cr3t\nsecond line")

    monkeypatch.setattr(machine, "python_version", boom)
    settings = Settings(work=tmp_path, cache=tmp_path, min_work_gb=0, min_cache_gb=0)
    results = run_checks(settings, {"GITHUB_API_URL": closed_port_url(), "GITHUB_TOKEN": "s3cr3t"})
    assert [r.name for r in results][:2] == ["python", "package bot"]
    assert results[-1].name == "github token"
    crashed = results[0]
    assert crashed.status == "fail"
    assert crashed.detail == "check crashed: RuntimeError: header Authorization: token ***"
    assert all("s3cr3t" not in r.detail for r in results)


def test_verdict_and_json() -> None:
    ok = [Result("a", "pass", "x"), Result("b", "warn", "y")]
    assert verdict(ok) == "PASS: 2 checks, 1 warning(s)"
    bad = [*ok, Result("c", "fail", "z", "do this")]
    assert verdict(bad) == "FAIL: 1 of 3 checks failed (c)"
    doc = json.loads(as_json(bad))
    assert doc["ok"] is False and doc["checks"][2] == {
        "name": "c",
        "status": "fail",
        "detail": "z",
        "fix": "do this",
    }


# --- the CLI, end to end -------------------------------------------------------------------


def _cli_env(emulator: World, tmp_path: Path) -> dict[str, str]:
    return {**env_for(emulator), "BOT_CACHE": str(tmp_path / "cache")}


def test_cli_json_fails_on_disk_and_never_prints_the_token(
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    world.proxy.reset()
    args = ["doctor", "--format", "json", "--github", "--token-access", "write"]
    # Only the work folder's threshold is out of reach: the cache's must pass on any disk.
    limits = ("--min-work-gb", "1e9", "--min-cache-gb", "0")
    proc = run_bot(*args, *limits, cwd=tmp_path, env=_cli_env(world, tmp_path))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    status = {c["name"]: c["status"] for c in doc["checks"]}
    assert status["disk work"] == "fail" and status["disk cache"] == "pass"
    assert status["github token"] == "pass" and status["github api"] == "pass"
    assert doc["ok"] is False and doc["verdict"].startswith("FAIL: 1 of ")
    assert SECRET not in proc.stdout + proc.stderr


def test_cli_text_passes_with_a_table(world: World, tmp_path: Path) -> None:  # noqa: F811
    args = ["doctor", "--min-work-gb", "0", "--min-cache-gb", "0", "--github"]
    proc = run_bot(*args, cwd=tmp_path, env={**_cli_env(world, tmp_path), "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stdout
    assert "│ github token" in proc.stdout and "@taxonomy-bot has write access" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("PASS: 14 checks")


def test_cli_without_torch_reports_it(tmp_path: Path) -> None:
    # None in sys.modules is Python's own way to make a module unimportable.
    code = (
        "import sys; sys.modules['torch'] = None; from bot.cli import main; "
        "sys.exit(main(['doctor', '--format', 'json', '--gpu', '--min-work-gb', '0', "
        f"'--min-cache-gb', '0', '--cache', {str(tmp_path / 'cache')!r}]))"
    )
    env = {"GITHUB_API_URL": closed_port_url(), "GITHUB_TOKEN": "", "GITHUB_REPOSITORY": ""}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["package torch"]["status"] == "fail"
    gpu_check, model = checks["gpu"], checks["embedded model"]
    assert gpu_check["status"] == "fail" and "torch cannot be imported" in gpu_check["detail"]
    assert model["status"] == "fail" and "torch missing" in model["detail"]
    assert checks["github token"]["status"] == "warn"


def test_cli_usage_error(tmp_path: Path) -> None:
    proc = run_bot("doctor", "--timeout", "0", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "bot doctor: error: --timeout must be a positive number, not 0.0"


@pytest.mark.parametrize("flag", ["--min-work-gb", "--min-cache-gb"])
def test_cli_rejects_negative_thresholds(flag: str, tmp_path: Path) -> None:
    proc = run_bot("doctor", flag, "-1", cwd=tmp_path)
    assert proc.returncode == 2 and flag in proc.stderr


# --- a self-hosted runner, from inside a job ----------------------------------------------
#
# The job runs as an unprivileged user (as on the runners): a uid with no account here, via
# setpriv when the tests run as root, else the test user itself.

JOB_UID = 43117
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def box() -> Iterator[Path]:
    """A folder the job user can traverse (pytest's own tmp_path is root's alone)."""
    closed = closed_to_others(ROOT, Path(sys.prefix)) if os.geteuid() == 0 else None
    if closed:
        pytest.skip(f"the job user cannot enter {closed}: clone into a folder others can read")
    folder = Path(tempfile.mkdtemp(prefix="doctor-runner-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def as_job(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, dict[str, str]]:
    """`bot doctor ARGS --format json` as the job user; its checks by name."""
    cmd = [sys.executable, "-m", "bot", "doctor", *args, "--format", "json"]
    if os.geteuid() == 0:
        ids = ["--reuid", str(JOB_UID), "--regid", str(JOB_UID), "--clear-groups"]
        cmd = ["setpriv", *ids, "--", *cmd]
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": str(cwd)}
    proc = subprocess.run(cmd, cwd=cwd, env={**base, **env}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.stdout, proc.stderr
    return {c["name"]: c for c in json.loads(proc.stdout)["checks"]}


def runner_env(box: Path, **extra: str) -> dict[str, str]:
    """A PR runner laid out as runners/ sets one up, every part of it right."""
    for name, mode in (("published", 0o755), ("install", 0o755), ("scratch", 0o777)):
        (box / name).mkdir()
        (box / name).chmod(mode)
    return {
        "BOT_RUNNER_ROLE": "pr",
        "BOT_RUNNER_KIND": "systemd",
        "BOT_RUNNER_DIR": str(box / "install"),
        "BOT_PUBLISHED": str(box / "published"),
        "BOT_SCRATCH": str(box / "scratch"),
        "GITHUB_API_URL": closed_port_url(),
        **extra,
    }


ARGS = ["--runner", "pr", "--min-work-gb", "0", "--min-cache-gb", "0"]


def run_as_pr_job(box: Path, env: dict[str, str]) -> dict[str, dict[str, str]]:
    args = [*ARGS, "--work", str(box / "scratch" / "w"), "--cache", str(box / "scratch" / "c")]
    found = as_job(args, env, box / "scratch")
    return {k: v for k, v in found.items() if k.startswith(("runner", "release"))}


def test_a_well_isolated_pr_runner_passes(box: Path) -> None:
    secret = box / "github-token"
    secret.write_text("ghp_admin")
    secret.chmod(0o600)  # root's, as the systemd unit keeps it
    release = box / "release-state"
    release.mkdir(mode=0o700)
    (release / MARKER).touch()
    env = runner_env(box, BOT_CREDENTIAL_PATHS=str(secret), BOT_RELEASE_PATHS=str(release))
    found = run_as_pr_job(box, env)
    assert {k: v["status"] for k, v in found.items()} == {
        "runner role": "pass", "runner credentials": "pass", "runner state": "pass",
        "release volume": "pass", "runner install": "pass",
    }, found  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="root's files must differ from the job user's")
def test_each_isolation_failure_of_a_pr_runner_fails_loudly(box: Path) -> None:
    # The findings of issue 17: the job could read the registration credential, write the
    # state that releases use, reach the release volume, and change its runner's folder.
    secret = box / "github-token"
    secret.write_text("ghp_admin")
    secret.chmod(0o644)
    release = box / "release-state"
    release.mkdir(mode=0o755)
    (release / MARKER).touch()
    env = runner_env(box, BOT_CREDENTIAL_PATHS=str(secret), BOT_RELEASE_PATHS=str(release),
                     CREDENTIALS_DIRECTORY=str(box))  # fmt: skip
    (box / "published").chmod(0o777)
    (box / "install").chmod(0o777)
    found = run_as_pr_job(box, env)
    assert {k: v["status"] for k, v in found.items()} == {
        "runner role": "pass", "runner credentials": "fail", "runner state": "fail",
        "release volume": "fail", "runner install": "fail",
    }, found  # fmt: skip
    assert str(secret) in found["runner credentials"]["detail"]
    assert "$CREDENTIALS_DIRECTORY" in found["runner credentials"]["detail"]
    assert str(box / "published") in found["runner state"]["detail"]
    assert str(release) in found["release volume"]["detail"]


def test_a_release_job_on_a_pr_runner_and_a_pod_runner(box: Path) -> None:
    env = runner_env(box, BOT_RUNNER_KIND="pod")
    args = ["--runner", "release", "--min-work-gb", "0", "--min-cache-gb", "0"]
    found = as_job([*args, "--work", str(box / "scratch")], env, box / "scratch")
    assert found["runner role"]["status"] == "fail"
    assert "this runner is pr" in found["runner role"]["detail"]
    assert found["runner state"]["status"] == "fail" and MARKER in found["runner state"]["detail"]
    assert found["runner install"]["detail"].startswith("an ephemeral pod")
    state = box / "scratch" / "state"
    state.mkdir()
    state.chmod(0o777)  # the release job user's
    (state / MARKER).touch()
    env |= {"BOT_RUNNER_ROLE": "release", "BOT_STATE": str(state)}
    found = as_job([*args, "--work", str(state)], env, box / "scratch")
    assert found["runner role"]["status"] == found["runner state"]["status"] == "pass"


def test_the_release_volume_is_found_among_the_mounts(tmp_path: Path) -> None:
    volume = tmp_path / "state with space"
    volume.mkdir()
    mountinfo = tmp_path / "mountinfo"
    escaped = str(volume).replace(" ", "\\040")
    mountinfo.write_text(f"36 35 98:0 / {escaped} rw,noatime - ext4 /dev/x rw\n")
    assert release_volume({}, mountinfo).status == "pass"
    (volume / MARKER).touch()
    found = release_volume({}, mountinfo)
    assert found.status == "fail" and str(volume) in found.detail


# --- the repository's and organisation's settings (bot doctor --policy) --------------------

ORG = REPO.split("/")[0]
ALLOWED = [f"{REPO}/.github/workflows/{f}.yml@refs/heads/main" for f in ("generate", "benchmark",
                                                                          "retrain")]  # fmt: skip


def settings(world: World, good: bool, extra_workflow: str = "") -> None:  # noqa: F811
    p = world.proxy
    p.reset()
    p.answer(
        "GET",
        r"/actions/permissions/fork-pr-contributor-approval$",
        {"approval_policy": "all_external_contributors" if good else "first_time_contributors"},
    )
    p.answer(
        "GET",
        r"/actions/permissions/workflow$",
        {
            "default_workflow_permissions": "read" if good else "write",
            "can_approve_pull_request_reviews": not good,
        },
    )
    pr_group = {
        "id": 2,
        "name": "taxonomy-pr-gpu",
        "visibility": "selected",
        "restricted_to_workflows": good,
        "selected_workflows": ALLOWED + ([extra_workflow] if extra_workflow else []),
    }
    release_group = {
        "id": 3,
        "name": "taxonomy-release",
        "visibility": "selected" if good else "all",
        "restricted_to_workflows": True,
        "selected_workflows": [f"{REPO}/.github/workflows/release.yml@refs/heads/main"],
    }
    p.answer(
        "GET",
        rf"^/orgs/{ORG}/actions/runner-groups$",
        {"total_count": 2, "runner_groups": [pr_group, release_group]},
    )
    gpu = [] if good else [{"id": 9, "name": "box", "labels": [{"name": "gpu"}]}]
    p.answer("GET", r"/actions/runners$", {"total_count": len(gpu), "runners": gpu})
    reviewers = [{"type": "required_reviewers", "reviewers": [{"type": "User"}]}]
    p.answer("GET", r"/environments/release$", {"name": "release",
             "protection_rules": reviewers if good else []})  # fmt: skip


def policy(world: World) -> dict[str, Result]:  # noqa: F811
    from bot.doctor.policy import checks

    return {r.name: r for r in (check() for _, check in checks(env_for(world), 5))}


def test_policy_passes_when_github_is_set_up_as_docs_security_says(world: World) -> None:  # noqa: F811
    settings(world, good=True)
    found = policy(world)
    assert {r.status for r in found.values()} == {"pass"}, found
    assert found["runner group taxonomy-pr-gpu"].detail.startswith("only ")


def test_policy_fails_loudly_on_each_setting(world: World) -> None:  # noqa: F811
    settings(world, good=False)
    found = policy(world)
    assert {r.status for r in found.values()} == {"fail"}, found
    assert "first_time_contributors" in found["fork approval"].detail
    assert found["workflow token"].detail == (
        "the default token is write; workflows may approve pull requests"
    )
    assert "any workflow may use it" in found["runner group taxonomy-pr-gpu"].detail
    assert "open to every repository" in found["runner group taxonomy-release"].detail
    assert "box" in found["repository runners"].detail
    assert found["environment release"].detail == "no required reviewer" and all(
        r.fix for r in found.values()
    )


@pytest.mark.parametrize(
    "sneaky",
    [
        # A fork PR's run of its own workflow, asking for the `gpu` label.
        f"{REPO}/.github/workflows/evil.yml@refs/pull/5/merge",
        # The bot's own file, but from a branch anyone with push access can edit.
        f"{REPO}/.github/workflows/generate.yml@refs/heads/side",
        f"{REPO}/.github/workflows/*@*",
    ],
)
def test_a_runner_group_admitting_any_other_workflow_fails(world: World, sneaky: str) -> None:  # noqa: F811
    settings(world, good=True, extra_workflow=sneaky)
    found = policy(world)["runner group taxonomy-pr-gpu"]
    assert found.status == "fail" and found.detail == f"also admits {sneaky}"


def test_policy_without_an_admin_token_says_so(world: World) -> None:  # noqa: F811
    world.proxy.reset()
    forbidden = {"message": "Resource not accessible by integration"}
    world.proxy.inject(Fault("GET", r"/actions/permissions/", 403, times=2, body=forbidden))
    found = policy(world)
    assert (
        found["fork approval"].status == "fail"
        and "cannot read it" in found["fork approval"].detail
    )
    assert "admin" in found["fork approval"].fix
