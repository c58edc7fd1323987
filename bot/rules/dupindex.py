"""The cross-leaf index for `bot validate --changed`: MinHash signatures of every
other leaf, cached in .bot/cache so that one changed leaf in a 10,000-leaf
taxonomy is compared against all the others without re-reading them.

A cache entry is reused while the file's size and mtime are unchanged; the
cache is one .npz file replaced atomically, so a killed run never leaves a
half-written index behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bot.check import FileResult, Options
from bot.rules.duplicates import HASHES, signatures, units
from bot.taxonomy.find import LEAF_NAME, display, place, walk
from bot.taxonomy.yamlload import load

FORMAT = 1
NAME = "dupindex-v1.npz"


def _fingerprint(path: Path) -> FileResult:
    """Units and signatures of one leaf; unreadable files simply contribute nothing."""
    leaf = place(path)
    res = FileResult(str(path))
    try:
        doc = load(path.read_bytes())
    except OSError:
        return res
    if doc.data is None:
        return res
    kind = "knowledge" if leaf.branch == "knowledge" else "skill"
    items = units(doc.data, kind)
    res.units = [(u.path, doc.where(u.path)[0], u.kind) for u in items]
    if items:
        res.signatures = signatures(items).tobytes()
    return res


def _read(cache: Path) -> tuple[dict[str, Any], Any]:
    import numpy as np

    try:
        with np.load(cache) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("format") == FORMAT:
                return meta["files"], z["sigs"]
    except (OSError, ValueError, KeyError):
        pass  # a missing or damaged index is rebuilt
    return {}, np.zeros((0, HASHES), dtype=np.uint32)


def _write(cache: Path, files: dict[str, Any], sigs: Any) -> None:
    import numpy as np

    cache.parent.mkdir(parents=True, exist_ok=True)
    meta = np.frombuffer(json.dumps({"format": FORMAT, "files": files}).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, meta=meta, sigs=sigs)
        os.replace(tmp, cache)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def other_leaves(
    root: Path, taxonomy: Path, exclude: set[str], opts: Options, cwd: Path
) -> list[FileResult]:
    import numpy as np

    cache = (opts.cache_dir or root / ".bot" / "cache") / NAME
    old, old_sigs = _read(cache)
    files: dict[str, Any] = {}
    rows: list[Any] = []
    results: list[FileResult] = []
    stale: list[tuple[str, Path, os.stat_result]] = []
    n = 0
    for path in walk(taxonomy):
        if path.name != LEAF_NAME:
            continue
        rel = str(path.relative_to(root))
        st = path.stat()
        entry = old.get(rel)
        if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
            start, stop, unit_list = entry[2], entry[3], entry[4]
            block = old_sigs[start:stop]
            res = FileResult(
                str(display(path, cwd)), units=[(tuple(u[0]), u[1], u[2]) for u in unit_list]
            )
            res.signatures = np.ascontiguousarray(block).tobytes()
        else:
            stale.append((rel, path, st))
            continue
        files[rel] = [st.st_size, st.st_mtime_ns, n, n + len(block), unit_list]
        rows.append(block)
        n += len(block)
        if res.path not in exclude:
            results.append(res)
    if stale:
        from bot.validate import PARALLEL_FROM

        if len(stale) >= PARALLEL_FROM:
            import multiprocessing as mp

            with mp.get_context("fork").Pool() as pool:
                fresh = pool.map(_fingerprint, [p for _, p, _ in stale], chunksize=64)
        else:
            fresh = [_fingerprint(p) for _, p, _ in stale]
        for (rel, path, st), res in zip(stale, fresh, strict=True):
            block = np.frombuffer(res.signatures, dtype=np.uint32).reshape(-1, HASHES)
            files[rel] = [
                st.st_size,
                st.st_mtime_ns,
                n,
                n + len(block),
                [[list(u[0]), u[1], u[2]] for u in res.units],
            ]
            rows.append(block)
            n += len(block)
            res.path = str(display(path, cwd))
            if res.path not in exclude:
                results.append(res)
    if stale or len(files) != len(old):
        sigs = np.concatenate(rows) if rows else np.zeros((0, HASHES), dtype=np.uint32)
        _write(cache, files, sigs)
    return results
