from __future__ import annotations

from typing import NamedTuple

from trainer.sdg.holdout import MIN_KEPT, split


class Ex(NamedTuple):
    question: str


def qs(n: int, prefix: str = "q") -> list[Ex]:
    return [Ex(f"{prefix} number {i}?") for i in range(n)]


def test_share_and_minimum() -> None:
    for n in range(1, 40):
        kept, out = split("leaf/a", qs(n))
        assert len(kept) + len(out) == n
        assert len(kept) >= min(n, MIN_KEPT)
        if n > MIN_KEPT:
            assert len(out) == min(max(1, round(n * 0.2)), n - MIN_KEPT)


def test_deterministic_and_order_free() -> None:
    ex = qs(15)
    assert split("leaf/a", ex) == split("leaf/a", ex)
    _, out = split("leaf/a", ex)
    _, out_rev = split("leaf/a", ex[::-1])
    assert sorted(out) == sorted(out_rev)
    assert split("leaf/b", ex)[1] != out  # the leaf path is part of the hash


def test_adding_an_example_moves_at_most_one() -> None:
    ex = qs(20)
    _, before = split("leaf/a", ex)
    _, after = split("leaf/a", [*ex, Ex("a brand new question?")])
    assert len(set(before) - set(after)) <= 1
