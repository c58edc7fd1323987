"""From raw scores to metrics, deltas, verdicts and failing thresholds; the judge's parser;
the checkpoint chooser's pure part."""

from __future__ import annotations

import math
from dataclasses import replace
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
    assert item_metrics(QA, s) == {"nll": 2.0, "mc_acc": 1.0, "rouge_l": 1.0, "exact": 1.0}
    # document options compare raw sums: -3 beats -4 even though the first is shorter
    assert item_metrics(DOC, ItemScores(None, 0, (-3.0, -4.0))) == {"doc_mc_acc": 1.0}
    assert item_metrics(DOC, ItemScores(None, 0, (-5.0, -4.0))) == {"doc_mc_acc": 0.0}
    assert item_metrics(QA, ItemScores(-1.0, 1)) == {"nll": 1.0}  # nothing else scored
    twin = replace(QA, placebo="no it is not")
    assert item_metrics(twin, ItemScores(-1.0, 1, placebo_logprob=-8.0, placebo_tokens=4)) == {
        "nll": 1.0,
        "placebo_nll": 2.0,
    }


def items(n: int, suite: str = "regression", group: str = "general-v1") -> list[Item]:
    return [Item(suite, group, "qa", f"q{i}", f"q{i}", "a", source=f"s{i}") for i in range(n)]


def scores(found: list[Item], shift: float) -> dict[str, ItemScores]:
    return {i.id: ItemScores(-1.0 * (k + 1) - shift, 1) for k, i in enumerate(found)}


def test_the_primary_metric_decides_and_fails_past_the_limit() -> None:
    found = items(8)
    groups = [Group("regression", "general-v1", "general")]
    collected = collect(found, scores(found, 0.0), scores(found, 0.1))
    result = compare(groups, collected, StatSettings())
    [suite] = result.suites
    assert suite.primary is not None and suite.primary.test.delta == pytest.approx(0.1)
    assert suite.verdict == "regressed" and suite.primary.test.method == "sign-flip exact"
    assert [(f.suite, f.metric) for f in result.failures] == [("regression", "nll")]
    lenient = StatSettings(max_regression={"nll": 0.2})
    assert compare(groups, collected, lenient).failures == []
    never = StatSettings(max_regression={"nll": math.inf})
    assert compare(groups, collected, never).failures == []
    better = compare(groups, collect(found, scores(found, 0.1), scores(found, 0.0)), StatSettings())
    assert better.suites[0].verdict == "improved" and better.failures == []
    assert better.groups[0].name == "general-v1" and better.groups[0].kind == "general"


def test_a_change_inside_the_noise_band_is_no_change() -> None:
    found = items(8)
    collected = collect(found, scores(found, 0.0), scores(found, 0.1))
    groups = [Group("regression", "general-v1", "general")]
    banded = StatSettings(noise={"suite:nll": (-0.15, 0.15), "leaf:nll": (-0.15, 0.15)})
    result = compare(groups, collected, banded)
    assert result.suites[0].verdict == "no significant change" and result.failures == []
    assert "noise band" in (result.suites[0].primary.reason if result.suites[0].primary else "")
    assert result.groups[0].verdict == "no significant change"


def test_a_change_counts_only_when_its_whole_interval_clears_the_band() -> None:
    found = items(12)
    spread = [0.05, 0.35] * 6  # mean +0.2, every item worse: significant, interval ~[+0.1, +0.3]
    base = scores(found, 0.0)
    worse = {
        i.id: ItemScores((base[i.id].answer_logprob or 0.0) - d, 1)
        for i, d in zip(found, spread, strict=True)
    }
    collected = collect(found, base, worse)
    groups = [Group("regression", "general-v1", "general")]
    [suite] = compare(groups, collected, StatSettings()).suites
    assert suite.primary is not None and suite.verdict == "regressed"
    assert suite.primary.test.ci is not None
    low, high = suite.primary.test.ci
    assert 0.0 < low < 0.15 < suite.primary.test.delta < high
    reaches = StatSettings(noise={"suite:nll": (-0.15, 0.15)})  # past the band, not all of it
    [held] = compare(groups, collected, reaches).suites
    assert held.verdict == "no significant change"
    assert held.primary is not None and "reaches into the noise band" in held.primary.reason
    clears = StatSettings(noise={"suite:nll": (-low / 2, low / 2)})
    assert compare(groups, collected, clears).suites[0].verdict == "regressed"


def test_too_few_items_say_so_and_descriptive_metrics_never_decide() -> None:
    few = items(3, "branch", "leaf/a")
    collected = collect(few, scores(few, 0.0), scores(few, 1.0))
    result = compare([Group("branch", "leaf/a", "skill")], collected, StatSettings())
    [group] = result.groups
    assert group.verdict == "too few items" and "3" in (
        group.primary.reason if group.primary else ""
    )
    mc = [replace(QA, question=f"Q{i}?", prompt=f"Q{i}?", mc_prompt=f"Q{i}?") for i in range(9)]
    right = {i.id: ItemScores(-1.0, 1, (-9.0, -1.0)) for i in mc}
    wrong = {i.id: ItemScores(-1.0, 1, (-1.0, -9.0)) for i in mc}
    result = compare(
        [Group("branch", "leaf/a", "skill")], collect(mc, right, wrong), StatSettings()
    )
    [group] = result.groups
    [acc] = [t for t in group.descriptive if t.metric == "mc_acc"]
    assert acc.delta == -1.0 and group.verdict == "no significant change"  # nll unchanged


def test_placebo_difference_in_differences() -> None:
    twins = [
        Item("branch", "knowledge/a", "qa", f"q{i}", f"q{i}", "a", origin="fact",
             source=f"s{i}", placebo="b")
        for i in range(12)
    ]  # fmt: skip
    before = {i.id: ItemScores(-2.0, 1, placebo_logprob=-2.0, placebo_tokens=1) for i in twins}
    # form only: both answers become likelier alike
    form = {i.id: ItemScores(-1.0, 1, placebo_logprob=-1.0, placebo_tokens=1) for i in twins}
    facts = {
        i.id: ItemScores(-1.0, 1, placebo_logprob=-2.0 + 0.01 * k, placebo_tokens=1)
        for k, i in enumerate(twins)
    }
    group = [Group("branch", "knowledge/a", "knowledge")]
    same = compare(group, collect(twins, before, form), StatSettings()).groups[0]
    assert same.verdict == "improved" and same.placebo is not None
    assert same.placebo.test.delta == pytest.approx(0.0)
    assert same.placebo.verdict == "no significant change"
    learnt = compare(group, collect(twins, before, facts), StatSettings()).groups[0]
    assert learnt.placebo is not None and learnt.placebo.verdict == "improved"
    assert learnt.placebo.test.delta < -0.9


def test_previous_model_is_the_reference_and_the_base_is_reported_beside_it() -> None:
    found = items(8, "branch", "leaf/a")
    base, previous, candidate = scores(found, 0.5), scores(found, 0.0), scores(found, 0.1)
    collected = collect(found, previous, candidate, base)
    [group] = compare([Group("branch", "leaf/a", "skill")], collected, StatSettings()).groups
    assert group.primary is not None and group.primary.test.delta == pytest.approx(0.1)
    assert group.verdict == "regressed"  # vs the model it replaces
    assert group.vs_base is not None and group.vs_base.delta == pytest.approx(-0.4)


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
