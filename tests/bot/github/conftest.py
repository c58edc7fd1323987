"""The real GitHub emulator (npm emulate@0.11.2) on loopback, behind a recording proxy.

One emulator per test session, seeded from seed.yaml plus API calls (collaborator
roles, bot.yaml on main, a fork). Each test opens its own PRs, so tests do not
share mutable state. If the emulator is not installed the tests fail: CI
installs it with ./dev.sh setup.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.cli import main
from tests.bot.github.ghproxy import Proxy

ROOT = Path(__file__).resolve().parents[3]
EMULATE = ROOT / "tests" / "emulator" / "node_modules" / ".bin" / "emulate"
SEED = Path(__file__).with_name("seed.yaml")
REPO = "owner/taxonomy"
ROLES = {"maintainer": "maintain", "writer": "push", "reader": "pull", "taxonomy-bot": "push"}
BASE_BOT_YAML = "github:\n  maintainers: [teamlead]\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gh:
    """Direct calls to the emulator for test set-up and assertions (not through the proxy)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, who: str = "owner", **kw: Any) -> Any:
        r = requests.request(
            method, self.url + path, headers={"Authorization": f"token tok_{who}"}, timeout=10, **kw
        )
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def comments(self, number: int) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/repos/{REPO}/issues/{number}/comments?per_page=100"))

    def labels(self, number: int) -> set[str]:
        return {lab["name"] for lab in self.call("GET", f"/repos/{REPO}/issues/{number}/labels")}

    def head(self, number: int) -> str:
        return str(self.call("GET", f"/repos/{REPO}/pulls/{number}")["head"]["sha"])

    def put_file(self, repo: str, path: str, text: str, branch: str, who: str) -> str:
        body = {"message": f"edit {path}", "branch": branch, "content": _b64(text)}
        url = f"{self.url}/repos/{repo}/contents/{path}"
        auth = {"Authorization": f"token tok_{who}"}
        old = requests.get(url, params={"ref": branch}, headers=auth, timeout=10)
        if old.status_code == 200:  # an update must name the blob it replaces
            body["sha"] = old.json()["sha"]
        made = self.call("PUT", f"/repos/{repo}/contents/{path}", who, json=body)
        return str(made["commit"]["sha"])


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class World:
    gh: Gh
    proxy: Proxy
    counter: Iterator[int]
    forks: set[str] = field(default_factory=set)

    def pr(self, author: str, fork: bool = False, files: dict[str, str] | None = None) -> int:
        """A new PR by `author` (from their fork if `fork`), with its own branch."""
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
        body = {"title": f"PR {n}", "head": head, "base": "main", "body": "A leaf"}
        return int(self.gh.call("POST", f"/repos/{REPO}/pulls", author, json=body)["number"])

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
    port = _free_port()
    proxy = Proxy(f"http://127.0.0.1:{port}")
    log = (tmp_path_factory.mktemp("emulator") / "emulate.log").open("w")
    # Advertised URLs point at the proxy, so nothing bypasses it.
    cmd = [str(EMULATE), "start", "-s", "github", "-p", str(port), "--seed", str(SEED)]
    proc = subprocess.Popen([*cmd, "--base-url", proxy.url], stdout=log, stderr=log)
    try:
        gh = Gh(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(gh.url + "/user", timeout=1).status_code < 500:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the emulator did not start; see {log.name}", pytrace=False)
            time.sleep(0.1)
        for user, role in ROLES.items():
            gh.call("PUT", f"/repos/{REPO}/collaborators/{user}", json={"permission": role})
        gh.put_file(REPO, "bot.yaml", BASE_BOT_YAML, "main", "owner")
        yield World(gh, proxy, itertools.count(1))
    finally:
        proxy.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
        *args: str, token: str = "tok_bot", event: tuple[str, dict[str, Any]] | None = None
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
