"""The content-addressed store of generated data (`<work>/generate/`).

Layout (documented in docs/generate.md):
  entries/<ab>/<key>/data.jsonl   one leaf's rows, chat `messages` format
  entries/<ab>/<key>/record.json  completion record: key fields, counts, sha256 of data.jsonl
  leaves/<taxonomy path>.json     which entry is current for a leaf

The key hashes everything the output depends on: the leaf's content (with its
documents), the teacher's fingerprint, the pipeline and prompt version, the
sample count and the seed. An entry is written into a temporary folder and
renamed into place, and it only counts once its record exists and the data's
hash matches: a killed run leaves at most a stray temporary folder, and a
damaged entry is detected and regenerated, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trainer.models.cache import write_atomic

__all__ = ["Entry", "Store", "StoreKey", "read_rows", "write_atomic"]

STORE_FORMAT = 1


@dataclass(frozen=True)
class StoreKey:
    leaf: str  # taxonomy path (not hashed: a moved leaf with the same content is a hit)
    leaf_hash: str
    teacher: str
    pipeline: str
    samples: int
    seed: int

    @property
    def digest(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k != "leaf"}
        blob = json.dumps({"format": STORE_FORMAT, **fields}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    key: StoreKey
    data: Path
    record: dict[str, Any]

    @property
    def rows(self) -> int:
        return int(self.record["rows"])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, key: StoreKey) -> Path:
        d = key.digest
        return self.root / "entries" / d[:2] / d

    def get(self, key: StoreKey) -> Entry | None:
        """The entry if it is complete and intact, else None."""
        folder = self._dir(key)
        try:
            record = json.loads((folder / "record.json").read_text("utf-8"))
            data = folder / "data.jsonl"
            if record.get("digest") != key.digest or record.get("sha256") != _sha256(data):
                return None
        except (OSError, ValueError, AttributeError):
            return None
        return Entry(key, data, record)

    def status(self, key: StoreKey) -> str:
        """ "cached", "missing", or "corrupt" (present but unusable: will be regenerated)."""
        if self.get(key) is not None:
            return "cached"
        return "corrupt" if self._dir(key).exists() else "missing"

    def put(self, key: StoreKey, rows: Iterable[dict[str, Any]], stats: dict[str, Any]) -> Entry:
        final = self._dir(key)
        tmp_root = self.root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=tmp_root, prefix=key.digest[:12] + "."))
        try:
            data = tmp / "data.jsonl"
            n = 0
            with data.open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                    n += 1
                fh.flush()
                os.fsync(fh.fileno())
            record = {
                "format": STORE_FORMAT,
                "digest": key.digest,
                "key": asdict(key),
                "rows": n,
                "sha256": _sha256(data),
                "stats": stats,
            }
            (tmp / "record.json").write_text(json.dumps(record, indent=2, sort_keys=True))
            if final.exists():  # a damaged earlier attempt
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        entry = self.get(key)
        assert entry is not None
        return entry

    def set_current(self, key: StoreKey) -> None:
        write_atomic(
            self.root / "leaves" / f"{key.leaf}.json",
            json.dumps({"digest": key.digest, "key": asdict(key)}, indent=2) + "\n",
        )

    def current(self, leaf: str) -> Entry | None:
        try:
            ref = json.loads((self.root / "leaves" / f"{leaf}.json").read_text("utf-8"))
            return self.get(StoreKey(**ref["key"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def leaves(self) -> list[str]:
        base = self.root / "leaves"
        return sorted(str(p.relative_to(base))[: -len(".json")] for p in base.rglob("*.json"))


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
