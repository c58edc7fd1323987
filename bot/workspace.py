"""The workspace every stage works in: the repository root, its bot.yaml (loaded once), and
the layout of the work folder (`.bot/` unless `--work` names another).

One object, passed explicitly: no stage reads the current directory or loads bot.yaml
itself, and every path under the work folder is spelled here and nowhere else.

    ws = Workspace.open(root)                      # bot.yaml, .bot/
    ws = Workspace.open(root, work=Path("/state"), config_file=Path("runners/bot.gpu.yaml"))
    ws.layout.store, ws.layout.replay, ws.leaf_files()
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config, load_config
from bot.taxonomy.find import LEAF_NAME, default_taxonomy, walk

WORK = ".bot"  # the default work folder, in the repository root
# The work folder ignores itself, wherever it lives: `git status` stays clean without an
# entry in the repository's own .gitignore (as a virtual environment does).
GITIGNORE = "# Written by taxonomy-bot: nothing in this work folder is committed.\n*\n"


@dataclass(frozen=True)
class Layout:
    """Where each stage keeps its files under the work folder."""

    work: Path
    replay_from: Path | None = None  # a replay buffer kept elsewhere (a runner's state volume)

    @property
    def cache(self) -> Path:
        """Validator caches, fetched knowledge documents, the working-tree scan."""
        return self.work / "cache"

    @property
    def store(self) -> Path:
        """The generation store: content-addressed entries per leaf."""
        return self.work / "generate"

    @property
    def data(self) -> Path:
        """The exported training files: one JSONL per leaf."""
        return self.work / "data"

    @property
    def validation(self) -> Path:
        """Generated rows held out of training for the checkpoint chooser, one JSONL per leaf."""
        return self.work / "validation"

    @property
    def evaluation(self) -> Path:
        """Evaluation items the teacher wrote from held-out seeds: `store/` (content-addressed,
        like generate/) and `items/<leaf>.jsonl` (the current ones, filtered)."""
        return self.work / "evaluation"

    @property
    def runs(self) -> Path:
        """Training runs, one folder per retrain key."""
        return self.work / "runs"

    @property
    def replay(self) -> Path:
        """The replay buffer of earlier leaves' rows."""
        return self.replay_from or self.work / "replay"

    @property
    def scores(self) -> Path:
        """Per (model, item) benchmark scores, shared by every benchmark and the chooser."""
        return self.work / "benchmark" / "cache"

    @property
    def benchmark(self) -> Path:
        """Where `bot benchmark` writes its reports unless told otherwise."""
        return self.work / "benchmark" / "latest"

    @property
    def report(self) -> Path:
        """The reports of the last `bot run`."""
        return self.work / "report"

    @property
    def history(self) -> Path:
        """Every kept benchmark report, one folder per retrain: the site's accuracy matrix."""
        return self.work / "history"

    @property
    def site(self) -> Path:
        """The project site `bot site` (and `bot run`) writes unless told otherwise."""
        return self.work / "site"

    @property
    def state(self) -> Path:
        """The last retrain: its key, model and base (bot/stages/train.py)."""
        return self.work / "run" / "state.json"

    def release(self, version: str) -> Path:
        """A release's own state, training run and benchmark."""
        return self.work / "release" / version

    def prepare(self) -> Path:
        """The work folder, created with its own `.gitignore` (`*`) if it has none; every
        stage that writes under it calls this first. Returns the folder."""
        ignore = self.work / ".gitignore"
        if not ignore.is_file():
            self.work.mkdir(parents=True, exist_ok=True)
            tmp = ignore.with_name(f".gitignore.{os.getpid()}.tmp")
            tmp.write_text(GITIGNORE, "utf-8")
            tmp.replace(ignore)
        return self.work


@dataclass(frozen=True)
class Workspace:
    root: Path  # the repository (or bare taxonomy) root
    config: Config
    layout: Layout

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        work: Path | None = None,
        config_file: Path | None = None,
        replay_from: Path | None = None,
    ) -> Workspace:
        """Load the settings (`config_file`, relative to `root`, else root/bot.yaml) once.
        Raises bot.config.ConfigError with located problems."""
        root = root.absolute()
        config = load_config(root, config_file)
        layout = Layout(
            (work or root / WORK).absolute(), replay_from.absolute() if replay_from else None
        )
        return cls(root, config, layout)

    @property
    def taxonomy(self) -> Path:
        """`taxonomy/` in this project's layout; the root itself in a bare InstructLab repo."""
        return default_taxonomy(self.root)

    def leaf_files(self) -> list[Path]:
        """Every leaf file (qna.yaml) of the taxonomy, absolute, sorted."""
        return [p.absolute() for p in walk(self.taxonomy) if p.name == LEAF_NAME]

    def relative(self, path: Path) -> str:
        """`path` relative to the root when it is inside, for messages and reports."""
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
