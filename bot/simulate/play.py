"""Play the lifecycle step by step, calling the bot exactly as the workflows do (the same
commands, in-process), and keep every comment the bot wrote in `<out>/comments/`."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.github import emulator
from bot.simulate.workspace import ADDED, FIRST, REPO, ROLES, SEED, Git, bot_yaml, open_pr
from bot.simulate.workspace import push_files as push_pr_files

SOURCE = Path(__file__).resolve().parents[2]  # the starter taxonomy ships with the bot


class SimulationError(Exception):
    """A step did not do what the lifecycle expects."""


@dataclass
class Sim:
    out: Path
    fast: bool
    api: Any = None
    git: Any = None
    pr: int = 0
    head: str = ""
    seen: dict[int, str] = field(default_factory=dict)  # comment id -> body
    emu: Any = None

    @property
    def work(self) -> Path:
        return self.out / "state"

    def say(self, step: str, text: str = "") -> None:
        from rich.console import Console
        from rich.markdown import Markdown
        from rich.panel import Panel

        console = Console(highlight=False)
        console.rule(f"[bold]{step}")
        if text:
            console.print(Panel(Markdown(text), expand=False))

    def bot(self, *argv: str, ok: tuple[int, ...] = (0,), event: Any = None) -> str:
        """`bot ARGV` in the working clone, GitHub variables set; returns its stdout."""
        from bot.cli import main

        env = {
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_TOKEN": "tok_taxonomy-bot",
            "GITHUB_API_URL": self.api.url,
            "GITHUB_RUN_ID": "1",
            "BOT_LOG_DIR": str(self.out / "logs"),
        }
        if event is not None:
            path = self.out / "event.json"
            path.write_text(json.dumps(event[1]))
            env |= {"GITHUB_EVENT_NAME": event[0], "GITHUB_EVENT_PATH": str(path)}
        buf = io.StringIO()
        with _env(env), contextlib.chdir(self.git.path), contextlib.redirect_stdout(buf):
            code = main(list(argv))
        if code not in ok:
            raise SimulationError(f"bot {' '.join(argv)} exited {code}: {buf.getvalue()[-300:]}")
        return buf.getvalue()

    def comments(self, step: str) -> str:
        """The comments the bot wrote or edited since the last step, saved as <step>.md."""
        found = self.api.call("GET", f"/repos/{REPO}/issues/{self.pr}/comments?per_page=100")
        new = [c for c in found if self.seen.get(c["id"]) != c["body"]]
        new = [c for c in new if c["user"]["login"] == "taxonomy-bot"]
        self.seen |= {c["id"]: c["body"] for c in found}
        text = "\n\n---\n\n".join(c["body"] for c in new)
        if not text:
            raise SimulationError(f"{step}: the bot wrote no comment")
        folder = self.out / "comments"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{step}.md").write_text(text + "\n", "utf-8")
        return text

    def comment_as(self, who: str, body: str) -> tuple[str, dict[str, Any]]:
        made = self.api.call(
            "POST", f"/repos/{REPO}/issues/{self.pr}/comments", who, json={"body": body}
        )
        self.seen[made["id"]] = made["body"]
        payload = {
            "action": "created",
            "issue": {"number": self.pr, "pull_request": {"url": "x"}},
            "comment": {"id": made["id"], "body": made["body"], "user": made["user"]},
            "repository": {"full_name": REPO, "default_branch": "main"},
            "sender": made["user"],
        }
        return "issue_comment", payload


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def models(sim: Sim) -> tuple[str, str]:
    """(teacher, base) specs: a tiny random Llama for both with --fast, else embedded."""
    if not sim.fast:
        return "embedded", "embedded"
    from bot.simulate.tiny import build

    spec = f"hf:{build(sim.out / 'tiny-llama')}"
    return spec, spec


def setup(sim: Sim) -> None:
    teacher, base = models(sim)
    sim.git = git = Git(sim.out)
    config = bot_yaml(teacher, base, sim.fast)
    (git.path / "bot.yaml").write_text(config)
    (git.path / ".gitignore").write_text(".bot/\n")
    git.copy_leaf(SOURCE, FIRST)
    git.commit("A taxonomy with one leaf")
    git.push("refs/heads/main")
    (sim.out / "seed.yaml").write_text(SEED)
    sim.emu = emulator.start(sim.out / "seed.yaml", sim.out / "emulator.log")
    sim.api = sim.emu.api
    emulator.seed_roles(sim.api, REPO, ROLES)
    sim.api.put_file(REPO, "bot.yaml", config, "main", "owner")
    sim.say("setup", f"bare origin `{sim.out / 'origin.git'}`, clone `{git.path}`, "
            f"emulator {sim.api.url}, models `{teacher}` / `{base}`")  # fmt: skip


def leaf_files(broken: bool) -> dict[str, str]:
    text = (SOURCE / "taxonomy" / ADDED / "qna.yaml").read_text("utf-8")
    if broken:  # a first push with a key the schema does not know
        text = text.replace("    answer:", "    hint: multiply by 1000\n    answer:", 1)
    attribution = (SOURCE / "taxonomy" / ADDED / "attribution.txt").read_text("utf-8")
    return {f"taxonomy/{ADDED}/qna.yaml": text, f"taxonomy/{ADDED}/attribution.txt": attribution}


def contribute(sim: Sim, broken: bool) -> None:
    """The contributor's push: the same files on the emulator's fork and in local git."""
    files = leaf_files(broken)
    if broken:
        sim.git.branch("add-unit-conversion")
        sim.pr, sim.head = open_pr(sim.api, files, "add-unit-conversion")
    else:  # emulate moves a PR's head only through update-branch
        push_pr_files(sim.api, files, "add-unit-conversion")
        sim.api.call("PUT", f"/repos/{REPO}/pulls/{sim.pr}/update-branch", "contributor", json={})
        sim.head = str(sim.api.call("GET", f"/repos/{REPO}/pulls/{sim.pr}")["head"]["sha"])
    for rel, text in files.items():
        (sim.git.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (sim.git.path / rel).write_text(text, "utf-8")
    sim.git.commit("Fix the unit conversion leaf" if not broken else "Add unit conversion")
    sim.git.push("refs/heads/add-unit-conversion")


def validate(sim: Sim, step: str) -> str:
    report = sim.out / f"{step}.json"
    report.write_text(
        sim.bot("validate", "--changed", "--base-ref", "main", "--format", "json", ok=(0, 1))
    )
    sim.bot("gh", "post-validation", "--pr", str(sim.pr), "--sha", sim.head, "--input",
            str(report))  # fmt: skip
    return sim.comments(step)


def lifecycle(sim: Sim) -> None:
    setup(sim)
    contribute(sim, broken=True)
    sim.say("1. contributor opens a PR from a fork; validation fails",
            validate(sim, "validation-failed"))  # fmt: skip
    contribute(sim, broken=False)
    sim.say("2. contributor fixes the leaf; validation passes", validate(sim, "validation"))
    gate = sim.bot("gh", "gate", "--pr", str(sim.pr), "--sha", sim.head, ok=(1,))
    sim.say("3. the gate refuses GPU work for a fork's unapproved commit", f"`{gate.strip()}`")
    event = sim.comment_as("maintainer", f"/ok-to-generate {sim.head}")
    sim.bot("gh", "event", event=event)
    sim.say("4. maintainer approves the head commit", sim.comments("approval"))
    gate = sim.bot("gh", "gate", "--pr", str(sim.pr), "--sha", sim.head)
    sim.say("5. the gate opens", f"`{gate.strip()}`")
    gen = sim.out / "generation.json"
    work = str(sim.work)
    gen.write_text(sim.bot("generate", "--changed", "--base-ref", "main", "--work", work,
                           "--format", "json"))  # fmt: skip
    sim.bot("gh", "post-generation", "--pr", str(sim.pr), "--sha", sim.head, "--input", str(gen))
    sim.say("6. generation for the PR's leaf", sim.comments("generation"))
    merged = sim.git.fast_forward("main", "add-unit-conversion")
    sim.git.push("refs/heads/main")
    sim.api.call("PATCH", f"/repos/{REPO}/pulls/{sim.pr}", "owner", json={"state": "closed"})
    sim.say("7. maintainer merges", f"main fast-forwarded to `{merged[:12]}` and pushed")
    retrain(sim, merged)
    event = sim.comment_as("maintainer", "/release")
    sim.bot("gh", "event", event=event)
    sim.say("9. maintainer asks for a release", sim.comments("release-command"))
    release(sim)


def retrain(sim: Sim, merged: str) -> None:
    """retrain.yml on main: generate, train with replay, benchmark the new leaf."""
    from bot.release.state import ReleaseError

    work = str(sim.work)
    base = models(sim)[1]
    sim.bot("generate", "--work", work, "--format", "json")
    summary = json.loads(sim.bot("train", "--base-model", base, "--work", work, "--out",
                                 f"{work}/runs/{merged}", "--format", "json"))  # fmt: skip
    out = sim.out / "benchmark"
    leaves = [f"taxonomy/{leaf}" for leaf in summary.get("new_leaves", [])]
    sim.bot("benchmark", "--base-model", base, "--model", f"hf:{summary['final']}", "--work",
            work, "--out", str(out), "--no-general", *leaves, ok=(0, 3))  # fmt: skip
    if not (out / "report.md").is_file():
        raise ReleaseError("the benchmark wrote no report.md")
    sim.bot("gh", "post-benchmark", "--pr", str(sim.pr), "--sha", merged, "--input",
            str(out / "report.md"))  # fmt: skip
    sim.say("8. retrain after the merge; benchmark deltas on the PR", sim.comments("benchmark"))


def release(sim: Sim) -> None:
    """release.yml: `bot release | tee notes.md`, push the tag, post the notes."""
    notes = sim.out / "notes.md"
    notes.write_text(sim.bot("release", "--work", str(sim.work)))
    tag = next(r for r in sim.git.repo.references if r.startswith("refs/tags/"))
    sim.git.push("refs/heads/main", tag)
    sim.bot("gh", "post-release", "--pr", str(sim.pr), "--input", str(notes))
    sim.say(f"10. release {tag.removeprefix('refs/tags/')} tagged and pushed to origin",
            sim.comments("release"))  # fmt: skip
