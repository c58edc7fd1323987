"""Reading the exported training rows (`<work>/data/<leaf>.jsonl`) with checked structure.

Every reader here fails with a `DataError` that names the file and line, so the CLI can
print `path:line: message` instead of a traceback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = dict[str, Any]  # {"messages": [...], "metadata": {"leaf": ..., "leaf_hash": ..., ...}}
BRANCHES = ("knowledge", "foundational_skills", "compositional_skills")


class DataError(ValueError):
    """Malformed training data; `path` and `line` (1-based, 0 = the whole file) say where."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")


@dataclass(frozen=True)
class LeafRows:
    """One leaf's exported rows, with the hash of the file they came from."""

    leaf: str
    leaf_hash: str | None  # None only for a file without rows
    rows: tuple[Row, ...]
    source: str  # where the rows came from, for manifests (e.g. "data/knowledge/x.jsonl")
    sha256: str  # of the source file's bytes

    @property
    def branch(self) -> str:
        return branch_of(self.leaf)


def branch_of(leaf: str) -> str:
    return leaf.split("/", 1)[0]


def dumps(row: Row) -> str:
    """The canonical one-line JSON of a row (the same bytes for the same row, always)."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


def jsonl(rows: Iterable[Row]) -> bytes:
    return "".join(dumps(r) + "\n" for r in rows).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def row_digest(row: Row) -> str:
    return sha256(dumps(row).encode("utf-8"))


def check_row(row: Any) -> str | None:
    """Why `row` is not a training row, or None if it is one."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for i, m in enumerate(messages):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            return f"messages[{i}] needs string 'role' and 'content'"
    metadata = row.get("metadata")
    if not isinstance(metadata, dict):
        return "'metadata' must be an object"
    for key in ("leaf", "leaf_hash"):
        if not isinstance(metadata.get(key), str) or not metadata[key]:
            return f"metadata.{key} must be a non-empty string"
    return None


def parse_jsonl(data: bytes, path: Path | str) -> list[Row]:
    """Rows of a JSONL document; blank lines are skipped, anything else malformed is fatal."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(path, data[: e.start].count(b"\n") + 1, "not UTF-8") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, n, f"invalid JSON: {e.msg} (column {e.colno})") from None
        problem = check_row(row)
        if problem:
            raise DataError(path, n, problem)
        rows.append(row)
    return rows


def read_leaf_file(path: Path, leaf: str, source: str) -> LeafRows:
    """One exported leaf file; every row must belong to `leaf` and share one leaf_hash."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(path, 0, f"cannot read: {e.strerror or e}") from None
    rows = parse_jsonl(data, path)
    hashes: set[str] = set()
    for n, row in _numbered(data, rows):
        meta = row["metadata"]
        if meta["leaf"] != leaf:
            raise DataError(path, n, f"row of leaf {meta['leaf']!r} in the file of {leaf!r}")
        hashes.add(meta["leaf_hash"])
        if len(hashes) > 1:
            raise DataError(path, n, "rows with different leaf_hash values in one leaf file")
    return LeafRows(leaf, next(iter(hashes), None), tuple(rows), source, sha256(data))


def _numbered(data: bytes, rows: Sequence[Row]) -> Iterable[tuple[int, Row]]:
    """(line number, row) pairs, skipping the blank lines parse_jsonl skipped."""
    lines = [n for n, line in enumerate(data.decode("utf-8").splitlines(), 1) if line.strip()]
    return zip(lines, rows, strict=True)


def load_exported(data_dir: Path) -> dict[str, LeafRows]:
    """Every leaf file under `data_dir` (what `bot generate` exports), keyed by leaf path.

    Sources are named `data/<leaf>.jsonl`, relative, so manifests do not depend on where
    the work directory lives.
    """
    if not data_dir.is_dir():
        return {}
    out: dict[str, LeafRows] = {}
    for path in sorted(data_dir.rglob("*.jsonl")):
        leaf = path.relative_to(data_dir).as_posix()[: -len(".jsonl")]
        if branch_of(leaf) not in BRANCHES:
            raise DataError(path, 0, f"not under a taxonomy branch ({', '.join(BRANCHES)})")
        out[leaf] = read_leaf_file(path, leaf, f"{data_dir.name}/{leaf}.jsonl")
    return out
