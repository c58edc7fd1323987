from __future__ import annotations

import random
from array import array
from itertools import combinations

import pytest

import trainer.text.simjoin as simjoin
import trainer.text.simjoin_numpy as simjoin_numpy
from trainer.text.shingles import NEAR, Entry, jaccard
from trainer.text.simjoin import matches


def brute_force(
    entries: list[Entry], sets: list[array[int]], focus: set[str] | None = None
) -> dict[int, tuple[float, int]]:
    """Every pair compared: the definition the join must reproduce exactly."""
    order = sorted(range(len(entries)), key=lambda i: (entries[i].file, entries[i].line))
    ranked = []
    for x, y in combinations(range(len(order)), 2):
        first, second = order[x], order[y]
        a, b = entries[first], entries[second]
        if a.file == b.file or a.kind != b.kind or not (sets[first] and sets[second]):
            continue
        sim = jaccard(set(sets[first]), set(sets[second]))
        if sim < NEAR:
            continue
        target, source = second, first
        if focus is not None and b.file not in focus and a.file in focus:
            target, source = first, second
        ranked.append((target, -sim, order.index(source), source))
    best: dict[int, tuple[float, int]] = {}
    for target, neg, _, source in sorted(ranked):
        best.setdefault(target, (-neg, source))
    return best


def corpus(seed: int, units: int = 300) -> tuple[list[Entry], list[array[int]]]:
    """Random sets over a small, skewed vocabulary (common shingles exist), with planted
    near and exact copies, ties, empty sets and several kinds."""
    rng = random.Random(seed)
    vocab = [rng.getrandbits(63) - (1 << 62) for _ in range(400)]
    entries: list[Entry] = []
    sets: list[array[int]] = []
    for i in range(units):
        file = f"f{rng.randrange(units // 4)}"
        kind = rng.choice(("skill", "qa"))
        entries.append(Entry(file, ("seed_examples", i), rng.randrange(1, 200), kind))
        if sets and rng.random() < 0.3:  # a copy of an earlier unit, slightly changed
            base = set(rng.choice(sets))
            for _ in range(rng.randrange(3)):
                base.discard(rng.choice(sorted(base)) if base else 0)
                base.add(rng.choice(vocab))
            s = base
        elif rng.random() < 0.03:
            s = set()
        else:
            size = rng.randrange(1, 40)
            s = {vocab[min(int(rng.expovariate(0.02)), 399)] for _ in range(size)}
        sets.append(array("q", sorted(s)))
    return entries, sets


@pytest.fixture(params=["python", "numpy"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with both candidate finders: the plain index and the numpy one."""
    monkeypatch.setattr(simjoin, "NUMPY_FROM", 0 if request.param == "numpy" else 10**12)
    return str(request.param)


@pytest.mark.parametrize("seed", range(8))
def test_the_join_finds_exactly_what_comparing_every_pair_finds(seed: int, way: str) -> None:
    entries, sets = corpus(seed)
    assert matches(entries, sets) == brute_force(entries, sets)
    focus = {e.file for e in entries[::7]}
    assert matches(entries, sets, focus) == brute_force(entries, sets, focus)


def test_small_batches_find_the_same_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    entries, sets = corpus(11)
    want = brute_force(entries, sets)
    monkeypatch.setattr(simjoin, "NUMPY_FROM", 0)
    monkeypatch.setattr(simjoin_numpy, "_PAIRS_PER_BATCH", 3)
    assert matches(entries, sets) == want and want


def test_ties_go_to_the_earliest_original(way: str) -> None:
    same = array("q", range(10))
    entries = [Entry(f, ("seed_examples", 0), 1, "skill") for f in ("c", "a", "b")]
    assert matches(entries, [same, same, same]) == {0: (1.0, 1), 2: (1.0, 1)}


def test_nothing_to_compare(way: str) -> None:
    one = [Entry("a", (), 1, "skill")]
    assert matches([], []) == {} and matches(one, [array("q", [1, 2])]) == {}
    assert matches(one * 2, [array("q"), array("q")]) == {}


def test_a_pair_at_exactly_near_is_found(way: str) -> None:
    """28 of 35 shingles: Jaccard exactly NEAR, the edge of both the size and prefix bounds."""
    whole = array("q", range(35))
    part = array("q", range(28))
    entries = [Entry("a", (), 1, "skill"), Entry("b", (), 1, "skill")]
    assert jaccard(set(whole), set(part)) == NEAR
    assert matches(entries, [whole, part]) == {1: (NEAR, 0)}
    assert matches(entries, [part, whole]) == {1: (NEAR, 0)}
