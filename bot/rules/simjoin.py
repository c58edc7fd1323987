"""The near-duplicate join across leaves: every pair of units from different files whose
shingle sets reach Jaccard NEAR, found without comparing all pairs.

Prefix filtering: with each set's shingles in one fixed global order, two sets at
Jaccard >= NEAR must share one of the first |A| - ceil(NEAR * |A|) + 1 shingles of A
(duplicates.prefix_length). Any order is exact; rarest-first keeps the shared prefixes few.
Frequencies come from every 8th unit, ties fall back to hash order.

Vectorised with numpy over all shingles at once (a 10,000-leaf taxonomy has about
4 million): a per-shingle Python loop cost seconds. Imported only when two or more
files are compared, so the one-leaf pre-commit path does not pay numpy's import.
Every reported similarity is exact (up to 64-bit hash collisions).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from bot.rules.duplicates import NEAR, NEAR_DEN, NEAR_NUM, Entry, jaccard

Ints = npt.NDArray[np.int64]
_SAMPLE_EVERY = 8
_PAIRS_PER_BATCH = 1 << 22  # bounds memory when many units share one shingle
_BITMAP_BITS = 24  # a 2 MiB membership pre-test in front of the binary search


def _frequencies(hashes: Ints, unit: Ints) -> Ints:
    """Per shingle: how many sampled units hold it (0 for most)."""
    uniq, counts = np.unique(hashes[unit % _SAMPLE_EVERY == 0], return_counts=True)
    freq = np.zeros(len(hashes), np.int64)
    if not len(uniq):
        return freq
    mask = (1 << _BITMAP_BITS) - 1
    bitmap = np.zeros(1 << _BITMAP_BITS, bool)
    bitmap[uniq & mask] = True
    maybe = np.flatnonzero(bitmap[hashes & mask])  # the rest are certainly unsampled
    pos = np.minimum(np.searchsorted(uniq, hashes[maybe]), len(uniq) - 1)
    hit = uniq[pos] == hashes[maybe]
    freq[maybe[hit]] = counts[pos[hit]]
    return freq


def _prefixes(hashes: Ints, unit: Ints, lens: Ints) -> Ints:
    """Indexes (into `hashes`) of every unit's prefix under the (frequency, hash) order.

    Each unit's hashes arrive sorted, so where a unit has enough never-sampled shingles
    its prefix is simply the first k of them; only the other units need a sort."""
    freq = _frequencies(hashes, unit)
    need = lens - (NEAR_NUM * lens + NEAR_DEN - 1) // NEAR_DEN + 1  # prefix_length
    rare = freq == 0
    before = np.cumsum(rare) - rare  # rare shingles before this one, over all units
    starts = np.cumsum(lens) - lens
    first = np.concatenate(([0], np.cumsum(rare)))[starts]  # ... before the unit's start
    rare_in_unit = np.bincount(unit, weights=rare, minlength=len(lens)).astype(np.int64)
    take = rare & (before - first[unit] < need[unit])
    short = rare_in_unit < need
    if short.any():  # fill up with the least frequent sampled shingles
        common = np.flatnonzero(~rare & short[unit])
        common = common[np.lexsort((hashes[common], freq[common], unit[common]))]
        u = unit[common]
        grp = np.concatenate(([0], np.cumsum(np.bincount(u, minlength=len(lens)))))
        rank = np.arange(len(common)) - grp[u]
        fill = common[rank < need[u] - rare_in_unit[u]]
        take[fill] = True
    return np.flatnonzero(take)


def _candidate_pairs(keys: Ints, pos: Ints) -> Iterator[tuple[Ints, Ints]]:
    """All (earlier, later) pairs of `pos` values that share a key, in batches.

    `keys` must be sorted, with `pos` ascending within equal keys."""
    if len(keys) < 2:
        return
    start = np.ones(len(keys), bool)
    start[1:] = keys[1:] != keys[:-1]
    gstart = np.flatnonzero(start)[np.cumsum(start) - 1]  # per element: its group's start
    earlier = np.arange(len(keys)) - gstart  # pairs this element closes
    ends = np.cumsum(earlier)
    lo = 0
    while lo < len(keys):
        hi = int(np.searchsorted(ends, ends[lo] - earlier[lo] + _PAIRS_PER_BATCH, "right"))
        hi = max(hi, lo + 1)
        later = np.repeat(np.arange(lo, hi), earlier[lo:hi])
        offset = np.arange(len(later)) - np.repeat(ends[lo:hi] - earlier[lo:hi], earlier[lo:hi])
        offset += ends[lo] - earlier[lo]
        yield pos[gstart[later] + offset], pos[later]
        lo = hi


def _ids(values: Sequence[str]) -> Ints:
    seen: dict[str, int] = {}
    return np.fromiter((seen.setdefault(v, len(seen)) for v in values), np.int64, len(values))


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
    lens = np.fromiter(map(len, sets), np.int64, n)
    if n < 2 or not lens.any():
        return {}
    hashes: Ints = np.frombuffer(b"".join(sets), np.int64)
    unit = np.repeat(np.arange(n), lens)
    picked = _prefixes(hashes, unit, lens)
    order = sorted(range(n), key=lambda i: (entries[i].file, entries[i].line))
    order_of = np.empty(n, np.int64)
    order_of[order] = np.arange(n)
    keys, pos = hashes[picked], order_of[unit[picked]]
    sort = np.lexsort((pos, keys))
    file_id, kind_id = _ids([e.file for e in entries]), _ids([e.kind for e in entries])
    by_order = np.asarray(order, np.int64)
    found = []
    for a, b in _candidate_pairs(keys[sort], pos[sort]):
        ia, ib = by_order[a], by_order[b]
        la, lb = lens[ia], lens[ib]
        # Jaccard >= NEAR needs the same kind and similar sizes: cheap tests first.
        ok = (file_id[ia] != file_id[ib]) & (kind_id[ia] == kind_id[ib])
        ok &= NEAR_DEN * np.minimum(la, lb) >= NEAR_NUM * np.maximum(la, lb)
        found.append(a[ok] * n + b[ok])
    starts = np.cumsum(lens) - lens
    members: dict[int, frozenset[int]] = {}

    def member(i: int) -> frozenset[int]:
        m = members.get(i)
        if m is None:
            m = members[i] = frozenset(hashes[starts[i] : starts[i] + lens[i]].tolist())
        return m

    ranked: list[tuple[int, float, int, int]] = []
    for code in np.unique(np.concatenate(found)).tolist() if found else ():
        first, second = order[code // n], order[code % n]
        sim = jaccard(member(first), member(second))
        if sim < NEAR:
            continue
        target, source = second, first
        if focus is not None and entries[second].file not in focus and entries[first].file in focus:
            target, source = first, second  # report on the leaf being changed
        ranked.append((target, -sim, int(order_of[source]), source))
    best: dict[int, tuple[float, int]] = {}
    for target, neg, _, source in sorted(ranked):
        best.setdefault(target, (-neg, source))
    return best
