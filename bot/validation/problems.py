"""The one shape every check reports in: a located problem with a stable rule id."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Problem(NamedTuple):
    """One diagnostic. Lines and columns are 1-based, as editors show them."""

    line: int
    column: int
    rule: str
    message: str
    severity: Severity = Severity.ERROR

    def as_dict(self) -> dict[str, int | str]:
        return {
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "message": self.message,
        }


def error(rule: str, message: str, line: int = 1, column: int = 1) -> Problem:
    return Problem(line, column, rule, message, Severity.ERROR)


def warning(rule: str, message: str, line: int = 1, column: int = 1) -> Problem:
    return Problem(line, column, rule, message, Severity.WARNING)
