"""The machine-readable form: exactly one JSON document on stdout."""

from __future__ import annotations

import json
from typing import Any

from bot.validation.engine import Report
from bot.validation.problems import Severity


def as_dict(report: Report) -> dict[str, Any]:
    files = [
        {
            "path": f.path,
            "errors": [p.as_dict() for p in f.problems if p.severity is Severity.ERROR],
            "warnings": [p.as_dict() for p in f.problems if p.severity is Severity.WARNING],
        }
        for f in report.files
    ]
    return {
        "files": files,
        "deleted": report.deleted,
        "skipped": [{"path": path, "reason": why} for path, why in report.skipped],
        "summary": {"files": len(files), "errors": report.errors, "warnings": report.warnings},
    }


def render(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n"
