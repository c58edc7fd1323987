"""Rules duplicate-example (within a leaf) and duplicate-across-leaves.

Two seed examples are near-identical when the Jaccard similarity of their word
3-gram sets is at least NEAR. Shingles are hashed to 64-bit integers
(deterministic across processes and runs, so they can be cached). Within a leaf
every pair is compared. Across leaves, prefix filtering finds every pair at or
above NEAR without comparing all pairs: with shingles ordered rarest first, two
sets that similar must share one of the first |A| - ceil(NEAR * |A|) + 1
shingles of A. Every reported similarity is exact (up to 64-bit hash collisions).
"""

from __future__ import annotations

import math
import re
import zlib
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import chain, combinations
from typing import Any, NamedTuple

from bot.problems import Problem, error, warning
from bot.rules.schema import dotted
from bot.taxonomy.yamlload import Loaded
from bot.taxonomy.yamlload import Path as YPath

NEAR = 0.8
# Compared across leaves: examples and Q&A. Knowledge contexts are long passages whose
# near-copies within a leaf are caught by duplicate-example; across leaves they would
# cost as much as everything else together.
CROSS_LEAF_KINDS = frozenset({"skill", "qa"})
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


_word_ids: dict[str, int | None] = {}


def shingle_hashes(text: str) -> array[int]:
    """Sorted, unique 64-bit hashes of the word 3-grams of `text` (the words if fewer).

    Deterministic across processes and runs (so they can be cached): words go through
    crc32, and hashing tuples of ints is not salted per process as str hashing is."""
    ws = words(text)
    ids = list(map(_word_ids.get, ws))
    if None in ids:
        for k, w in enumerate(ws):
            if ids[k] is None:
                ids[k] = _word_ids.setdefault(w, zlib.crc32(w.encode()))
    if len(ids) < 3:
        return array("q", [hash(tuple(ids))])
    return array("q", sorted(set(map(hash, zip(ids, ids[1:], ids[2:], strict=False)))))


def jaccard(a: set[Any] | frozenset[Any], b: set[Any] | frozenset[Any]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def within_leaf(
    doc: Loaded,
    items: list[Unit],
    hashed: Sequence[array[int]] | None = None,
    legacy: bool = False,
) -> list[Problem]:
    """legacy: a version 1 leaf, whose format allowed repeats: warn rather than fail, so
    InstructLab taxonomies keep validating unchanged."""
    out: list[Problem] = []
    report = warning if legacy else error
    sets = [set(h) for h in (hashed or [shingle_hashes(u.text) for u in items])]
    contexts: dict[int, set[int]] = {}  # computed only when the question + answer match

    def context(i: int) -> set[int]:
        if i not in contexts:
            contexts[i] = set(shingle_hashes(items[i].context)) if items[i].context else set()
        return contexts[i]

    reported: set[int] = set()
    for i, j in combinations(range(len(items)), 2):
        a, b = items[i], items[j]
        if a.kind != b.kind or j in reported:
            continue
        sim = jaccard(sets[i], sets[j])
        if sim >= NEAR and jaccard(context(i), context(j)) >= NEAR:
            reported.add(j)
            how = "repeats" if sim == 1.0 else f"is {sim:.0%} similar to"
            out.append(
                report(
                    "duplicate-example",
                    f"{dotted(b.path)} {how} {dotted(a.path)} "
                    f"(line {doc.where(a.path)[0]}); seed examples should each teach "
                    "something different: rewrite or remove one",
                    *doc.where(b.path),
                )
            )
    return out


# --- across leaves ------------------------------------------------------------------------


class Entry(NamedTuple):
    """One unit in the cross-leaf comparison: which file (group), where, its kind."""

    file: str
    path: YPath
    line: int
    kind: str


def prefix_length(n: int) -> int:
    """How many of a set's rarest shingles another set at Jaccard >= NEAR must hit."""
    return n - math.ceil(NEAR * n) + 1


def matches(
    entries: Sequence[Entry], sets: Sequence[array[int]], focus: set[str] | None = None
) -> dict[int, tuple[float, int]]:
    """For each unit that near-duplicates a unit of another file: its best match.

    The unit later in (file, line) order is the one matched (the earlier is the
    original), except that with `focus` a unit in a focused file is preferred, so a
    changed leaf hears about the unchanged leaf it copies from.
    """
    # Prefix filtering is exact under ANY fixed order of shingles; rarest-first only makes
    # it fast. Frequencies from every 8th unit rank the common shingles last well enough,
    # at an eighth of the counting cost. Ties fall back to hash order (sets are sorted).
    freq = Counter(chain.from_iterable(sets[::8]))
    index: defaultdict[int, list[int]] = defaultdict(list)
    members: dict[int, frozenset[int]] = {}

    def member(i: int) -> frozenset[int]:
        m = members.get(i)
        if m is None:
            m = members[i] = frozenset(sets[i])
        return m

    best: dict[int, tuple[float, int]] = {}
    order = sorted(range(len(entries)), key=lambda i: (entries[i].file, entries[i].line))
    for idx in order:
        s = sets[idx]
        if not s:
            continue
        n = len(s)
        prefix = sorted(s, key=freq.__getitem__)[: prefix_length(n)]
        seen: set[int] = set()
        e = entries[idx]
        for h in prefix:
            for other in index[h]:
                if other in seen:
                    continue
                seen.add(other)
                o = entries[other]
                m = len(sets[other])
                # Jaccard >= NEAR needs similar sizes: a cheap test before the set work.
                if o.file == e.file or o.kind != e.kind or not NEAR * n <= m <= n / NEAR:
                    continue
                sim = jaccard(member(idx), member(other))
                if sim < NEAR:
                    continue
                target, source = idx, other
                if focus is not None and e.file not in focus and o.file in focus:
                    target, source = other, idx  # report on the leaf being changed
                if sim > best.get(target, (0.0, -1))[0]:
                    best[target] = (sim, source)
            index[h].append(idx)
    return best


def across_leaves(
    entries: Sequence[Entry], sets: Sequence[array[int]], focus: set[str] | None = None
) -> dict[str, list[Problem]]:
    """Warnings per file. With `focus`, only files in it are reported on."""
    best = matches(entries, sets, focus)
    return warnings_for(entries, best, focus)


def warnings_for(
    entries: Sequence[Entry], best: dict[int, tuple[float, int]], focus: set[str] | None
) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for idx, (sim, other) in sorted(best.items()):
        e, o = entries[idx], entries[other]
        if focus is not None and e.file not in focus:
            continue
        how = "is identical to" if sim == 1.0 else f"is {sim:.0%} similar to"
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
