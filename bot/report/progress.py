"""Live progress for generation: one bar over leaves, one for the current leaf's samples,
with the teacher's token throughput and an ETA."""

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


class GenerationProgress:
    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
            disable=not enabled,
        )
        self._leaves: TaskID | None = None
        self._leaf: TaskID | None = None
        self._current = ""
        self._started = time.monotonic()
        self._tokens = 0  # completion tokens of finished leaves
        self._leaf_tokens = 0

    def __enter__(self) -> GenerationProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._leaves is not None and self._leaf is not None and t is None:
            self._progress.advance(self._leaves)  # the last leaf finished
        self._progress.__exit__(t, e, tb)

    def start(self, leaves: int) -> None:
        self._leaves = self._progress.add_task("leaves", total=leaves, info="")

    def update(self, job: Any, ev: Any) -> None:
        if self._leaves is None:
            self._leaves = self._progress.add_task("leaves", total=None, info="")
        if ev.leaf != self._current:
            if self._leaf is not None:
                self._progress.advance(self._leaves)
                self._progress.remove_task(self._leaf)
                self._tokens += self._leaf_tokens
            self._current = ev.leaf
            self._leaf = self._progress.add_task(ev.leaf, total=ev.target, info="")
        self._leaf_tokens = ev.completion_tokens
        rate = (self._tokens + self._leaf_tokens) / max(time.monotonic() - self._started, 1e-9)
        assert self._leaf is not None
        self._progress.update(
            self._leaf,
            completed=ev.kept,
            info=(f"{ev.stage} r{ev.round + 1} {ev.done}/{ev.total}  {rate:,.0f} tok/s"),
        )
