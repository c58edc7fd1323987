"""Near-duplicate text: word 3-gram shingles hashed to 64-bit integers, Jaccard
similarity, and the NEAR threshold the validator and the generator's filters share.

Hashes are deterministic across processes and runs, so they can be cached. Plain Python:
no torch, no numpy (the one-leaf pre-commit path imports this).
"""

from __future__ import annotations

import re
import zlib
from array import array
from typing import Any, NamedTuple

# NEAR = 4/5. Size and prefix bounds use the integers, so they stay exact whatever the
# threshold (a float product can land just past an integer: 0.07 * 100 = 7.000000000000001).
NEAR_NUM, NEAR_DEN = 4, 5
NEAR = NEAR_NUM / NEAR_DEN
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


# ASCII text (nearly all of it) splits into the same words as _WORD by mapping every
# byte that is not [A-Za-z0-9_] to a space: a C-speed table lookup, about twice as fast.
_SPACE_OUT = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or c == 95) else 32 for c in range(256)
)


def _word_bytes(text: str) -> list[bytes]:
    if text.isascii():
        return text.encode().lower().translate(_SPACE_OUT).split()
    return [w.encode() for w in words(text)]


def shingles(text: str) -> set[int]:
    """The 64-bit hashes of the word 3-grams of `text` (of the words, if fewer).

    Deterministic across processes and runs (so they can be cached): words go through
    crc32, and hashing tuples of ints is not salted per process as str hashing is."""
    ids = list(map(zlib.crc32, _word_bytes(text)))
    if len(ids) < 3:
        return {hash(tuple(ids))}
    return set(map(hash, zip(ids, ids[1:], ids[2:], strict=False)))


def shingle_hashes(text: str) -> array[int]:
    """`shingles` as a sorted array: compact to store, and in the order the join needs."""
    return array("q", sorted(shingles(text)))


def jaccard(a: set[Any] | frozenset[Any], b: set[Any] | frozenset[Any]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class Entry(NamedTuple):
    """One unit in the cross-leaf comparison: which file (group), where, its kind."""

    file: str
    path: tuple[str | int, ...]  # where in the file (a YAML path, or a row index)
    line: int
    kind: str


def prefix_length(n: int) -> int:
    """How many of a set's rarest shingles another set at Jaccard >= NEAR must hit."""
    return n - (NEAR_NUM * n + NEAR_DEN - 1) // NEAR_DEN + 1
