"""Exported training data for the mixing and replay tests, written as `bot generate` would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer.data.rows import LeafRows, load_exported


def make_row(leaf: str, leaf_hash: str, i: int, kind: str = "knowledge") -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": f"{leaf} question {i} ({leaf_hash})"},
            {"role": "assistant", "content": f"answer {i}"},
        ],
        "metadata": {
            "leaf": leaf,
            "leaf_hash": leaf_hash,
            "teacher": "t",
            "pipeline": "p",
            "kind": kind,
            "source": "seed" if i < 2 else "generated",
        },
    }


def write_leaf(data_dir: Path, leaf: str, n: int, leaf_hash: str | None = None) -> Path:
    path = data_dir / f"{leaf}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    h = leaf_hash or f"h-{leaf}"
    rows = [make_row(leaf, h, i) for i in range(n)]
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return path


def export(
    data_dir: Path, sizes: dict[str, int], hashes: dict[str, str] | None = None
) -> dict[str, LeafRows]:
    """Write one file per leaf (replacing what was there) and read them back."""
    for old in data_dir.rglob("*.jsonl") if data_dir.exists() else ():
        old.unlink()
    for leaf, n in sizes.items():
        write_leaf(data_dir, leaf, n, (hashes or {}).get(leaf))
    return load_exported(data_dir)
