"""Live progress on stderr for every stage (bot/stages/progress.py's callbacks, drawn with
rich): generation (a bar over leaves, one for the current leaf's samples, the teacher's
tokens/s), training (a bar per phase with loss, learning rate and tokens/s) and scoring
(a bar per model). Each stage gets its own live display, closed when the stage ends."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bot.stages.progress import Progress as StageProgress
from bot.stages.progress import ScoreUpdate


class RichProgress(StageProgress):
    def __init__(
        self, enabled: bool = True, console: Console | None = None, prefix: str = ""
    ) -> None:
        self.enabled, self.prefix = enabled, prefix
        self.console = console or Console(stderr=True, highlight=False)
        self._bars: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._leaf = ""  # generation: the leaf being generated, its tokens, earlier tokens
        self._leaf_tokens = self._done_tokens = 0
        self._started = time.monotonic()

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(finished=t is None)

    # -- the display -----------------------------------------------------------------------

    def _display(self) -> Progress:
        if self._bars is None:
            self._bars = Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                disable=not self.enabled,
            )
            self._bars.start()
            self._started = time.monotonic()
        return self._bars

    def _task(self, key: str, description: str, total: float | None) -> TaskID:
        if key not in self._tasks:
            self._tasks[key] = self._display().add_task(description, total=total, info="")
        return self._tasks[key]

    def _close(self, finished: bool) -> None:
        if self._bars is not None:
            if finished and self._leaf and "leaves" in self._tasks:
                self._bars.advance(self._tasks["leaves"])  # the last leaf finished
            self._bars.stop()
        self._bars, self._tasks, self._leaf = None, {}, ""
        self._leaf_tokens = self._done_tokens = 0

    def begin(self, stage: str) -> None:
        self._close(finished=True)

    def end(self, stage: str) -> None:
        self._close(finished=True)

    def say(self, line: str) -> None:
        if self.enabled:
            (self._bars.console if self._bars else self.console).print(self.prefix + line)

    # -- generation ------------------------------------------------------------------------

    def generation_planned(self, leaves: int) -> None:
        self._task("leaves", "leaves", leaves)

    def generation(self, job: Any, event: Any) -> None:
        bars = self._display()
        leaves = self._task("leaves", "leaves", None)
        if event.leaf != self._leaf:
            if self._leaf:
                bars.advance(leaves)
                bars.remove_task(self._tasks.pop("leaf"))
                self._done_tokens += self._leaf_tokens
            self._leaf = event.leaf
            self._task("leaf", event.leaf, event.target)
        self._leaf_tokens = event.completion_tokens
        rate = (self._done_tokens + self._leaf_tokens) / max(time.monotonic() - self._started, 1e-9)
        bars.update(
            self._tasks["leaf"],
            completed=event.kept,
            info=f"{event.stage} r{event.round + 1} {event.done}/{event.total}  {rate:,.0f} tok/s",
        )

    # -- training --------------------------------------------------------------------------

    def train_phase(self, name: str, status: str) -> None:
        if status != "start":
            self.say(f"phase {name}: {status}")

    def train_step(self, event: Any) -> None:
        task = self._task(f"phase:{event.phase}", event.phase, event.total)
        self._display().update(
            task,
            completed=event.step,
            info=f"loss {event.loss:.3f}  lr {event.lr:.1e}  {event.tokens_per_s:,.0f} tok/s",
        )

    # -- scoring ---------------------------------------------------------------------------

    def scoring(self, label: str) -> ScoreUpdate:
        task = self._task(f"score:{label}", label, None)

        def update(what: str, done: int, total: int) -> None:
            self._display().update(task, completed=done, total=total, info=what)

        return update
