"""The real `pre-commit` both ways, in temporary git repositories:

- the published hook (.pre-commit-hooks.yaml, id bot-validate) in another taxonomy
  repository, installed by pre-commit from a local clone of this project;
- this repository's own .pre-commit-config.yaml, as CONTRIBUTING.md tells contributors to use
  it (`pre-commit install`, then commit).

pre-commit builds its hook environments with pip; only PyPI is reached. The environments are
kept in one PRE_COMMIT_HOME for the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import dump, skill_doc

ROOT = Path(__file__).resolve().parent.parent
LEAF = "compositional_skills/writing/freeform/limericks"
BAD = "compositional_skills/writing/freeform/too_few"


def git(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """git with a fixed identity and no user or system configuration; pre-commit on PATH
    (the hook script git runs finds it there) with its environments in one session home."""
    home = tmp_path_factory.mktemp("precommit-home")
    gitconfig = home / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Tester\n\temail = t@example.org\n[init]\n\tdefaultBranch = main\n"
    )
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_HOME": str(home / "cache"),
        "PRE_COMMIT_COLOR": "never",
    }


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> tuple[Path, str]:
    """A git clone of this project as it is in the working tree (uncommitted edits
    included): the repository pre-commit installs the published hook from. (path, commit)"""
    listed = git("ls-files", "-z", "-c", "-o", "--exclude-standard", cwd=ROOT, env=env)
    assert listed.returncode == 0, listed.stderr
    dest = tmp_path_factory.mktemp("project") / "taxonomy-bot"
    for rel in filter(None, listed.stdout.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        done = git(*args, cwd=dest, env=env)
        assert done.returncode == 0, done.stderr
    return dest, git("rev-parse", "HEAD", cwd=dest, env=env).stdout.strip()


def write_leaf(repo: Path, rel: str, doc: dict, attribution: str = "self-authored\n") -> None:
    folder = repo / rel
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qna.yaml").write_text(dump(doc))
    (folder / "attribution.txt").write_text(attribution)


def commit(repo: Path, env: dict[str, str], *paths: str) -> subprocess.CompletedProcess[str]:
    """`git add PATHS && git commit`; the hooks' output (git's stderr) is in stdout."""
    added = git("add", *paths, cwd=repo, env=env)
    assert added.returncode == 0, added.stderr
    return subprocess.run(
        ["git", "commit", "-m", "change"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )


def test_published_hook_in_a_taxonomy_repository(
    project: tuple[Path, str], env: dict[str, str], tmp_path: Path
) -> None:
    source, rev = project
    repo = tmp_path / "taxonomy"
    repo.mkdir()
    assert git("init", "-q", cwd=repo, env=env).returncode == 0
    config = {"repos": [{"repo": str(source), "rev": rev, "hooks": [{"id": "bot-validate"}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (repo / "README.md").write_text("# A taxonomy\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env, capture_output=True
    )
    assert installed.returncode == 0, installed.stderr

    # A valid new leaf commits (with the README beside it: never read as a leaf).
    write_leaf(repo, LEAF, skill_doc(seed=1))
    done = commit(repo, env, ".")
    assert done.returncode == 0, done.stdout
    assert "validate taxonomy leaves (bot validate)" in done.stdout
    assert "Passed" in done.stdout

    # A bad leaf is blocked, with its located error.
    write_leaf(repo, BAD, skill_doc(n=2, seed=2))
    done = commit(repo, env, BAD)
    assert done.returncode == 1, done.stdout
    assert f"{BAD}/qna.yaml:5:1: error [schema] seed_examples needs at least 5 items" in (
        done.stdout
    )
    assert "attribution.txt:" not in done.stdout  # attribution.txt is never read as a leaf
    assert git("commit", "-q", "--no-verify", "-m", "bad", cwd=repo, env=env).returncode == 0

    # An attribution-only change checks its leaf: passes for the good one ...
    (repo / LEAF / "attribution.txt").write_text("self-authored, revised\n")
    done = commit(repo, env, f"{LEAF}/attribution.txt")
    assert done.returncode == 0, done.stdout
    assert "Passed" in done.stdout and "Skipped" not in done.stdout
    # ... and blocks on the bad leaf's own qna.yaml, which was not part of the change.
    (repo / BAD / "attribution.txt").write_text("self-authored, revised\n")
    done = commit(repo, env, f"{BAD}/attribution.txt")
    assert done.returncode == 1
    assert f"{BAD}/qna.yaml:5:1: error [schema]" in done.stdout


def test_this_repositorys_own_config_as_contributing_documents(
    project: tuple[Path, str], env: dict[str, str]
) -> None:
    clone = project[0].parent / "contributor"
    assert git("clone", "-q", str(project[0]), str(clone), cwd=project[0], env=env).returncode == 0
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=clone, env=env, capture_output=True
    )
    assert installed.returncode == 0, installed.stderr
    write_leaf(clone / "taxonomy", LEAF, skill_doc(seed=3))
    done = commit(clone, env, f"taxonomy/{LEAF}")
    assert done.returncode == 0, done.stdout
    assert "Passed" in done.stdout
    write_leaf(clone / "taxonomy", BAD, skill_doc(n=2, seed=4))
    done = commit(clone, env, f"taxonomy/{BAD}")
    assert done.returncode == 1, done.stdout
    assert f"taxonomy/{BAD}/qna.yaml:5:1: error [schema]" in done.stdout


def test_own_hook_installs_the_base_dependencies() -> None:
    """The local hook's environment is the base install: the same requirements."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    [hook] = config["repos"][0]["hooks"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert hook["additional_dependencies"] == project["dependencies"]
