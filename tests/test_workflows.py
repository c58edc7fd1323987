"""The CI workflows and the runner set-up: linters with zero findings, plus the security rules
that can be read straight off the files (permissions, pins, the gate before GPU work)."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import GithubConfig
from tests.bot.github.conftest import REPO, World, world  # noqa: F401  (the emulator fixture)
from tests.conftest import closed_to_others

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
RUNNERS = ROOT / "runners"
BIN = Path(sys.executable).parent
FILES = sorted(WORKFLOWS.glob("*.yml"))
PRIVILEGED = {"pull_request_target", "workflow_run", "issue_comment"}
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$")


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is missing from {BIN}: pip install -e '.[dev]'", pytrace=False)
    return str(path)


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(doc, dict), path
    return doc


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as True
    return on if isinstance(on, dict) else {name: None for name in on}


def jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(doc["jobs"])


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def gpu(job: dict[str, Any]) -> bool:
    runs_on = job["runs-on"]
    return "self-hosted" in (runs_on if isinstance(runs_on, list) else [runs_on])


def checkouts(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith("actions/checkout@")]


# --- the linters --------------------------------------------------------------------------


def test_there_are_workflows() -> None:
    names = {p.name for p in FILES}
    assert {"validate.yml", "generate.yml", "retrain.yml", "release.yml", "ci.yml"} <= names


def test_actionlint_with_shellcheck_finds_nothing() -> None:
    # Plain `actionlint` at the root, as a contributor or an editor runs it: its configuration
    # (our runner labels) must be where it looks, .github/actionlint.yaml.
    tool("shellcheck")  # actionlint runs it over every `run:` script when it is on PATH
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [tool("actionlint")], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_zizmor_offline_finds_nothing_of_medium_severity_or_more() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    args = ["--offline", "--min-severity", "medium", "--format", "json", "--no-progress"]
    proc = subprocess.run(
        [tool("zizmor"), *args, str(WORKFLOWS)],
        capture_output=True,
        text=True,
        env={**env, "ZIZMOR_OFFLINE": "true"},
        timeout=120,
    )
    findings = json.loads(proc.stdout or "null")
    assert findings == [], proc.stdout
    assert proc.returncode == 0, proc.stderr


def zizmor_json(*args: str) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "json", "--no-progress", *args, str(WORKFLOWS)],
        capture_output=True,
        text=True,
        env={**env, "ZIZMOR_OFFLINE": "true"},
        timeout=120,
    )
    found: list[dict[str, Any]] = json.loads(proc.stdout or "null")
    return found


def test_zizmor_auditor_finds_only_the_self_hosted_runners_docs_security_answers() -> None:
    # The GPU jobs the mission needs; each is answered in docs/security.md. The inline
    # `zizmor: ignore[dangerous-triggers]` of bot.yml are answered there too.
    found = zizmor_json("--persona", "auditor")
    where = set()
    for finding in found:
        assert finding["ident"] == "self-hosted-runner", finding["ident"]
        route = finding["locations"][0]["symbolic"]["route"]["route"]
        path = finding["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]
        where.add((Path(path).name, route[1]["Key"]))
    assert where == {("generate.yml", "generate"), ("benchmark.yml", "benchmark"),
                     ("retrain.yml", "train"), ("retrain.yml", "train-pr"),
                     ("release.yml", "release")}  # fmt: skip
    security = (ROOT / "docs" / "security.md").read_text("utf-8")
    for file, job in where:
        assert f"`self-hosted-runner` `{file}` `{job}`" in security
    for trigger in ("pull_request_target", "issue_comment", "workflow_run"):
        assert f"`dangerous-triggers` `bot.yml` `{trigger}`" in security


# --- rules read off the files ---------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_and_pinned_actions(path: Path) -> None:
    doc = load(path)
    assert doc.get("permissions") == {}, "the workflow's default token must have no permissions"
    for name, job in jobs(doc).items():
        assert isinstance(job.get("permissions"), dict), f"job {name} sets no permissions"
        for step in checkouts(job):
            assert step["with"]["persist-credentials"] is False, f"job {name}: {step}"
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if re.match(r"^\s*(-\s+)?uses:", line):
            assert PINNED.match(line), f"{path.name}:{number}: pin by SHA + # vX.Y.Z: {line}"


def writes(job: dict[str, Any]) -> bool:
    return "write" in set(job.get("permissions", {}).values())


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(job))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_privileged_triggers_never_check_out_pr_code(path: Path) -> None:
    doc = load(path)
    if not PRIVILEGED & set(triggers(doc)):
        return
    text = path.read_text("utf-8")
    assert "github.event.pull_request.head" not in text
    assert "github.event.workflow_run.head_branch" not in text
    for name, job in jobs(doc).items():
        assert not gpu(job), f"{name}: a privileged workflow must not reach the GPU runners"
        for step in checkouts(job):  # the event's default: the base branch
            assert not {"ref", "repository"} & set(step.get("with", {})), f"{name}: {step}"
        # PR files are only ever fetched, as data, by a job that can write nothing.
        if "refs/pull/" in runs(job):
            assert not writes(job), f"{name} fetches PR files and holds a write token"
            assert "pip install" not in runs(job).split("refs/pull/")[1], name


def test_validation_is_posted_from_the_bots_own_run_not_the_forks() -> None:
    # validate.yml runs the fork's own version of itself: its report proves nothing. The
    # check run comes from bot.yml, which validates the PR's head as data itself.
    bot = load(WORKFLOWS / "bot.yml")
    assert "validate" not in triggers(bot)["workflow_run"]["workflows"]
    validate, post = jobs(bot)["validate"], jobs(bot)["validation"]
    assert not writes(validate) and "bot validate --changed" in runs(validate)
    assert "BOT_CONFIG" in validate["steps"][-2]["env"], "the default branch's settings"
    assert post["needs"] == "validate" and post["permissions"]["checks"] == "write"
    downloads = [s for s in steps(post) if "download-artifact" in str(s.get("uses"))]
    assert downloads and all("run-id" not in s.get("with", {}) for s in downloads)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_gpu_jobs_run_behind_the_gate_on_the_approved_sha(path: Path) -> None:
    doc = load(path)
    all_jobs = jobs(doc)
    for name, job in all_jobs.items():
        if not gpu(job):
            assert str(job["runs-on"]).startswith("ubuntu-"), name
            continue
        assert set(triggers(doc)) <= {"workflow_dispatch", "push"}, path.name
        assert job["runs-on"] in (["self-hosted", "gpu"], ["self-hosted", "gpu-release"])
        needs = job.get("needs")
        assert "gate" in ([needs] if isinstance(needs, str) else needs or []), name
        gate = all_jobs["gate"]
        assert not gpu(gate)
        assert gate["if"] == DEFAULT_BRANCH_ONLY, f"{path.name}: only the default branch's file"
        body = yaml.safe_dump(job)
        assert "github.event.pull_request" not in body and "inputs.sha" not in body, name
        for step in checkouts(job):
            ref = step.get("with", {}).get("ref")
            assert ref in (None, "${{ needs.gate.outputs.sha }}"), f"{name}: {ref}"


DEFAULT_BRANCH_ONLY = (
    "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
)


def gpu_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, job)
        for path in FILES
        for name, job in jobs(load(path)).items()
        if gpu(job)
    ]


@pytest.mark.parametrize(
    ("file", "name", "job"), [pytest.param(*j, id=f"{j[0]}:{j[1]}") for j in gpu_jobs()]
)
def test_pr_work_and_release_work_never_share_a_runner_or_state(
    file: str, name: str, job: dict[str, Any]
) -> None:
    label = job["runs-on"][1]
    script = runs(job)
    pr_data = any(step.get("with", {}).get("ref") for step in checkouts(job))
    if label == "gpu-release":  # main's retrain and releases: main's own content only
        assert (file, pr_data) in (("retrain.yml", False), ("release.yml", False)), name
        assert job.get("if", "needs.gate.outputs.pr == ''") == "needs.gate.outputs.pr == ''"
        assert "--runner release" in script
    else:  # PR work: main's state never written, caches and work in this PR's scratch
        assert file in ("generate.yml", "benchmark.yml", "retrain.yml"), name
        assert "--runner pr" in script and "BOT_STATE" not in script
        assert 'scratch="${BOT_SCRATCH:-$RUNNER_TEMP/scratch}/pr-$PR"' in script
        assert "BOT_CACHE=$scratch/cache" in script and "HF_HOME=$scratch/hf" in script
    # Settings (teacher URL, model specs) from the default branch's checkout, not the PR's.
    config = job.get("env", {}).get("BOT_CONFIG", "")
    if file != "release.yml":
        assert config.startswith("${{ github.workspace }}/base/"), name


def test_only_release_yml_holds_a_write_token_on_a_gpu_runner() -> None:
    for file, name, job in gpu_jobs():
        assert writes(job) == (file == "release.yml"), (file, name)
        if writes(job):
            assert job["environment"] == "release" and job["runs-on"][1] == "gpu-release"


def test_release_gate_reads_the_requester_from_github_not_an_input() -> None:
    release = load(WORKFLOWS / "release.yml")
    inputs = triggers(release)["workflow_dispatch"]["inputs"]
    assert "requested_by" not in inputs
    text = (WORKFLOWS / "release.yml").read_text("utf-8")
    assert "requested_by" not in text and "REQUESTED_BY" not in text
    gate = jobs(release)["gate"]
    assert 'bot gh release-gate --pr "$PR" --comment "$COMMENT"' in runs(gate)
    assert gate["permissions"] == {"contents": "read", "issues": "read"}


LOCK = ROOT / ".github" / "requirements" / "bot.txt"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_privileged_and_gate_jobs_install_only_hash_pinned_dependencies(path: Path) -> None:
    if path.name in ("ci.yml", "validate.yml"):  # read-only token, no secret: nothing to steal
        return
    for name, job in jobs(load(path)).items():
        joined = runs(job).replace("\\\n", " ")  # continuation lines: one command
        for command in re.findall(r"pip\"? install[^\n]*", joined):
            assert "--no-deps" in command, f"{path.name} {name}: {command}"
            if " -r " in command:
                assert "--require-hashes" in command and ".github/requirements/bot.txt" in command


def test_the_lock_pins_every_base_dependency_by_hash() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    blocks = re.split(r"\n(?=\S)", LOCK.read_text("utf-8"))
    pins = {}
    for block in blocks:
        found = re.match(r"([A-Za-z0-9_.-]+)==(\S+) \\", block)
        if found:
            pins[canonicalize_name(found.group(1))] = block.count("--hash=sha256:")
    for spec in [*declared, "hatchling>=1.25"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not in {LOCK.name}: regenerate it (see its header)"
    assert pins and min(pins.values()) >= 1, "every pin carries its hashes"


def test_the_bots_dispatch_targets_exist_with_the_inputs_it_sends() -> None:
    cfg = GithubConfig()
    # What bot/github/respond.py, events.py send; GitHub refuses unknown or missing inputs.
    sent = {
        cfg.generate_workflow: {"pr", "sha", "requested_by"},
        cfg.benchmark_workflow: {"pr", "sha", "requested_by"},
        cfg.retrain_workflow: {"pr", "sha", "requested_by"},
        cfg.release_workflow: {"pr", "comment"},
    }
    for file, inputs in sent.items():
        dispatch = triggers(load(WORKFLOWS / file))["workflow_dispatch"]
        declared = dispatch["inputs"]
        assert inputs <= set(declared), file
        required = {k for k, v in declared.items() if v.get("required")}
        assert required <= inputs and required <= {"sha"} | inputs, file
    assert "pull_request" in triggers(load(WORKFLOWS / cfg.validate_workflow))
    # The push handler dispatches retrain with only a sha: that must be accepted too.
    retrain = triggers(load(WORKFLOWS / cfg.retrain_workflow))["workflow_dispatch"]["inputs"]
    assert not any(v.get("required") for v in retrain.values())


def test_bot_workflow_follows_the_bots_own_workflows() -> None:
    cfg = GithubConfig()
    followed = set(triggers(load(WORKFLOWS / "bot.yml"))["workflow_run"]["workflows"])
    files = (
        cfg.generate_workflow,
        cfg.benchmark_workflow,
        cfg.retrain_workflow,
        cfg.release_workflow,
    )
    assert followed == {load(WORKFLOWS / f)["name"] for f in files}


def test_concurrency_groups() -> None:
    retrain = load(WORKFLOWS / "retrain.yml")["concurrency"]
    assert retrain["cancel-in-progress"] is False and retrain["group"].startswith("retrain-")
    generate = load(WORKFLOWS / "generate.yml")["concurrency"]
    assert generate == {"group": "generate-${{ inputs.pr }}", "cancel-in-progress": True}
    # bot.yml: a newer push supersedes the run for the older head; each comment, label and
    # finished run has a group of its own (GitHub keeps one pending run per group, so a
    # shared group would drop commands).
    bot = load(WORKFLOWS / "bot.yml")["concurrency"]
    group = " ".join(bot["group"].split())
    assert "github.event.comment.id" in group and "github.event.workflow_run.id" in group
    assert bot["cancel-in-progress"].startswith("${{ github.event_name == 'pull_request_target'")


# --- runners/ -------------------------------------------------------------------------------


def container(values: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in values["template"]["spec"]["containers"] if c["name"] == "runner")


def claims(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        v["name"]: v["persistentVolumeClaim"]
        for v in values["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }


def test_runner_yaml_parses_and_the_scale_sets_ask_for_a_gpu() -> None:
    for path in RUNNERS.rglob("*.yaml"):
        assert yaml.safe_load(path.read_text("utf-8")) is not None, path
    labels = set(load(ROOT / ".github" / "actionlint.yaml")["self-hosted-runner"]["labels"])
    found = set()
    for name in ("values.yaml", "release-values.yaml"):
        values = load(RUNNERS / "arc" / name)
        assert 0 <= values["minRunners"] <= values["maxRunners"]
        found |= set(values["scaleSetLabels"]) - {"self-hosted"}
        spec, runner = values["template"]["spec"], container(values)
        assert runner["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert runner["command"] == ["/home/runner/run.sh"]
        assert spec["nodeSelector"] and spec["tolerations"]
        mounted = {m["name"] for m in runner["volumeMounts"]}
        assert {v["name"] for v in spec["volumes"]} <= mounted
    assert found == labels, "actionlint knows exactly the labels the scale sets register"


def test_pr_and_release_scale_sets_are_isolated() -> None:
    pr, release = (
        load(RUNNERS / "arc" / "values.yaml"),
        load(RUNNERS / "arc" / "release-values.yaml"),
    )
    assert pr["scaleSetLabels"] == ["self-hosted", "gpu"]
    assert release["scaleSetLabels"] == ["self-hosted", "gpu-release"]
    # Runner groups (organisation level only) restrict which workflows may use them.
    assert pr["runnerGroup"] != release["runnerGroup"]
    cfg = GithubConfig()
    assert (pr["runnerGroup"], release["runnerGroup"]) == (
        cfg.pr_runner_group, cfg.release_runner_group)  # fmt: skip
    for values in (pr, release):
        assert values["githubConfigUrl"].count("/") == 3, "an organisation URL"
        assert values["template"]["spec"]["automountServiceAccountToken"] is False
        assert container(values)["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e["value"] for e in container(pr)["env"]}
    assert env["BOT_RUNNER_ROLE"] == "pr" and "BOT_STATE" not in env and "BOT_CACHE" not in env
    release_env = {e["name"]: e["value"] for e in container(release)["env"]}
    assert release_env["BOT_RUNNER_ROLE"] == "release" and release_env["BOT_STATE"]
    # The only claim both mount is the published copy, read-only on the PR side.
    pr_claims, release_claims = claims(pr), claims(release)
    shared = {c["claimName"] for c in pr_claims.values()} & {
        c["claimName"] for c in release_claims.values()
    }
    assert shared == {"taxonomy-published"}
    mounts = {m["name"]: m for m in container(pr)["volumeMounts"]}
    for volume, claim in pr_claims.items():
        if claim["claimName"] in shared:
            assert claim["readOnly"] is True and mounts[volume]["readOnly"] is True


def systemd_unit() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(RUNNERS / "systemd" / "taxonomy-runner@.service")
    return unit["Service"]


def env_file(role: str) -> dict[str, str]:
    text = (RUNNERS / "systemd" / f"{role}.env").read_text("utf-8")
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_systemd_unit_keeps_the_credential_from_the_jobs() -> None:
    service = systemd_unit()
    assert service["ExecStart"].endswith("/run-ephemeral.sh")
    assert service["Restart"] == "always"
    # The service is root (only it reads the credential); jobs run as JOB_USER.
    assert service.get("User", "root") == "root"
    assert service["LoadCredential"].startswith("github-token:")  # never in the unit itself
    assert service["EnvironmentFile"] == "/etc/taxonomy-runner/%i.env"
    pr, release = env_file("pr"), env_file("release")
    assert (pr["BOT_RUNNER_ROLE"], pr["RUNNER_LABELS"]) == ("pr", "gpu")
    assert (release["BOT_RUNNER_ROLE"], release["RUNNER_LABELS"]) == ("release", "gpu-release")
    assert pr["JOB_USER"] not in ("root", release["JOB_USER"])
    assert "BOT_STATE" not in pr and pr["BOT_RELEASE_PATHS"] == release["BOT_STATE"]
    assert pr["BOT_PUBLISHED"] == release["BOT_PUBLISHED"]


@pytest.mark.parametrize("script", sorted(RUNNERS.rglob("*.sh")), ids=lambda p: p.name)
def test_shell_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    checked = subprocess.run(
        [tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout


# --- the systemd runner, played for real (as root: it changes users) -----------------------

FAKE_CONFIG = """#!/usr/bin/env bash
# Stands in for the Actions runner's config.sh (not downloadable here): records its
# arguments, writes the files a registration leaves.
printf '%s\\n' "$@" > {out}/config-args
echo '{"isEphemeral": true}' > .runner
echo runner-own-credential > .credentials
echo runner-own-key > .credentials_rsaparams
"""

# Stands in for run.sh: the job. It tries what issue 17 found a job could do.
FAKE_RUN = """#!/usr/bin/env bash
{
  echo "uid=$(id -u)"
  if cat "$BOT_CREDENTIAL_PATHS" >/dev/null 2>&1; then echo token=read; else echo token=refused; fi
  echo "credentials_env=${CREDENTIALS_DIRECTORY:-none}"
  touch "$(dirname "$0")/planted" 2>/dev/null && echo install=written || echo install=refused
  if cat "$(dirname "$0")/.credentials" >/dev/null 2>&1; then echo own=read; fi
  echo "home=$HOME"
} > {out}/job
touch "$HOME/left-in-home" {scrub}/left-in-tmp
sleep 300 &
echo $! > {out}/pid
"""


@pytest.fixture
def runner_box() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("the runner loop changes users: run as root (CI's tests are not)")
    if closed := closed_to_others(ROOT, Path(sys.prefix)):
        pytest.skip(f"the job user cannot enter {closed}: clone into a folder others can read")
    folder = Path(tempfile.mkdtemp(prefix="systemd-runner-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def fake_runner(box: Path, out: Path, scrub: Path) -> Path:
    dist = box / "dist"
    dist.mkdir()
    for name, text in (("config.sh", FAKE_CONFIG), ("run.sh", FAKE_RUN)):
        (dist / name).write_text(text.replace("{out}", str(out)).replace("{scrub}", str(scrub)))
        (dist / name).chmod(0o755)
    return dist


def test_systemd_job_cannot_read_the_credential_and_leaves_nothing(
    runner_box: Path,
    world: World,  # noqa: F811
) -> None:
    box, job_uid = runner_box, 43118
    secret = box / "secret"
    secret.mkdir(mode=0o700)
    (secret / "github-token").write_text("ghp_admin_token\n")
    (secret / "github-token").chmod(0o600)
    out, scrub = box / "out", box / "tmp"
    for folder in (out, scrub):
        folder.mkdir()
        folder.chmod(0o777)
    world.proxy.reset()
    path = rf"^/repos/{REPO}/actions/runners/registration-token$"
    world.proxy.answer("POST", path, {"token": "REG-ONE-HOUR"}, 201)
    bot = box / "bot"
    bot.write_text(  # the worktree's bot, as the job user (a script the kernel runs)
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from bot.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    bot.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"], "RUNNER_DIST": str(fake_runner(box, out, scrub)),
        "GITHUB_URL": f"https://github.com/{REPO}", "GITHUB_API_URL": world.proxy.url,
        "TOKEN_FILE": str(secret / "github-token"), "JOB_USER": str(job_uid),
        "JOBS_ROOT": str(box / "jobs"), "WORK_ROOT": str(box / "work"),
        "SCRUB_DIRS": str(scrub), "ONCE": "1", "BOT": str(bot),
        "DOCTOR_ARGS": "--format json --min-work-gb 0 --min-cache-gb 0",
        "BOT_SCRATCH": str(box / "scratch"),
    }  # fmt: skip
    script = RUNNERS / "systemd" / "run-ephemeral.sh"
    proc = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    doctor = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert doctor["runner credentials"]["status"] == "pass", doctor["runner credentials"]
    assert doctor["runner install"]["status"] == "pass", doctor["runner install"]
    assert doctor["runner role"]["status"] == "pass"
    job = dict(line.split("=", 1) for line in (out / "job").read_text().splitlines())
    assert job["uid"] == str(job_uid)
    assert job["token"] == "refused" and job["credentials_env"] == "none"
    assert job["install"] == "refused" and job["own"] == "read"
    args = (out / "config-args").read_text().splitlines()
    assert "--ephemeral" in args and args[args.index("--token") + 1] == "REG-ONE-HOUR"
    (call,) = world.proxy.calls("POST", path)
    assert call.auth == "Bearer ghp_admin_token"
    # Nothing is left for the next job: no process, no folder, no file in shared temp.
    pid = int((out / "pid").read_text())
    assert (
        not Path(f"/proc/{pid}").exists()
        or Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0
    )
    assert list((box / "jobs").iterdir()) == [] and list((box / "work").iterdir()) == []
    assert list(scrub.iterdir()) == []
    assert (box / "scratch").stat().st_uid == job_uid, "per-PR scratch is the job user's"


def test_the_site_publishes_only_the_repositorys_own_push_and_dispatch_runs() -> None:
    """A fork's pull request can rename a workflow `retrain` in its branch and upload an
    artifact `site`; workflow_run would fire for it in the base repository's context."""
    doc = load(WORKFLOWS / "site.yml")
    assert set(triggers(doc)) == {"workflow_run"}
    fetch = jobs(doc)["fetch"]
    condition = re.sub(r"\s+", " ", str(fetch["if"]))
    assert "github.event.workflow_run.head_repository.full_name == github.repository" in condition
    allowed = re.search(r"fromJSON\('(\[.*?\])'\)", condition)
    assert allowed and set(json.loads(allowed.group(1))) == {"push", "workflow_dispatch"}
    assert "github.event.workflow_run.event" in condition
    assert jobs(doc)["deploy"]["needs"] == "fetch"
