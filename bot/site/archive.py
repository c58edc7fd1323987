"""The history archive: each retrain's benchmark report, kept for the project site.

`<work>/history/<seq>/report.json` is the report as the benchmark wrote it and
`<work>/history/<seq>/meta.json` says what it was: a label (the merged commit, or
`bot run`), when it was kept, and the leaves that retrain trained as new. `seq` is a
zero-padded counter, so the folders sort in the order the retrains happened. The report
is kept without its `items` (every question, answer and score: the bulk of the file; the
benchmark's own folder has them), and with `"items_dropped": true` saying so.

A report whose candidate and items are those of the last kept one (a `bot run` whose
every stage was skipped) is not kept again: the history has one column per model.
Each entry is written into a temporary folder and renamed into place.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

META_FORMAT = 1


@dataclass(frozen=True)
class HistoryNote:
    """What to keep with a report: a label and the leaves the retrain trained as new."""

    label: str = ""
    trained: tuple[str, ...] = ()  # taxonomy paths; empty: not known


def _identity(doc: dict[str, Any]) -> tuple[str, str]:
    candidate = doc.get("candidate") or {}
    provenance = doc.get("provenance") or {}
    return str(candidate.get("fingerprint", "")), str(provenance.get("items_sha256", ""))


def folders(history: Path) -> list[Path]:
    """The kept entries, oldest first (folders with a report.json)."""
    if not history.is_dir():
        return []
    found = [p for p in history.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(p for p in found if (p / "report.json").is_file())


def _last_identity(history: Path) -> tuple[str, str] | None:
    kept = folders(history)
    if not kept:
        return None
    try:
        doc = json.loads((kept[-1] / "report.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return _identity(doc) if isinstance(doc, dict) else None


def keep(history: Path, doc: dict[str, Any], note: HistoryNote) -> Path | None:
    """Keep `doc` (report.json's document) as the next entry; None when it repeats the last."""
    if _identity(doc) == _last_identity(history) and all(_identity(doc)):
        return None
    history.mkdir(parents=True, exist_ok=True)
    kept = folders(history)
    seq = int(kept[-1].name.split("-")[0]) + 1 if kept and kept[-1].name[:6].isdigit() else 1
    meta = {
        "format": META_FORMAT,
        "label": note.label,
        "kept": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "trained": list(note.trained),
    }
    slim = {k: v for k, v in doc.items() if k != "items"} | {"items_dropped": True}
    tmp = Path(tempfile.mkdtemp(dir=history, prefix=".entry."))
    try:
        (tmp / "report.json").write_text(json.dumps(slim, indent=1, ensure_ascii=False), "utf-8")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        final = history / f"{seq:06d}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
