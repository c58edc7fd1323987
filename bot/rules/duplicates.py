"""Rules duplicate-example (within a leaf) and duplicate-across-leaves.

Two seed examples are near-identical when the Jaccard similarity of their word
3-gram sets is at least NEAR. Within a leaf every pair is compared exactly.
Across leaves, MinHash signatures (64 hashes) with LSH banding find candidates
in linear time; the similarity reported there is the MinHash estimate.
"""

from __future__ import annotations

import re
import zlib
from itertools import combinations
from typing import TYPE_CHECKING, Any, NamedTuple

from bot.problems import Problem, error, warning
from bot.rules.schema import dotted
from bot.taxonomy.yamlload import Loaded
from bot.taxonomy.yamlload import Path as YPath

if TYPE_CHECKING:
    import numpy as np

NEAR = 0.8
HASHES, BANDS = 64, 16
_WORD = re.compile(r"\w+")


class Unit(NamedTuple):
    """One thing that must not be duplicated: a skill example, a knowledge Q&A or context.

    A grounded skill example is its question + answer; `context` is compared too,
    so examples that ask different things about one shared context are distinct.
    """

    kind: str
    path: YPath
    text: str
    context: str = ""


def units(data: Any, kind: str) -> list[Unit]:
    out: list[Unit] = []
    examples = data.get("seed_examples") if isinstance(data, dict) else None
    for i, ex in enumerate(examples if isinstance(examples, list) else []):
        if not isinstance(ex, dict):
            continue
        if kind == "skill":
            text = f"{ex.get('question', '')}\n{ex.get('answer', '')}"
            out.append(Unit("skill", ("seed_examples", i), text, str(ex.get("context", ""))))
            continue
        if isinstance(ctx := ex.get("context"), str):
            out.append(Unit("context", ("seed_examples", i, "context"), ctx))
        qas = ex.get("questions_and_answers")
        for j, qa in enumerate(qas if isinstance(qas, list) else []):
            if isinstance(qa, dict):
                text = f"{qa.get('question', '')}\n{qa.get('answer', '')}"
                out.append(Unit("qa", ("seed_examples", i, "questions_and_answers", j), text))
    return out


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(ws: list[str]) -> set[tuple[str, ...]]:
    if len(ws) < 3:
        return {tuple(ws)}
    return set(zip(ws, ws[1:], ws[2:], strict=False))


def jaccard(a: set[Any], b: set[Any]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def within_leaf(doc: Loaded, items: list[Unit]) -> list[Problem]:
    out: list[Problem] = []
    sets = [shingles(words(u.text)) for u in items]
    contexts = [shingles(words(u.context)) if u.context else set() for u in items]
    reported: set[int] = set()
    for i, j in combinations(range(len(items)), 2):
        a, b = items[i], items[j]
        if a.kind != b.kind or j in reported:
            continue
        sim = jaccard(sets[i], sets[j])
        if sim >= NEAR and jaccard(contexts[i], contexts[j]) >= NEAR:
            reported.add(j)
            how = "repeats" if sim == 1.0 else f"is {sim:.0%} similar to"
            out.append(
                error(
                    "duplicate-example",
                    f"{dotted(b.path)} {how} {dotted(a.path)} "
                    f"(line {doc.where(a.path)[0]}); seed examples should each teach "
                    "something different: rewrite or remove one",
                    *doc.where(b.path),
                )
            )
    return out


# --- across leaves ------------------------------------------------------------------------


def signatures(items: list[Unit]) -> np.ndarray:
    """MinHash signatures, shape (len(items), HASHES), uint32; deterministic across processes."""
    import numpy as np

    rng = np.random.default_rng(20240801)
    mul = rng.integers(1, 2**63, HASHES, dtype=np.uint64) | np.uint64(1)
    add = rng.integers(0, 2**63, HASHES, dtype=np.uint64)
    flat: list[int] = []
    bounds: list[int] = []
    for u in items:
        ids = [zlib.crc32(w.encode()) for w in words(u.text)] or [0]
        bounds.append(len(flat))
        if len(ids) < 3:
            acc = 0
            for x in ids:
                acc = (acc * 0x100000001B3 + x) & 0xFFFFFFFFFFFFFFFF
            flat.append(acc)
        else:
            a = np.array(ids, dtype=np.uint64)
            sh = (a[:-2] * np.uint64(0x9E3779B97F4A7C15) + a[1:-1]) * np.uint64(
                0xC2B2AE3D27D4EB4F
            ) + a[2:]
            flat.extend(sh.tolist())
    if not items:
        return np.zeros((0, HASHES), dtype=np.uint32)
    h = np.array(flat, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = (mul[:, None] * h[None, :] + add[:, None]) >> np.uint64(32)
    sig = np.minimum.reduceat(mixed, np.array(bounds), axis=1).T
    return sig.astype(np.uint32)


class Entry(NamedTuple):
    """One unit in the cross-leaf index: which file, where, and its kind."""

    file: str
    path: YPath
    line: int
    kind: str


def across_leaves(
    entries: list[Entry], sigs: np.ndarray, focus: set[str] | None = None
) -> dict[str, list[Problem]]:
    """Warnings per file. With `focus`, only files in it are reported on."""
    import numpy as np

    rows = HASHES // BANDS
    best: dict[int, tuple[float, int]] = {}
    order_key = [(e.file, e.line) for e in entries]
    for b in range(BANDS):
        band = sigs[:, b * rows : (b + 1) * rows].astype(np.uint64)
        key = np.zeros(len(entries), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for c in range(rows):
                key = key * np.uint64(0x100000001B3) + band[:, c]
        order = np.argsort(key, kind="stable")
        ks = key[order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        ends = np.r_[starts[1:], len(ks)]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if e - s < 2:
                continue
            group = sorted(order[s:e].tolist(), key=order_key.__getitem__)
            for pos, idx in enumerate(group[1:], start=1):
                # Compare with a few earlier members; the earliest is the usual original.
                for other in group[: min(pos, 8)]:
                    ea, eb = entries[other], entries[idx]
                    if ea.file == eb.file or ea.kind != eb.kind:
                        continue
                    sim = float(np.mean(sigs[other] == sigs[idx]))
                    if sim < NEAR:
                        continue
                    target, source = idx, other
                    if focus is not None and eb.file not in focus and ea.file in focus:
                        target, source = other, idx  # report on the leaf being changed
                    if sim > best.get(target, (0.0, -1))[0]:
                        best[target] = (sim, source)
    out: dict[str, list[Problem]] = {}
    for idx, (sim, other) in sorted(best.items()):
        e, o = entries[idx], entries[other]
        if focus is not None and e.file not in focus:
            continue
        how = "is identical to" if sim == 1.0 else f"is about {sim:.0%} similar to"
        out.setdefault(e.file, []).append(
            warning(
                "duplicate-across-leaves",
                f"{dotted(e.path)} {how} {dotted(o.path)} in {o.file} "
                f"(line {o.line}); the same example in two leaves is trained twice: keep it in "
                "the leaf where it belongs",
                e.line,
                1,
            )
        )
    return out
