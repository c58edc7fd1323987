"""The candidate pairs of the cross-leaf join (simjoin.py), vectorised with numpy over all
shingles at once: a 10,000-leaf taxonomy has about 4 million, and a per-shingle Python
loop over them cost seconds. Same pairs as simjoin's plain-Python index (tested).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from trainer.text.shingles import NEAR_DEN, NEAR_NUM, Entry
from trainer.text.simjoin import SAMPLE_EVERY

Ints = npt.NDArray[np.int64]
_PAIRS_PER_BATCH = 1 << 22  # bounds memory when many units share one shingle
_BITMAP_BITS = 24  # a 2 MiB membership pre-test in front of the binary search


def _frequencies(hashes: Ints, unit: Ints) -> Ints:
    """Per shingle: how many sampled units hold it (0 for most)."""
    uniq, counts = np.unique(hashes[unit % SAMPLE_EVERY == 0], return_counts=True)
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


def candidates(entries: Sequence[Entry], sets: Sequence[array[int]], order: list[int]) -> Ints:
    """Pairs that share a prefix shingle and pass the cheap tests (other file, same kind,
    similar sizes), as codes first * n + second of positions in `order`; sorted, unique."""
    n = len(entries)
    lens = np.fromiter(map(len, sets), np.int64, n)
    hashes: Ints = np.frombuffer(b"".join(sets), np.int64)
    unit = np.repeat(np.arange(n), lens)
    picked = _prefixes(hashes, unit, lens)
    order_of = np.empty(n, np.int64)
    order_of[order] = np.arange(n)
    keys, pos = hashes[picked], order_of[unit[picked]]
    sort = np.lexsort((pos, keys))
    file_id, kind_id = _ids([e.file for e in entries]), _ids([e.kind for e in entries])
    by_order = np.asarray(order, np.int64)
    found = [np.zeros(0, np.int64)]
    for a, b in _candidate_pairs(keys[sort], pos[sort]):
        ia, ib = by_order[a], by_order[b]
        la, lb = lens[ia], lens[ib]
        ok = (file_id[ia] != file_id[ib]) & (kind_id[ia] == kind_id[ib])
        ok &= NEAR_DEN * np.minimum(la, lb) >= NEAR_NUM * np.maximum(la, lb)
        found.append(a[ok] * n + b[ok])
    return np.unique(np.concatenate(found))
