"""Per-model score cache: `<work>/benchmark/cache/<key>.json`.

One file per (model fingerprint, scoring settings), mapping item id (a content hash) to the
raw scores of that item. Re-benchmarking against the same base model therefore costs
nothing for the base, and an edited leaf re-scores only its changed items. Files are
replaced atomically, after merging with what is on disk, so two runs sharing a work folder
lose nothing but the race's last few items; an unreadable file counts as empty.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from trainer.models.cache import write_atomic

CACHE_FORMAT = 1


class ScoreCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, fingerprint: str, settings: str) -> Path:
        key = hashlib.sha256(f"{CACHE_FORMAT}\0{fingerprint}\0{settings}".encode()).hexdigest()
        return self.folder / f"{key[:32]}.json"

    def load(self, fingerprint: str, settings: str) -> dict[str, Any]:
        try:
            doc = json.loads(self.path(fingerprint, settings).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if (
            not isinstance(doc, dict)
            or doc.get("format") != CACHE_FORMAT
            or doc.get("fingerprint") != fingerprint
            or doc.get("settings") != settings
            or not isinstance(doc.get("results"), dict)
        ):
            return {}
        results: dict[str, Any] = doc["results"]
        return results

    def save(self, fingerprint: str, settings: str, results: dict[str, Any]) -> None:
        merged = {**self.load(fingerprint, settings), **results}
        doc = {
            "format": CACHE_FORMAT,
            "fingerprint": fingerprint,
            "settings": settings,
            "results": dict(sorted(merged.items())),
        }
        write_atomic(self.path(fingerprint, settings), json.dumps(doc, ensure_ascii=False))
