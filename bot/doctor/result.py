"""What one doctor check reports: a name, pass/warn/fail, a one-line detail and a fix hint."""

from __future__ import annotations

from typing import Literal, NamedTuple

Status = Literal["pass", "warn", "fail"]


class Result(NamedTuple):
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def missing(name: str, required: bool, detail: str, fix: str = "") -> Result:
    """A check whose subject is absent: a failure where the caller needs it, else a warning."""
    return Result(name, "fail" if required else "warn", detail, fix)
