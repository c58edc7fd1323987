"""What stages report while they work. Every method does nothing here: a library caller
passes `Progress()` (or nothing), the CLI passes bot.report.progress.RichProgress, and a
test can override just the method it watches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ScoreUpdate = Callable[[str, int, int], None]  # (what is being scored, done, total)


class Progress:
    def begin(self, stage: str) -> None:
        """A stage starts (validate, generate, train, benchmark, release)."""

    def end(self, stage: str) -> None:
        """The stage ended, whether it finished or failed."""

    def generation_planned(self, leaves: int) -> None:
        """How many leaves need the teacher."""

    def generation(self, job: Any, event: Any) -> None:
        """trainer.sdg: a leaf's pipeline advanced (LeafJob, ProgressEvent)."""

    def train_phase(self, name: str, status: str) -> None:
        """A training phase: "start", "reused" or "skipped: <why>"."""

    def train_step(self, event: Any) -> None:
        """trainer.train: an optimizer step finished (StepEvent)."""

    def scoring(self, label: str) -> ScoreUpdate:
        """A model starts scoring benchmark items; returns the per-batch callback."""
        return _ignore

    def say(self, line: str) -> None:
        """A line for the person watching (a release's stage by stage account)."""


def _ignore(what: str, done: int, total: int) -> None:
    return None
