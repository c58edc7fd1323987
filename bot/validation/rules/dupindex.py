"""The cross-leaf index for `bot validate --changed`: the shingle hashes of every leaf
as committed at HEAD, cached in .bot/cache, so one changed leaf in a 10,000-leaf
taxonomy is compared with all the others without re-reading them.

The index is built from HEAD's tree (pygit2 blobs, not the working tree) and
remembers that tree's id. Later runs diff the remembered tree against HEAD and
re-read only the leaves that moved on; a full rebuild happens when too many did.
Leaves changed in the working tree are the ones being validated, so they are
compared from their current content, not from the index. 32-bit shingle hashes
keep the file small; the rare collision can only raise a similarity slightly.

File format (one file, replaced atomically): 8-byte header length, a JSON header
(format, tree, file names, kind names), the units' YAML paths as newline-separated
text (parsed only for the few units that match), then arrays, each with its
length: per unit its file, line and kind; per-unit offsets into every unit's
sorted shingle hashes; and the inverted index: all (hash, unit) pairs sorted by
hash, as two arrays. Reading it costs no per-unit Python objects.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

from bot.taxonomy.find import LEAF_NAME, place
from bot.taxonomy.yamlload import load
from bot.validation.check import FileResult
from bot.validation.rules.duplicates import CROSS_LEAF_KINDS, units
from trainer.text.shingles import NEAR, Entry, jaccard, prefix_length, shingle_hashes

FORMAT = 4
NAME = "dupindex-v4.bin"
KINDS = ("skill", "qa", "context")
REBUILD_SHARE = 0.2  # rebuild when more leaves than this changed since the index was built
Ints: TypeAlias = "array[int] | memoryview[int]"  # built: arrays; read: views of the file


def _fingerprint(item: tuple[str, bytes]) -> tuple[str, list[tuple[Any, int, str]], list[bytes]]:
    rel, raw = item
    doc = load(raw)
    if doc.data is None:
        return rel, [], []
    leaf = place(Path(rel))
    kind = "knowledge" if leaf.branch == "knowledge" else "skill"
    items = [u for u in units(doc.data, kind) if u.kind in CROSS_LEAF_KINDS]
    hashed = [array("I", sorted({h & 0xFFFFFFFF for h in shingle_hashes(u.text)})) for u in items]
    return (
        rel,
        [(list(u.path), doc.where(u.path)[0], u.kind) for u in items],
        [h.tobytes() for h in hashed],
    )


def _leaf_blobs(repo: Any, tree: Any, prefix: str) -> dict[str, Any]:
    """taxonomy-relative leaf path -> blob id, for every qna.yaml under `prefix` in `tree`."""
    import pygit2

    out: dict[str, Any] = {}
    try:
        top = tree[prefix] if prefix else tree
    except KeyError:
        return out
    stack: list[tuple[str, Any]] = [(prefix, repo[top.id] if prefix else top)]
    while stack:
        base, node = stack.pop()
        for entry in node:
            path = f"{base}/{entry.name}" if base else entry.name
            if entry.type == pygit2.enums.ObjectType.TREE:
                stack.append((path, repo[entry.id]))
            elif entry.name == LEAF_NAME:
                out[path] = entry.id
    return out


class Index:
    ARRAYS: tuple[tuple[str, Literal["I", "B", "Q"]], ...] = (
        ("unit_file", "I"),
        ("unit_line", "I"),
        ("unit_kind", "B"),
        ("offsets", "Q"),
        ("flat", "I"),
        ("inv_hash", "I"),
        ("inv_unit", "I"),
    )

    def __init__(
        self, header: dict[str, Any], paths: bytes | memoryview, arrays: Mapping[str, Ints]
    ) -> None:
        self.header, self._paths_blob = header, paths
        self._paths: list[bytes] | None = None
        self.a = arrays

    @property
    def tree(self) -> str:
        return str(self.header["tree"])

    def file(self, unit: int) -> str:
        return str(self.header["files"][self.a["unit_file"][unit]])

    def kind(self, unit: int) -> str:
        return KINDS[self.a["unit_kind"][unit]]

    def location(self, unit: int) -> tuple[tuple[Any, ...], int]:
        if self._paths is None:
            self._paths = bytes(self._paths_blob).split(b"\n")
        return tuple(json.loads(self._paths[unit])), self.a["unit_line"][unit]

    def unit_set(self, i: int) -> frozenset[int]:
        return frozenset(self.a["flat"][self.a["offsets"][i] : self.a["offsets"][i + 1]])

    def postings(self, h: int) -> Ints:
        inv = self.a["inv_hash"]
        lo = bisect.bisect_left(inv, h)
        hi = bisect.bisect_right(inv, h, lo)
        return self.a["inv_unit"][lo:hi]


def _build(fingerprints: list[tuple[str, list[Any], list[bytes]]], tree: str) -> Index:
    files: list[str] = []
    a = {name: array(code) for name, code in Index.ARRAYS}
    a["offsets"].append(0)
    paths: list[str] = []
    keys = array("Q")  # (hash << 32) | unit: sorting plain ints is far cheaper than tuples
    unit = 0
    for rel, unit_list, blobs in sorted(fingerprints):
        files.append(rel)
        for (path, line, kind), blob in zip(unit_list, blobs, strict=True):
            hashes = array("I")
            hashes.frombytes(blob)
            a["flat"].extend(hashes)
            a["offsets"].append(len(a["flat"]))
            a["unit_file"].append(len(files) - 1)
            a["unit_line"].append(line)
            a["unit_kind"].append(KINDS.index(kind))
            paths.append(json.dumps(path))
            keys.extend((h << 32) | unit for h in hashes)
            unit += 1
    ordered = sorted(keys)
    a["inv_hash"].extend(k >> 32 for k in ordered)
    a["inv_unit"].extend(k & 0xFFFFFFFF for k in ordered)
    header = {"format": FORMAT, "tree": tree, "files": files}
    return Index(header, "\n".join(paths).encode(), a)


def _write(path: Path, index: Index) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps(index.header).encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for blob in (head, index._paths_blob):
                fh.write(len(blob).to_bytes(8, "little"))
                fh.write(blob)
            for name, _ in Index.ARRAYS:
                fh.write(len(index.a[name]).to_bytes(8, "little"))
                fh.write(index.a[name])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_preloaded: dict[Path, Index | None] = {}


def preload(cache_dir: Path) -> None:
    """Read the index ahead of need (while git's status runs in another thread)."""
    _preloaded[cache_dir / NAME] = _read(cache_dir / NAME)


def _read(path: Path) -> Index | None:
    """Map the file rather than read it: a run touches a few pages of its 50 MB (10,000
    leaves), and reading plus copying it cost 0.06 s. The arrays are typed views of the
    mapping; the file is only ever replaced, never rewritten in place."""
    import mmap

    try:
        with path.open("rb") as fh:
            raw = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
        pos = 0

        def chunk(size: int) -> memoryview:
            nonlocal pos
            out = raw[pos : pos + size]
            if len(out) != size:
                raise ValueError("truncated index")
            pos += size
            return out

        def sized() -> memoryview:
            return chunk(int.from_bytes(chunk(8), "little"))

        header = json.loads(bytes(sized()))
        if header.get("format") != FORMAT:
            return None
        paths = sized()
        arrays: dict[str, Ints] = {}
        for name, code in Index.ARRAYS:
            size = array(code).itemsize
            arrays[name] = chunk(int.from_bytes(chunk(8), "little") * size).cast(code)
        return Index(header, paths, arrays)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: rebuilt


def _fingerprint_many(items: list[tuple[str, bytes]]) -> list[tuple[str, list[Any], list[bytes]]]:
    from bot.validation.engine import PARALLEL_FROM

    if len(items) < PARALLEL_FROM:
        return [_fingerprint(i) for i in items]
    import multiprocessing as mp

    with mp.get_context("fork").Pool() as pool:
        return pool.map(_fingerprint, items, chunksize=64)


def compare_with_committed(
    focus: list[FileResult],
    root: Path,
    taxonomy: Path,
    cache_dir: Path,
    display: Any,
    base: Path,
) -> dict[str, list[Any]]:
    """duplicate-across-leaves warnings for the focus results (their paths relative to
    `base`) against every other leaf at HEAD. `display(relpath)` turns a repository-relative
    path into the shown path."""
    import pygit2

    from bot.validation.rules.duplicates import warnings_for

    repo = pygit2.Repository(str(root))
    if repo.head_is_unborn:
        return {}
    head_tree = repo.head.peel(pygit2.Commit).tree
    prefix = taxonomy.resolve().relative_to(root.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix
    index, stale = _current_index(repo, head_tree, prefix, cache_dir / NAME)
    focus_rel = {str((base / r.path).resolve().relative_to(root.resolve())) for r in focus}
    fresh = [(rel, _blob(repo, head_tree, rel)) for rel in sorted(stale - focus_rel)]
    delta = _fingerprint_many([(rel, raw) for rel, raw in fresh if raw])
    excluded = stale | focus_rel
    delta_entries = [
        (rel, tuple(u[0]), u[1], u[2], _as_set(b))
        for rel, us, bs in delta
        for u, b in zip(us, bs, strict=True)
    ]
    entries: list[Entry] = []
    best: dict[int, tuple[float, int]] = {}
    for r in focus:
        for (path, line, kind), blob in zip(r.units, r.shingles, strict=False):
            if kind not in CROSS_LEAF_KINDS:
                continue
            a = _as_set(_to32(blob))
            if not a:
                continue
            me = len(entries)
            entries.append(Entry(r.path, path, line, kind))
            found = _near(a, kind, index, excluded, delta_entries)
            if found:
                sim, (rel, cpath, cline, ckind) = max(found, key=lambda f: (f[0], f[1][0]))
                entries.append(Entry(display(rel), cpath, cline, ckind))
                best[me] = (sim, len(entries) - 1)
    return dict(warnings_for(entries, best, {r.path for r in focus}))


def _current_index(repo: Any, head_tree: Any, prefix: str, cache: Path) -> tuple[Index, set[str]]:
    """The index of HEAD's leaves and the leaf paths changed since it was built (stale).
    A cached index of another tree is reused unless too much changed; else rebuilt."""
    import pygit2

    index = _preloaded.pop(cache) if cache in _preloaded else _read(cache)
    stale: set[str] = set()
    if index is not None and index.tree != str(head_tree.id):
        old = repo.get(index.tree)
        if not isinstance(old, pygit2.Tree):
            index = None
        else:
            for change in old.diff_to_tree(head_tree).deltas:
                stale.update((change.old_file.path, change.new_file.path))
            stale = {p for p in stale if p.endswith(LEAF_NAME)}
            if len(stale) > REBUILD_SHARE * max(len(index.header["files"]), 1):
                index = None
    if index is None:
        blobs = _leaf_blobs(repo, head_tree, prefix)
        items = [(rel, repo[oid].read_raw()) for rel, oid in sorted(blobs.items())]
        index = _build(_fingerprint_many(items), str(head_tree.id))
        _write(cache, index)
        stale = set()
    return index, stale


def _near(
    a: frozenset[int], kind: str, index: Index, excluded: set[str], delta: list[Any]
) -> list[tuple[float, tuple[str, Any, int, str]]]:
    """Units of other leaves (the index's, then the changed ones') near shingle set `a`.
    Prefix filtering: a unit at Jaccard >= NEAR must share one of a's rarest hashes."""
    freq = {h: len(index.postings(h)) for h in a}
    prefix_hashes = sorted(a, key=lambda h: (freq[h], h))[: prefix_length(len(a))]
    candidates: set[int] = set()
    for h in prefix_hashes:
        candidates.update(index.postings(h))
    found: list[tuple[float, tuple[str, Any, int, str]]] = []
    for c in candidates:
        rel = index.file(c)
        if rel in excluded or index.kind(c) != kind:
            continue
        sim = jaccard(a, index.unit_set(c))
        if sim >= NEAR:
            found.append((sim, (rel, *index.location(c), kind)))
    for rel, cpath, cline, ckind, cset in delta:
        if ckind == kind and (sim := jaccard(a, cset)) >= NEAR:
            found.append((sim, (rel, cpath, cline, ckind)))
    return found


def _blob(repo: Any, tree: Any, rel: str) -> bytes:
    try:
        return bytes(repo[tree[rel].id].read_raw())
    except KeyError:
        return b""  # deleted since the index was built


def _to32(blob: bytes) -> bytes:
    hashes = array("q")
    hashes.frombytes(blob)
    return array("I", sorted({h & 0xFFFFFFFF for h in hashes})).tobytes()


def _as_set(blob: bytes) -> frozenset[int]:
    hashes = array("I")
    hashes.frombytes(blob)
    return frozenset(hashes)
