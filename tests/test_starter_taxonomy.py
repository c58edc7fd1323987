"""The taxonomy this repository ships is valid, without a single warning."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json

ROOT = Path(__file__).resolve().parent.parent


def test_starter_taxonomy_is_clean() -> None:
    code, out = run_json("validate", "--documents", cwd=ROOT)
    assert code == 0
    assert out["summary"]["warnings"] == 0, [f for f in out["files"] if f["warnings"]]
    branches = [f["path"].split("/")[1] for f in out["files"]]
    assert branches.count("knowledge") >= 3
    assert branches.count("compositional_skills") >= 4
    assert branches.count("foundational_skills") >= 2
