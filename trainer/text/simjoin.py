"""The near-duplicate join across leaves: every pair of units from different files whose
shingle sets reach Jaccard NEAR, found without comparing all pairs.

Prefix filtering: with each set's shingles in one fixed global order, two sets at
Jaccard >= NEAR must share one of the first |A| - ceil(NEAR * |A|) + 1 shingles of A
(duplicates.prefix_length). Any order is exact; rarest first keeps the shared prefixes
few. Frequencies come from every 8th unit (SAMPLE_EVERY); ties fall back to hash order,
which is why every set arrives sorted.

Two ways to find the candidate pairs, with the same result: a plain-Python index for
small inputs (a pre-commit run on a few leaves must not pay numpy's 0.1 s import) and
simjoin_numpy.py for large ones (seconds saved on a 10,000-leaf taxonomy). Every
reported similarity is exact (up to 64-bit hash collisions).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain

from trainer.text.shingles import NEAR, NEAR_DEN, NEAR_NUM, Entry, jaccard, prefix_length

SAMPLE_EVERY = 8
NUMPY_FROM = 100_000  # shingles in all; below this the plain index is as fast


def matches(
    entries: Sequence[Entry], sets: Sequence[array[int]], focus: set[str] | None = None
) -> dict[int, tuple[float, int]]:
    """For each unit that near-duplicates a unit of another file: its best match.

    The unit later in (file, line) order is the one matched (the earlier is the
    original), except that with `focus` a unit in a focused file is preferred, so a
    changed leaf hears about the unchanged leaf it copies from. Best: the highest
    similarity, then the earliest original.
    """
    n = len(entries)
    if n < 2:
        return {}
    order = sorted(range(n), key=lambda i: (entries[i].file, entries[i].line))
    if sum(map(len, sets)) >= NUMPY_FROM:
        from trainer.text import simjoin_numpy

        pairs: Iterable[tuple[int, int]] = (
            divmod(code, n) for code in simjoin_numpy.candidates(entries, sets, order).tolist()
        )
    else:
        pairs = sorted(_candidates(entries, sets, order))
    return _best(entries, sets, order, pairs, focus)


def _candidates(
    entries: Sequence[Entry], sets: Sequence[array[int]], order: list[int]
) -> set[tuple[int, int]]:
    """Pairs (positions in `order`, earlier first) that share a prefix shingle and pass the
    cheap tests: another file, the same kind, sizes that can reach NEAR."""
    freq = dict(Counter(chain.from_iterable(sets[::SAMPLE_EVERY])))
    index: dict[int, list[int]] = {}
    pairs: set[tuple[int, int]] = set()
    for pos, idx in enumerate(order):
        s, e = sets[idx], entries[idx]
        n = len(s)
        # sorted() is stable and s is sorted: ties stay in hash order.
        for h in sorted(s, key=lambda h: freq.get(h, 0))[: prefix_length(n)]:
            posting = index.setdefault(h, [])
            for other in posting:
                o, m = entries[order[other]], len(sets[order[other]])
                near = NEAR_DEN * min(m, n) >= NEAR_NUM * max(m, n)
                if near and o.file != e.file and o.kind == e.kind:
                    pairs.add((other, pos))
            posting.append(pos)
    return pairs


def _best(
    entries: Sequence[Entry],
    sets: Sequence[array[int]],
    order: list[int],
    pairs: Iterable[tuple[int, int]],
    focus: set[str] | None,
) -> dict[int, tuple[float, int]]:
    """The exact similarity of each candidate pair, and each matched unit's best."""
    members: dict[int, frozenset[int]] = {}

    def member(i: int) -> frozenset[int]:
        m = members.get(i)
        if m is None:
            m = members[i] = frozenset(sets[i])
        return m

    ranked: list[tuple[int, float, int, int]] = []
    for a, b in pairs:
        first, second = order[a], order[b]
        sim = jaccard(member(first), member(second))
        if sim < NEAR:
            continue
        if focus is not None and entries[second].file not in focus and entries[first].file in focus:
            ranked.append((first, -sim, b, second))  # report on the leaf being changed
        else:
            ranked.append((second, -sim, a, first))
    best: dict[int, tuple[float, int]] = {}
    for target, neg, _, source in sorted(ranked):
        best.setdefault(target, (-neg, source))
    return best
