"""The real GitHub emulator (npm emulate@0.11.2) on loopback, behind a recording proxy.

One emulator per test session, seeded from seed.yaml plus API calls (collaborator
roles, bot.yaml on main, a fork). Each test opens its own PRs, so tests do not
share mutable state. If the emulator is not installed the tests fail: CI
installs it with ./dev.sh setup.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.github import emulator
from tests.bot.github.ghproxy import Proxy

ROOT = Path(__file__).resolve().parents[3]
EMULATE = emulator.EMULATE
SEED = Path(__file__).with_name("seed.yaml")
REPO = "owner/taxonomy"
ROLES = {"maintainer": "maintain", "writer": "push", "reader": "pull", "taxonomy-bot": "push"}
BASE_BOT_YAML = "github:\n  maintainers: [teamlead]\n"


class Gh(emulator.Api):
    """Direct calls to the emulator for test set-up and assertions (not through the proxy)."""

    def comments(self, number: int) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/repos/{REPO}/issues/{number}/comments?per_page=100"))

    def labels(self, number: int) -> set[str]:
        return {lab["name"] for lab in self.call("GET", f"/repos/{REPO}/issues/{number}/labels")}

    def head(self, number: int) -> str:
        return str(self.call("GET", f"/repos/{REPO}/pulls/{number}")["head"]["sha"])


@dataclass
class World:
    gh: Gh
    proxy: Proxy
    counter: Iterator[int]
    forks: set[str] = field(default_factory=set)

    def pr(
        self,
        author: str,
        fork: bool = False,
        files: dict[str, str] | None = None,
        base: str = "main",
    ) -> int:
        """A new PR by `author` (from their fork if `fork`) into `base`, on its own branch."""
        n = next(self.counter)
        branch = f"topic-{n}"
        repo = f"{author}/taxonomy" if fork else REPO
        if fork:
            if author not in self.forks:
                self.gh.call("POST", f"/repos/{REPO}/forks", author, json={})
                self.forks.add(author)
            start = self.gh.call("GET", f"/repos/{repo}/branches/main", author)["commit"]["sha"]
        else:
            start = self.gh.call("GET", f"/repos/{REPO}/branches/main")["commit"]["sha"]
        ref = {"ref": f"refs/heads/{branch}", "sha": start}
        self.gh.call("POST", f"/repos/{repo}/git/refs", author, json=ref)
        for path, text in (files or {f"taxonomy/leaf{n}/qna.yaml": "version: 3\n"}).items():
            self.gh.put_file(repo, path, text, branch, author)
        head = f"{author}:{branch}" if fork else branch
        body = {"title": f"PR {n}", "head": head, "base": base, "body": "A leaf"}
        return int(self.gh.call("POST", f"/repos/{REPO}/pulls", author, json=body)["number"])

    def branch(self, name: str, files: dict[str, str]) -> None:
        """A branch of the base repository, from main, with `files` committed on it."""
        start = self.gh.call("GET", f"/repos/{REPO}/branches/main")["commit"]["sha"]
        self.gh.call("POST", f"/repos/{REPO}/git/refs", json={"ref": f"refs/heads/{name}",
                                                              "sha": start})  # fmt: skip
        for path, text in files.items():
            self.gh.put_file(REPO, path, text, name, "owner")

    def comment(self, number: int, who: str, body: str) -> dict[str, Any]:
        path = f"/repos/{REPO}/issues/{number}/comments"
        made: dict[str, Any] = self.gh.call("POST", path, who, json={"body": body})
        return made


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not EMULATE.exists():
        pytest.fail(
            f"the GitHub emulator is not installed ({EMULATE.relative_to(ROOT)} missing): "
            "run ./dev.sh setup, or npm ci --prefix tests/emulator",
            pytrace=False,
        )
    port = emulator.free_port()
    proxy = Proxy(f"http://127.0.0.1:{port}")
    log = tmp_path_factory.mktemp("emulator") / "emulate.log"
    try:
        # Advertised URLs point at the proxy, so nothing bypasses it.
        emu = emulator.start(SEED, log, base_url=proxy.url, port=port)
    except emulator.EmulatorError as exc:
        proxy.close()
        pytest.fail(str(exc), pytrace=False)
    try:
        gh = Gh(emu.api.url)
        emulator.seed_roles(gh, REPO, ROLES)
        gh.put_file(REPO, "bot.yaml", BASE_BOT_YAML, "main", "owner")
        yield World(gh, proxy, itertools.count(1))
    finally:
        proxy.close()
        emu.stop()


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_gh(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Run:
    """run_gh("gate", "--pr", "3", token=..., event=(name, payload)) -> (code, stdout, stderr)."""
    world.proxy.reset()

    def run(
        *args: str,
        token: str = "tok_bot",
        event: tuple[str, dict[str, Any]] | None = None,
        extra: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        env = {
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_TOKEN": token,
            "GITHUB_API_URL": world.proxy.url,
            "GITHUB_RUN_ID": "77",
            "BOT_GH_BACKOFF": "0.01",
            "BOT_LOG_DIR": str(tmp_path / "logs"),
        }
        if event:
            path = tmp_path / "event.json"
            path.write_text(json.dumps(event[1]))
            env |= {"GITHUB_EVENT_NAME": event[0], "GITHUB_EVENT_PATH": str(path)}
        env |= extra or {}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        code = main(["gh", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def comment_event(number: int, comment: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return (
        "issue_comment",
        {
            "action": "created",
            "issue": {"number": number, "pull_request": {"url": "x"}},
            "comment": {"id": comment["id"], "body": comment["body"], "user": comment["user"]},
            "repository": {"full_name": REPO, "default_branch": "main"},
            "sender": comment["user"],
        },
    )


def pr_event(action: str, number: int, sha: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    payload = {"action": action, "number": number, "pull_request": {"number": number}}
    payload["pull_request"]["head"] = {"sha": sha}
    return "pull_request", {**payload, "repository": {"full_name": REPO}, **extra}
