"""Live progress and the final table of `bot train`: one bar per phase with loss,
tokens/s and an ETA; then a table per phase of what it cost and where it ended."""

from __future__ import annotations

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
from rich.table import Table


class TrainingProgress:
    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> TrainingProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(t, e, tb)

    def phase(self, name: str, status: str) -> None:
        if status != "start":
            self._progress.console.print(f"phase {name}: {status}")

    def step(self, event: Any) -> None:
        task = self._tasks.get(event.phase)
        if task is None:
            task = self._progress.add_task(event.phase, total=event.total, info="")
            self._tasks[event.phase] = task
        self._progress.update(
            task,
            completed=event.step,
            info=f"loss {event.loss:.3f}  lr {event.lr:.1e}  {event.tokens_per_s:,.0f} tok/s",
        )


def summary_table(phases: list[dict[str, Any]]) -> Table:
    table = Table(title="training", title_justify="left")
    for col in ("phase", "samples", "tokens", "steps", "final loss", "tok/s", "packing", "time"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for p in phases:
        table.add_row(
            p["name"],
            f"{p['samples']:,}",
            f"{p['tokens']:,}",
            str(p["steps"]),
            f"{p['final_loss']:.3f}",
            f"{p['tokens_per_s']:,.0f}",
            f"{p['packing_efficiency']:.1%}",
            f"{p['seconds']:.0f} s",
        )
    return table
