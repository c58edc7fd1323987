"""The GitHub API emulator (npm emulate@0.11.2, installed under tests/emulator) on
loopback: start it, wait until it answers, seed collaborators and files through the API.
Used by the bot's GitHub tests and by `bot simulate`; never by the bot in production."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
EMULATE = ROOT / "tests" / "emulator" / "node_modules" / ".bin" / "emulate"


class EmulatorError(Exception):
    """The emulator is missing, did not start, or refused a set-up call."""


def executable() -> Path:
    path = Path(os.environ.get("BOT_EMULATE") or EMULATE)
    if not path.exists():
        raise EmulatorError(
            f"the GitHub emulator is not installed ({path} missing): run ./dev.sh setup, "
            "or npm ci --prefix tests/emulator"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    """Direct calls to the emulator for set-up and checks, as a seeded user (tok_<login>)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, who: str = "owner", **kw: Any) -> Any:
        import requests

        r = requests.request(
            method, self.url + path, headers={"Authorization": f"token tok_{who}"}, timeout=10, **kw
        )
        if r.status_code >= 400:
            raise EmulatorError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def put_file(self, repo: str, path: str, text: str, branch: str, who: str) -> str:
        import requests

        body = {"message": f"edit {path}", "branch": branch, "content": b64(text)}
        url = f"{self.url}/repos/{repo}/contents/{path}"
        auth = {"Authorization": f"token tok_{who}"}
        old = requests.get(url, params={"ref": branch}, headers=auth, timeout=10)
        if old.status_code == 200:  # an update must name the blob it replaces
            body["sha"] = old.json()["sha"]
        made = self.call("PUT", f"/repos/{repo}/contents/{path}", who, json=body)
        return str(made["commit"]["sha"])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Emulator:
    proc: subprocess.Popen[bytes]
    api: Api
    log: IO[str]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def start(seed: Path, log_path: Path, base_url: str | None = None, port: int = 0) -> Emulator:
    """Start the emulator on `port` (a free one by default) and wait up to 30 s for it;
    `base_url` is what it advertises in URLs (a proxy in front of it, say)."""
    port = port or free_port()
    log = log_path.open("w")
    cmd = [str(executable()), "start", "-s", "github", "-p", str(port), "--seed", str(seed)]
    proc = subprocess.Popen([*cmd, "--base-url", base_url or f"http://127.0.0.1:{port}"],
                            stdout=log, stderr=log)  # fmt: skip
    emulator = Emulator(proc, Api(f"http://127.0.0.1:{port}"), log)
    import requests

    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(emulator.api.url + "/user", timeout=1).status_code < 500:
                return emulator
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            emulator.stop()
            raise EmulatorError(f"the emulator did not start; see {log_path}")
        time.sleep(0.1)


def seed_roles(api: Api, repo: str, roles: dict[str, str]) -> None:
    for user, role in roles.items():
        api.call("PUT", f"/repos/{repo}/collaborators/{user}", json={"permission": role})
