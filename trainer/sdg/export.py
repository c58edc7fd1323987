"""Write the training files: one JSONL per leaf under `<work>/data/`.

From each leaf's current store entry, in taxonomy-path order:
- generated rows that near-duplicate a row of an earlier leaf are removed (cross-leaf);
- generated rows that share a word 8-gram with an evaluation item are removed (`forbidden`:
  held-out items never become training tasks, trainer/text/overlap.py);
- a share of the remaining generated rows (hash-chosen) goes to `<validation>/<leaf>.jsonl`
  instead: the checkpoint chooser's validation split, never trained on and never reported;
- with `closed_book`, every knowledge row left that carries its passage gets a twin without
  it, the question alone: LAB's rows teach reading a passage, the benchmark asks closed-book,
  and a fact is stored only where the loss meets it without the passage to copy from (PIT,
  2024: QA-style data helps knowledge stick). A twin adds no word the row did not have, so
  it cannot teach an evaluation item its row would not.

Removal happens here rather than in the store so that stored entries depend on their own
leaf alone: editing one leaf never invalidates another's generated data, and the result is
the same whatever order leaves were generated in. Seed rows are human-written and stay.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.data.rowschema import stable_row
from trainer.sdg.store import Store, read_rows, write_atomic
from trainer.text.overlap import row_texts, shares_ngram
from trainer.text.shingles import Entry, shingle_hashes
from trainer.text.simjoin import matches

Table = list[tuple[str, list[dict[str, Any]]]]
_ASK = "\n\nQuestion:\n"  # trainer/sdg/pipeline.py user_message: context, then this


@dataclass(frozen=True)
class ExportPolicy:
    forbidden: frozenset[tuple[str, ...]] = frozenset()  # evaluation items' word 8-grams
    validation: Path | None = None  # where the validation split goes (None: no split)
    validation_share: float = 0.1  # of each leaf's generated rows, rounded down
    closed_book: bool = False  # knowledge rows also without their passage (a twin each)


@dataclass(frozen=True)
class Exported:
    leaf: str
    path: Path
    rows: int
    dropped_across_leaves: int
    dropped_heldout: int = 0  # generated rows that would have taught an evaluation item
    validation: int = 0  # generated rows held out for the checkpoint chooser
    closed_book: int = 0  # of `rows`: twins of knowledge rows without their passage


@dataclass
class _Leaf:
    rows: list[dict[str, Any]]
    across: set[int] = field(default_factory=set)
    leaks: set[int] = field(default_factory=set)
    validation: set[int] = field(default_factory=set)


def _question(row: dict[str, Any]) -> str:
    return next((m["content"] for m in row["messages"] if m["role"] == "user"), "")


def _generated(row: dict[str, Any]) -> bool:
    return bool(row["metadata"]["source"] != "seed")


def _across(tables: dict[str, _Leaf]) -> None:
    """Generated rows that near-duplicate a row of an earlier leaf."""
    entries, sets, generated = [], [], []
    for leaf, t in tables.items():
        for i, row in enumerate(t.rows):
            entries.append(Entry(leaf, (i,), i, "row"))
            sets.append(shingle_hashes(_question(row)))
            generated.append(_generated(row))
    for i in matches(entries, sets):
        if generated[i]:
            tables[entries[i].file].across.add(entries[i].line)


def _split(leaf: str, t: _Leaf, policy: ExportPolicy) -> None:
    """The leaks, then the validation rows among what is left (lowest hash of the question)."""
    for i, row in enumerate(t.rows):
        if _generated(row) and i not in t.across and shares_ngram(row_texts(row), policy.forbidden):
            t.leaks.add(i)
    if policy.validation is None:
        return
    left = [i for i, r in enumerate(t.rows) if _generated(r) and i not in t.across | t.leaks]
    k = int(len(left) * policy.validation_share)
    rank = {i: hashlib.sha256(f"{leaf}\0{_question(t.rows[i])}".encode()).hexdigest() for i in left}
    t.validation = set(sorted(left, key=rank.__getitem__)[:k])


def closed_book_twin(row: dict[str, Any]) -> dict[str, Any] | None:
    """A knowledge row with its passage taken out of the user turn (None: not such a row)."""
    if row["metadata"].get("kind") != "knowledge":
        return None
    messages = [dict(m) for m in row["messages"]]
    user = next((m for m in messages if m["role"] == "user"), None)
    if user is None or not user["content"].startswith("Context:\n") or _ASK not in user["content"]:
        return None
    user["content"] = user["content"].split(_ASK, 1)[1]
    return {**row, "messages": messages}


def _write(folder: Path, leaf: str, rows: list[dict[str, Any]]) -> Path:
    """One leaf's rows in the one row schema (entries stored before it are brought in)."""
    path = folder / f"{leaf}.jsonl"
    text = "".join(
        json.dumps(stable_row(r), ensure_ascii=False, sort_keys=True) + "\n" for r in rows
    )
    write_atomic(path, text)
    return path


def _prune(folder: Path | None, keep: set[str]) -> None:
    """Remove the files of leaves no longer exported."""
    if folder is None or not folder.exists():
        return
    for stale in folder.rglob("*.jsonl"):
        if str(stale.relative_to(folder))[: -len(".jsonl")] not in keep:
            stale.unlink()


def export(
    store: Store, leaves: list[str], out_dir: Path, policy: ExportPolicy | None = None
) -> dict[str, Exported]:
    """Export the current entry of each leaf; leaves without one are skipped, and files of
    leaves no longer in the taxonomy are removed."""
    policy = policy or ExportPolicy()
    tables: dict[str, _Leaf] = {}
    for leaf in sorted(leaves):
        entry = store.current(leaf)
        if entry is not None:
            tables[leaf] = _Leaf(read_rows(entry.data))
    _across(tables)
    out: dict[str, Exported] = {}
    for leaf, t in tables.items():
        _split(leaf, t, policy)
        gone = t.across | t.leaks | t.validation
        rows = [r for i, r in enumerate(t.rows) if i not in gone]
        twins = [x for r in rows if (x := closed_book_twin(r))] if policy.closed_book else []
        path = _write(out_dir, leaf, rows + twins)
        if policy.validation is not None:
            _write(policy.validation, leaf, [t.rows[i] for i in sorted(t.validation)])
        out[leaf] = Exported(
            leaf,
            path,
            len(rows) + len(twins),
            len(t.across),
            len(t.leaks),
            len(t.validation),
            len(twins),
        )
    _prune(out_dir, set(out))
    _prune(policy.validation, set(out))
    return out
