"""The two ways a stage says no."""

from __future__ import annotations


class UsageError(ValueError):
    """A request the stage refuses (bad arguments or settings): the CLI exits 2."""


class StageFailed(Exception):
    """A stage could not finish; the message says what to do. `code` is the exit status."""

    def __init__(self, stage: str, message: str, code: int = 1) -> None:
        self.stage, self.code = stage, code
        super().__init__(message)
