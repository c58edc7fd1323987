"""Write the training files: one JSONL per leaf under `<work>/data/`, with rows that
near-duplicate a row of an earlier leaf (in taxonomy-path order) removed.

Cross-leaf removal happens here rather than in the store so that stored entries
depend on their own leaf alone: editing one leaf never invalidates another's
generated data, and the result is the same whatever order leaves were generated in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.sdg.store import Store, read_rows, write_atomic
from trainer.text.shingles import Entry, shingle_hashes
from trainer.text.simjoin import matches


@dataclass(frozen=True)
class Exported:
    leaf: str
    path: Path
    rows: int
    dropped_across_leaves: int


def _question(row: dict[str, Any]) -> str:
    return next((m["content"] for m in row["messages"] if m["role"] == "user"), "")


def export(store: Store, leaves: list[str], out_dir: Path) -> dict[str, Exported]:
    """Export the current entry of each leaf; leaves without one are skipped, and files of
    leaves no longer in the taxonomy are removed."""
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    for leaf in sorted(leaves):
        entry = store.current(leaf)
        if entry is not None:
            tables.append((leaf, read_rows(entry.data)))
    entries, sets, generated = [], [], []
    for leaf, rows in tables:
        for i, row in enumerate(rows):
            entries.append(Entry(leaf, (i,), i, "row"))
            sets.append(shingle_hashes(_question(row)))
            # Seed rows are human-written and never dropped; only generated rows compete.
            generated.append(row["metadata"]["source"] != "seed")
    best = matches(entries, sets)
    drop = {(entries[i].file, entries[i].line) for i in best if generated[i]}
    out: dict[str, Exported] = {}
    for leaf, rows in tables:
        kept = [r for i, r in enumerate(rows) if (leaf, i) not in drop]
        path = out_dir / f"{leaf}.jsonl"
        write_atomic(
            path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in kept)
        )
        out[leaf] = Exported(leaf, path, len(kept), len(rows) - len(kept))
    for stale in out_dir.rglob("*.jsonl") if out_dir.exists() else ():
        if str(stale.relative_to(out_dir))[: -len(".jsonl")] not in out:
            stale.unlink()
    return out
