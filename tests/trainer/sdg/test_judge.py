"""Judges read by probability: P(yes), the per-leaf pass mark, keep-top-k, and both modes
over hand-made candidates with the tiny teacher (its own Q&A output rarely parses, so the
pipeline alone would seldom reach the judges)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from tests.trainer.sdg.conftest import knowledge_leaf
from trainer.models import ChatModel
from trainer.sdg.config import JudgeConfig, PipelineConfig
from trainer.sdg.judge import decide, p_yes, threshold
from trainer.sdg.knowledge import check_grounded, check_judges
from trainer.sdg.stage import Sample, StageRunner

CONFIG = PipelineConfig(samples=4, max_rounds=2, chunk_tokens=200)


def test_p_yes_sums_both_casings_against_both_casings() -> None:
    half = math.log(0.5)
    assert p_yes([half, half, half, half]) == pytest.approx(0.5)
    # "Yes" 0.6 + "yes" 0.2 against "No" 0.1 + "no" 0.1
    assert p_yes([math.log(0.6), math.log(0.2), math.log(0.1), math.log(0.1)]) == pytest.approx(0.8)
    assert p_yes([-1e6, -1e6, 0.0, 0.0]) == pytest.approx(0.0)  # no overflow at the extremes
    assert p_yes([0.0, 0.0, -1e6, -1e6]) == pytest.approx(1.0)


def test_the_pass_mark_is_a_quantile_of_the_seeds_never_below_the_floor() -> None:
    cfg = JudgeConfig(floor=0.2, calibration=0.25)
    assert threshold([0.9, 0.5, 0.7, 0.3, 0.1], cfg) == pytest.approx(0.3)  # sorted: .1 .3 .5 ...
    assert threshold([0.9, 0.8], replace(cfg, calibration=0.5)) == pytest.approx(0.85)
    assert threshold([0.05, 0.1], cfg) == 0.2  # seeds the teacher doubts: the floor holds
    assert threshold([], cfg) == 0.5  # nothing to calibrate on: even odds


def test_keep_top_passes_the_best_above_the_floor_only() -> None:
    cfg = JudgeConfig(floor=0.2, keep_top=2)
    got = decide([0.25, 0.4, 0.1, 0.3], 0.5, cfg)
    assert got.passed == [False, True, False, True]  # none reached 0.5: the best two >= 0.2
    assert decide([0.6, 0.4, 0.7], 0.5, cfg).passed == [True, False, True]  # enough passed
    assert decide([0.1, 0.15], 0.5, cfg).passed == [False, False]  # under the floor: never
    assert decide([0.3, 0.3, 0.3], 0.5, cfg).passed == [True, True, False]  # earlier first


def test_bad_judge_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="within"):
        JudgeConfig(floor=1.5)
    with pytest.raises(ValueError, match="keep_top"):
        JudgeConfig(keep_top=-1)


def candidates() -> list[Sample]:
    """Questions of the leaf's seeds, answered with their chunk's last sentence, then the
    same questions with an answer the chunk never says."""
    leaf = knowledge_leaf()
    told = [
        Sample(x.question, (x.context or "").rsplit(". ", 1)[-1], context=x.context)
        for x in leaf.seeds
    ]
    made_up = [
        Sample(x.question, "Nobody knows; it was never finished.", context=x.context)
        for x in leaf.seeds
    ]
    return told + made_up


def test_logprob_judges_calibrate_once_per_leaf(teacher: ChatModel) -> None:
    run = StageRunner(knowledge_leaf(), teacher, CONFIG)
    given = candidates()
    kept = check_judges(run, 0, given)
    stats = run.stats
    assert "question" in stats.judge_marks
    assert all(0.2 <= m <= 1 for m in stats.judge_marks.values())
    dropped = stats.unverified_question + stats.unfaithful + stats.irrelevant
    assert dropped + len(kept) == len(given) and stats.judge_parse_failed == 0
    if "relevance" in stats.judge_marks:  # some reached the last judge
        assert all(c.scores == {"faithful": 1} for c in kept)
    marks, batches = dict(stats.judge_marks), stats.batches
    check_judges(run, 1, candidates())  # a second round: no calibration again
    assert stats.judge_marks == marks
    assert stats.batches - batches <= len(marks)  # one scoring call per judge, no more
    assert sum(k.endswith("_calibration") for k in stats.reasons) == 0


def test_keep_top_passes_a_round_the_calibration_would_empty(teacher: ChatModel) -> None:
    strict = replace(CONFIG, judges=JudgeConfig(floor=0.0, calibration=1.0, keep_top=2))
    run = StageRunner(knowledge_leaf(), teacher, strict)
    assert len(check_judges(run, 0, candidates())) >= 1  # a pass mark at the best seed's


def test_greedy_judges_read_the_reply_and_set_no_mark(teacher: ChatModel) -> None:
    run = StageRunner(knowledge_leaf(), teacher, replace(CONFIG, judges=JudgeConfig(mode="greedy")))
    given = candidates()
    kept = check_judges(run, 0, given)
    stats = run.stats
    assert stats.judge_marks == {}
    dropped = stats.unverified_question + stats.unfaithful + stats.irrelevant
    assert dropped + stats.judge_parse_failed + len(kept) == len(given)


def test_grounding_drops_answers_the_chunk_does_not_hold(teacher: ChatModel) -> None:
    run = StageRunner(knowledge_leaf(), teacher, CONFIG)
    given = candidates()
    kept = check_grounded(run, given)
    assert kept == given[: len(given) // 2]  # the chunk's own sentences pass
    assert run.stats.ungrounded == len(given) // 2
