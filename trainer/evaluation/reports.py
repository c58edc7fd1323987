"""Write a benchmark's three reports into one folder: report.json, report.md, deltas.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer.evaluation.benchmark import BenchResult
from trainer.evaluation.plot import plot
from trainer.evaluation.report_json import to_json
from trainer.evaluation.report_md import render
from trainer.models.cache import write_atomic

FILES = ("report.json", "report.md", "deltas.png")


def write_reports(result: BenchResult, out: Path) -> dict[str, Any]:
    """The report document, after writing it and its renderings (each file atomically)."""
    doc = to_json(result)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "report.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out / "report.md", render(doc))
    plot(doc, out / "deltas.png")
    return doc
