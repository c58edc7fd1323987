"""`<work>/release/<version>/state.json`: the stages a release finished and what each
produced, so a re-run continues after the last finished stage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.sdg.store import write_atomic

STAGES = ("collect", "retrain", "benchmark", "write", "commit", "tag")
FORMAT = 1


class ReleaseError(Exception):
    """A release cannot go on; `code` is the exit status, the message says what to do."""

    def __init__(self, message: str, code: int = 1) -> None:
        self.code = code
        super().__init__(message)


@dataclass
class State:
    path: Path
    version: str
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> its outputs

    @property
    def folder(self) -> Path:
        return self.path.parent

    def has(self, stage: str) -> bool:
        return stage in self.done

    def record(self, stage: str, outputs: dict[str, Any]) -> None:
        self.done[stage] = outputs
        doc = {"format": FORMAT, "version": self.version, "stages": self.done}
        write_atomic(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n")

    def __getitem__(self, stage: str) -> dict[str, Any]:
        return self.done[stage]


def load(work: Path, version: str) -> State:
    path = work / "release" / version / "state.json"
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return State(path, version)
    except (OSError, ValueError) as exc:
        raise ReleaseError(
            f"{path}: unreadable ({exc}); delete it to start the release over"
        ) from None
    if doc.get("format") != FORMAT or doc.get("version") != version:
        raise ReleaseError(f"{path}: not a release state of {version}; delete it to start over")
    done = {s: doc["stages"][s] for s in STAGES if s in doc.get("stages", {})}
    return State(path, version, done)
