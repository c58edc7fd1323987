"""The replay buffer (`<work>/replay/`): a bounded, leaf-stratified sample of earlier data.

Each retrain mixes the new leaves' rows with a sample of what earlier retrains saw, so old
leaves are not forgotten. The buffer keeps an equal quota of rows per leaf (water-filling
over `max_rows`) and fills each leaf's quota by reservoir sampling (Algorithm R, seeded by
(buffer seed, leaf, leaf_hash)): a new leaf shrinks every other leaf's quota evenly, and no
leaf is ever evicted while it is in the taxonomy. A rewritten leaf (new leaf_hash) starts
over; a leaf that left the taxonomy is dropped.

On disk (docs/training.md, "Replay buffer"): immutable, content-addressed snapshots.

  HEAD.json                     {"format", "version": current snapshot id, "history": [ids]}
  versions/<id>.json            a snapshot's index; id = sha256 of the file's bytes
  objects/<ab>/<sha256>.jsonl   one leaf's rows, shared by every snapshot that holds them

A save writes objects and the index first and switches HEAD.json last (temp file + rename),
so a killed update leaves the previous snapshot current and intact (one writer at a time).
A release records the snapshot id; `load(root, version=id)` reads any snapshot still kept.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trainer.data.config import ReplayConfig
from trainer.data.rows import DataError, LeafRows, Row, branch_of, jsonl, parse_jsonl, row_digest
from trainer.data.rows import sha256 as sha256_of
from trainer.data.sampling import fair_quotas, reservoir_extend, rng, stratified_sample, subsample
from trainer.models.cache import write_atomic

REPLAY_FORMAT = 1


class ReplayError(RuntimeError):
    """The buffer on disk is damaged or inconsistent; the message names the file."""


@dataclass(frozen=True)
class BufferLeaf:
    leaf_hash: str
    seen: int  # rows offered to this leaf's reservoir so far (under this leaf_hash)
    batches: tuple[str, ...]  # sha256 of each exported file absorbed, so re-offers are no-ops
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Buffer:
    leaves: Mapping[str, BufferLeaf] = field(default_factory=dict)
    version: str | None = None  # the snapshot this was loaded from or saved as

    @property
    def total_rows(self) -> int:
        return sum(len(b.rows) for b in self.leaves.values())

    def counts(self) -> dict[str, int]:
        return {leaf: len(b.rows) for leaf, b in sorted(self.leaves.items())}


def new_leaves(buffer: Buffer, current: Mapping[str, LeafRows]) -> set[str]:
    """Leaves of the current data the buffer has not absorbed: added or rewritten since.

    A leaf regenerated under the same leaf_hash (e.g. by another teacher) is not new here;
    name it explicitly where its fresh rows should be trained.
    """
    return {
        leaf
        for leaf, data in current.items()
        if data.rows
        and (leaf not in buffer.leaves or buffer.leaves[leaf].leaf_hash != data.leaf_hash)
    }


def replayable(buffer: Buffer, current: Mapping[str, LeafRows]) -> dict[str, BufferLeaf]:
    """Buffer leaves still in the taxonomy unchanged; stale rows must never be replayed."""
    return {
        leaf: b
        for leaf, b in sorted(buffer.leaves.items())
        if leaf in current and current[leaf].leaf_hash in (b.leaf_hash, None)
    }


def update(
    buffer: Buffer,
    current: Mapping[str, LeafRows],
    config: ReplayConfig,
    *,
    trained: Collection[str] | None = None,
) -> Buffer:
    """The buffer after a retrain on `trained` leaves (default: `new_leaves`), in memory.

    Leaves absent from `current` are dropped; a trained leaf with a new leaf_hash replaces
    its old rows; a trained leaf with the same hash streams its unseen rows into the same
    reservoir. Then every leaf is cut to its fair quota of `max_rows`.
    """
    if not current and buffer.leaves:
        # An empty export is far likelier a missing `bot generate` than an empty taxonomy.
        raise ReplayError("no exported training data: refusing to empty the replay buffer")
    trained = new_leaves(buffer, current) if trained is None else set(trained)
    unknown = sorted(set(trained) - set(current))
    if unknown:
        raise ValueError(f"trained leaves not in the current data: {', '.join(unknown)}")
    # Step 1: who holds what before quotas (old rows, plus the new batch to stream in).
    pending: dict[str, tuple[BufferLeaf, list[Row]]] = {}
    for leaf, data in sorted(current.items()):
        old = buffer.leaves.get(leaf)
        if leaf not in trained or not data.rows or data.leaf_hash is None:
            if old is not None and data.leaf_hash in (old.leaf_hash, None):
                pending[leaf] = (old, [])
            continue
        if old is None or old.leaf_hash != data.leaf_hash:
            old = BufferLeaf(data.leaf_hash, 0, (), ())
        if data.sha256 in old.batches:
            pending[leaf] = (old, [])
            continue
        held = {row_digest(r) for r in old.rows}
        fresh = [r for r in data.rows if row_digest(r) not in held]
        pending[leaf] = (replace(old, batches=(*old.batches, data.sha256)), fresh)
    # Step 2: fair quotas over what each leaf could hold, then reservoir per leaf.
    quotas = fair_quotas(
        {leaf: len(b.rows) + len(fresh) for leaf, (b, fresh) in pending.items()}, config.max_rows
    )
    leaves: dict[str, BufferLeaf] = {}
    for leaf, (b, fresh) in pending.items():
        k = quotas[leaf]
        r = rng(config.seed, leaf, b.leaf_hash, b.seen)
        rows = subsample(b.rows, k, r) if len(b.rows) > k else list(b.rows)
        rows, seen = reservoir_extend(rows, b.seen, fresh, k, r)
        if rows:
            leaves[leaf] = BufferLeaf(b.leaf_hash, seen, b.batches, tuple(rows))
    if leaves == dict(buffer.leaves):
        return buffer
    return Buffer(leaves, None)


def sample(
    buffer: Buffer,
    n: int,
    seed: int,
    *,
    exclude_leaves: Iterable[str] = (),
    branches: Iterable[str] | None = None,
) -> list[Row]:
    """About n rows stratified evenly by leaf (fewer if the buffer holds fewer), in leaf order."""
    excluded, wanted = set(exclude_leaves), None if branches is None else set(branches)
    pools = {
        leaf: b.rows
        for leaf, b in buffer.leaves.items()
        if leaf not in excluded and (wanted is None or branch_of(leaf) in wanted)
    }
    salt = {leaf: buffer.leaves[leaf].leaf_hash for leaf in pools}
    return [r for rows in stratified_sample(pools, n, seed, salt=salt).values() for r in rows]


# --- on disk -------------------------------------------------------------------------------


def _object_path(root: Path, digest: str) -> Path:
    return root / "objects" / digest[:2] / f"{digest}.jsonl"


def _read_json(path: Path) -> tuple[bytes, Any]:
    try:
        data = path.read_bytes()
        return data, json.loads(data)
    except (OSError, ValueError) as e:
        raise ReplayError(f"{path}: unreadable ({e})") from None


def history(root: Path) -> list[str]:
    """Snapshot ids kept on disk, the current one first; [] for no buffer yet."""
    head = root / "HEAD.json"
    if not head.exists():
        return []
    _, data = _read_json(head)
    if not isinstance(data, dict) or data.get("format") != REPLAY_FORMAT:
        raise ReplayError(f"{head}: not a replay buffer head of format {REPLAY_FORMAT}")
    return [str(v) for v in data.get("history", [])]


def load(root: Path, version: str | None = None) -> Buffer:
    """The current snapshot (or `version`); an empty buffer where none was saved yet.

    Every file is checked against its hash: a damaged buffer raises ReplayError rather than
    replaying rows nobody can vouch for.
    """
    kept = history(root)
    if version is None:
        if not kept:
            return Buffer()
        version = kept[0]
    path = root / "versions" / f"{version}.json"
    raw, index = _read_json(path)
    if sha256_of(raw) != version:
        raise ReplayError(f"{path}: content does not match its snapshot id")
    leaves = {}
    for leaf, entry in index["leaves"].items():
        obj = _object_path(root, entry["object"])
        try:
            data = obj.read_bytes()
        except OSError as e:
            raise ReplayError(f"{obj}: missing object of leaf {leaf} ({e.strerror})") from None
        if sha256_of(data) != entry["object"]:
            raise ReplayError(f"{obj}: content does not match its hash")
        try:
            rows = parse_jsonl(data, obj)
        except DataError as e:
            raise ReplayError(str(e)) from None
        if len(rows) != entry["rows"]:
            raise ReplayError(f"{obj}: {len(rows)} rows, index says {entry['rows']}")
        leaves[leaf] = BufferLeaf(
            entry["leaf_hash"], entry["seen"], tuple(entry["batches"]), tuple(rows)
        )
    return Buffer(leaves, version)


def save(root: Path, buffer: Buffer, config: ReplayConfig) -> Buffer:
    """Write `buffer` as a snapshot and make it current; returns it with its id.

    Old snapshots beyond `keep_versions`, and objects only they used, are removed after the
    switch; a crash there leaves only unreferenced files, cleaned up by the next save.
    """
    entries: dict[str, dict[str, Any]] = {}
    for leaf, b in sorted(buffer.leaves.items()):
        data = jsonl(b.rows)
        digest = sha256_of(data)
        obj = _object_path(root, digest)
        if not obj.exists():
            write_atomic(obj, data.decode("utf-8"))
        entries[leaf] = {
            "leaf_hash": b.leaf_hash,
            "seen": b.seen,
            "batches": list(b.batches),
            "rows": len(b.rows),
            "object": digest,
        }
    index = {
        "format": REPLAY_FORMAT,
        "max_rows": config.max_rows,
        "seed": config.seed,
        "total_rows": buffer.total_rows,
        "leaves": entries,
    }
    text = json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    version = sha256_of(text.encode("utf-8"))
    path = root / "versions" / f"{version}.json"
    if not path.exists():
        write_atomic(path, text)
    kept = [version, *(v for v in history(root) if v != version)][: config.keep_versions]
    head = {"format": REPLAY_FORMAT, "version": version, "history": kept}
    write_atomic(root / "HEAD.json", json.dumps(head, indent=2) + "\n")
    _collect_garbage(root, kept)
    return Buffer(buffer.leaves, version)


def _collect_garbage(root: Path, kept: list[str]) -> None:
    used: set[str] = set()
    for version in kept:
        _, index = _read_json(root / "versions" / f"{version}.json")
        used.update(e["object"] for e in index["leaves"].values())
    for path in (root / "versions").glob("*.json"):
        if path.stem not in kept:
            path.unlink(missing_ok=True)
    for path in (root / "objects").glob("*/*.jsonl"):
        if path.stem not in used:
            path.unlink(missing_ok=True)
    # Temp files of a write killed mid-way (write_atomic names them ".<name>.<random>").
    for folder in (root, root / "versions", *(root / "objects").glob("*")):
        for path in folder.glob(".*"):
            if path.is_file():
                path.unlink(missing_ok=True)
