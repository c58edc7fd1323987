"""The history archive: one entry per model, in order, written whole."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bot.site.archive import HistoryNote, folders, keep
from tests.bot.site.synth import report


def test_entries_are_numbered_slim_and_not_repeated(tmp_path: Path) -> None:
    history = tmp_path / "history"
    first = report({"a/b": 0.1}, {}, {"a/b"}, random.Random(0), "hf:one", "2026-01-01T00:00:00Z")
    first["items"] = [{"id": "x"}] * 3
    kept = keep(history, first, HistoryNote("abc", ("a/b",)))
    assert kept == history / "000001"
    assert keep(history, first, HistoryNote("again")) is None, "same model and items: kept once"
    second = report({"a/b": 0.2}, {}, set(), random.Random(1), "hf:two", "2026-01-02T00:00:00Z")
    assert keep(history, second, HistoryNote()) == history / "000002"
    assert folders(history) == [history / "000001", history / "000002"]
    doc = json.loads((history / "000001" / "report.json").read_text("utf-8"))
    assert "items" not in doc and doc["items_dropped"] is True
    meta = json.loads((history / "000001" / "meta.json").read_text("utf-8"))
    assert meta["label"] == "abc" and meta["trained"] == ["a/b"]
    assert not [p for p in history.iterdir() if p.name.startswith(".")], "no temporary left"
