"""The accuracy matrix: one cell per (merge, leaf), gains vs the base, forgetting marked."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bot.site.collect import evaluation
from bot.site.matrix import build
from bot.site.model import Evaluation, Merge
from tests.bot.site.synth import report


def merge(
    seq: int,
    gains: dict[str, float],
    previous: dict[str, float],
    trained: set[str],
    verdicts: dict[str, str] | None = None,
) -> Merge:
    doc = report(gains, previous, trained, random.Random(seq))
    for g in doc["leaves"]:
        if verdicts and g["path"] in verdicts:
            g["verdict"] = g["primary"]["verdict"] = verdicts[g["path"]]
    ev = evaluation(doc)
    assert isinstance(ev, Evaluation)
    return Merge(f"{seq:06d}", f"m{seq}", "", tuple(sorted(trained)), ev)


def test_one_cell_per_merge_and_leaf_and_forgetting_marked() -> None:
    a, b = "skills/a", "skills/b"
    m1 = merge(1, {a: 0.30}, {}, {a})
    m2 = merge(2, {a: 0.31, b: 0.20}, {a: 0.30}, {b})
    m3 = merge(3, {a: 0.10, b: 0.22}, {a: 0.31, b: 0.20}, set(), {a: "regressed"})
    older = Merge("000004", "m4", "", (), None, "older format (report format v1): not shown")
    m = build([m1, m2, m3, older], [a, b, "skills/never"])
    assert m.leaves == [a, b, "skills/never"]
    assert [len(row) for row in m.cells] == [4, 4, 4]
    row_a, row_b = m.cells[0], m.cells[1]
    assert row_a[0].own and not row_a[1].own and row_b[1].own
    assert row_a[0].gain == pytest.approx(0.30, abs=1e-3)
    assert not row_a[1].forgot and row_a[2].forgot and row_a[2].verdict == "regressed"
    assert not row_b[2].forgot, "a small drift inside the band is not forgetting"
    assert row_a[3].gain is None and row_a[3].note.startswith("older format")
    assert m.cells[2][0].note == "not evaluated"
    s = m.summary
    assert s["ACC"] == pytest.approx((0.10 + 0.22) / 2, abs=1e-3)
    assert s["BWT"] == pytest.approx(((0.10 - 0.30) + (0.22 - 0.20)) / 2, abs=1e-3)
    assert s["forgetting"] == pytest.approx(((0.31 - 0.10) + (0.20 - 0.22)) / 2, abs=1e-3)


def test_without_a_previous_model_a_drop_beyond_the_band_is_forgetting() -> None:
    a = "skills/a"
    merges = [
        merge(1, {a: 0.4}, {}, {a}),
        merge(2, {a: 0.38}, {}, set()),
        merge(3, {a: 0.2}, {}, set()),
        merge(4, {a: 0.19}, {}, set()),
    ]
    for m in merges:
        assert m.evaluation is not None
        m.evaluation = replace(m.evaluation, compared_with="base")
    assert [c.forgot for c in build(merges, [a]).cells[0]] == [False, False, True, False]
    significant = merge(2, {a: 0.2}, {a: 0.4}, set(), {a: "no significant change"})
    assert not build([merges[0], significant], [a]).cells[0][1].forgot, "the verdict decides"


def test_no_merges_no_summary() -> None:
    m = build([], ["skills/a"])
    assert m.cells == [[]] and m.summary == {}


def test_the_general_set_is_a_row_but_not_a_leaf() -> None:
    from bot.site.overview import _effect

    a = "skills/a"
    m = build([merge(1, {a: 0.30, "general-v1": 0.5}, {}, {a})], [a])
    assert m.leaves == [a, "general-v1"] and m.general == {"general-v1"}
    [general] = m.row("general-v1")
    assert not general.own and general.gain == pytest.approx(0.5, abs=1e-3)
    assert _effect([general], "general").startswith("mean")  # not counted as "1 leaf"
    assert _effect([general], "other").startswith("1 leaf")


def test_a_leaf_no_merge_trained_counts_in_no_summary_metric() -> None:
    a, b = "skills/a", "skills/never"
    m = build(
        [merge(1, {a: 0.30, b: 0.9}, {}, {a}), merge(2, {a: 0.2, b: 0.9}, {a: 0.3}, set())], [a, b]
    )
    assert m.summary["plasticity"] == pytest.approx(0.30, abs=1e-3)
    assert m.summary["ACC"] == pytest.approx(0.20, abs=1e-3)
