"""From raw scores to metrics, deltas, verdicts and failing thresholds; the judge's parser;
the checkpoint chooser's pure part."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from trainer.evaluation.chooser import CheckpointScore, choose, objective
from trainer.evaluation.compare import StatSettings, collect, compare, item_metrics
from trainer.evaluation.items import Item
from trainer.evaluation.judge import parse_rating
from trainer.evaluation.run import ItemScores
from trainer.evaluation.suites import Group

QA = Item("branch", "leaf/a", "qa", "Q?", "Q?", "yes it is", "Q?", ("no", "yes it is"), 1)
DOC = Item("branch", "leaf/a", "doc_mc", "A _____ b", "P", "A x b", "P", ("A x b", "A yy b"), 0)


def test_item_metrics_by_hand() -> None:
    s = ItemScores(-6.0, 3, (-2.0, -5.0), "Yes, it is.")
    # nll 6/3; options: "no" -1.0/byte, "yes it is" -5/9 per byte -> option 1 (right)
    assert item_metrics(QA, s) == {"nll": 2.0, "mc_acc": 1.0, "rouge_l": 1.0}
    # document options compare raw sums: -3 beats -4 even though the first is shorter
    assert item_metrics(DOC, ItemScores(None, 0, (-3.0, -4.0))) == {"doc_mc_acc": 1.0}
    assert item_metrics(DOC, ItemScores(None, 0, (-5.0, -4.0))) == {"doc_mc_acc": 0.0}
    assert item_metrics(QA, ItemScores(-1.0, 1)) == {"nll": 1.0}  # nothing else scored


def test_deltas_verdicts_and_the_failing_threshold() -> None:
    items = [Item("regression", "general-v1", "qa", f"q{i}", f"q{i}", "a", None) for i in range(5)]
    base = {i.id: ItemScores(-1.0 * (k + 1), 1) for k, i in enumerate(items)}
    worse = {i.id: ItemScores(-1.0 * (k + 1) - 0.1, 1) for k, i in enumerate(items)}
    groups = [Group("regression", "general-v1", "general")]
    collected = collect(items, base, worse)
    result = compare(groups, collected, StatSettings(), {"regression": 5})
    [suite] = result.suites
    [nll] = suite.deltas
    assert nll.delta == pytest.approx(0.1) and nll.verdict == "regressed"
    assert nll.ci == pytest.approx((0.1, 0.1))
    assert [(f.suite, f.metric) for f in result.failures] == [("regression", "nll")]
    lenient = StatSettings(max_regression={"nll": 0.2})
    assert compare(groups, collected, lenient, {"regression": 5}).failures == []
    never = StatSettings(max_regression={"nll": math.inf})
    assert compare(groups, collected, never, {"regression": 5}).failures == []
    better = compare(groups, collect(items, worse, base), StatSettings(), {"regression": 5})
    assert better.suites[0].verdict == "improved" and better.failures == []
    assert better.groups[0].name == "general-v1" and better.groups[0].kind == "general"


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("Good answer. Rating: [[8]]", 8),
        ("[[10]]", 10),
        ("Rating: [[ 3 ]] because", 3),
        ("Rating: 8", None),
        ("[[0]]", None),
        ("[[11]]", None),
        ("[[7.5]]", None),
        ("[[4]] or [[5]]", None),
        ("", None),
    ],
)
def test_strict_judge_parsing(reply: str, value: int | None) -> None:
    assert parse_rating(reply) == value


def test_chooser_objective_and_choice() -> None:
    a = CheckpointScore(Path("a"), "fa", {"branch": {"nll": 1.0}, "regression": {"nll": 3.0}}, 0)
    b = CheckpointScore(Path("b"), "fb", {"branch": {"nll": 1.5}, "regression": {"nll": 2.0}}, 0)
    assert objective("knowledge", a.suites) == 1.0
    assert objective("skills", a.suites) == 2.0 and objective("skills", b.suites) == 1.75
    table = [
        CheckpointScore(c.path, c.fingerprint, c.suites, objective(phase, c.suites))
        for phase in ("knowledge",)
        for c in (a, b)
    ]
    assert choose("knowledge", table).best == Path("a")
    skills = [CheckpointScore(c.path, "", c.suites, objective("skills", c.suites)) for c in (a, b)]
    choice = choose("skills", skills)
    assert choice.best == Path("b") and choice.table == skills
    # ties: the higher accuracy, then the earlier checkpoint
    t1 = CheckpointScore(Path("t1"), "", {"branch": {"nll": 1.0, "mc_acc": 0.5}}, 1.0)
    t2 = CheckpointScore(Path("t2"), "", {"branch": {"nll": 1.0, "mc_acc": 0.75}}, 1.0)
    t3 = CheckpointScore(Path("t3"), "", {"branch": {"nll": 1.0, "mc_acc": 0.75}}, 1.0)
    assert choose("knowledge", [t1, t2, t3]).best == Path("t2")
    with pytest.raises(ValueError, match="unknown phase"):
        choose("warmup", [t1])
    with pytest.raises(ValueError, match="no checkpoints"):
        choose("skills", [])
    assert objective("skills", {}) == math.inf
