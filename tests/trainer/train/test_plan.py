"""The data order of a phase: epochs raised to a minimum of steps, short answers first,
and what each leaf gets from the plan."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from trainer.train.config import TrainConfig
from trainer.train.plan import leaf_exposure, make_plan

UNPACKED = TrainConfig(batch_size=4, packing=False)  # one example per row: 4 a step


def seen(plan_steps: object) -> Counter[int]:
    return Counter(i for step in plan_steps for i in step.examples)  # type: ignore[attr-defined]


def test_without_a_minimum_the_plan_is_one_pass_per_epoch() -> None:
    plan = make_plan([10] * 8, replace(UNPACKED, epochs=2), "d")
    assert (len(plan.steps), plan.epochs) == (4, 2)
    assert seen(plan.steps) == Counter({i: 2 for i in range(8)})


def test_too_few_steps_raise_the_epochs_up_to_the_cap() -> None:
    # 8 rows make 2 steps: a minimum of 7 asks for 4 passes, every row seen in each
    plan = make_plan([10] * 8, replace(UNPACKED, min_steps=7), "d")
    assert (len(plan.steps), plan.epochs) == (8, 4)
    assert seen(plan.steps) == Counter({i: 4 for i in range(8)})
    assert [s.epoch for s in plan.steps] == [0, 0, 1, 1, 2, 2, 3, 3]
    capped = make_plan([10] * 8, replace(UNPACKED, min_steps=7, max_epochs=3), "d")
    assert (len(capped.steps), capped.epochs) == (6, 3)
    # enough steps already: the configured epochs stand
    assert make_plan([10] * 40, replace(UNPACKED, min_steps=7), "d").epochs == 1


def test_short_examples_train_first_every_epoch_of_them() -> None:
    short = [i % 3 == 0 for i in range(12)]
    plan = make_plan([10] * 12, replace(UNPACKED, epochs=2), "d", short)
    order = [i for step in plan.steps for i in step.examples]
    first_long = next(n for n, i in enumerate(order) if not short[i])
    assert all(short[i] for i in order[:first_long]) and first_long == 2 * 4
    assert not any(short[i] for i in order[first_long:])
    assert seen(plan.steps) == Counter({i: 2 for i in range(12)})
    # each part's epochs have labels of their own, so each ends in a checkpoint
    assert [s.epoch for s in plan.steps] == [0, 1, 2, 2, 3, 3]
    assert plan.digest != make_plan([10] * 12, replace(UNPACKED, epochs=2), "d").digest


def test_leaf_exposure_counts_rows_passes_and_full_rate_steps() -> None:
    leaves = ["new"] * 4 + ["old"] * 36
    cfg = replace(UNPACKED, warmup_steps=5, epochs=2)
    plan = make_plan([10] * 40, cfg, "d")
    found = leaf_exposure(plan, leaves, cfg)
    assert found["new"]["rows"] == 4 and found["old"]["rows"] == 36
    assert found["new"]["seen"] == 8 and found["old"]["seen"] == 72
    steps_with_new = {n for n, s in enumerate(plan.steps) if any(i < 4 for i in s.examples)}
    assert found["new"]["steps"] == len(steps_with_new)
    # 20 steps: the warm-up is capped at 2 of them (a tenth), whatever was asked
    assert found["new"]["full_rate_steps"] == len({n for n in steps_with_new if n >= 2})


@pytest.mark.parametrize("bad", [{"min_steps": -1}, {"short_tokens": -1}, {"max_epochs": 0}])
def test_bad_plan_settings_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="train"):
        TrainConfig(**bad)  # type: ignore[arg-type]


def test_configured_epochs_above_the_cap_stand() -> None:
    # max_epochs caps what min_steps adds, never the epochs a profile asks for
    plan = make_plan([10] * 8, replace(UNPACKED, epochs=12, max_epochs=8, min_steps=100), "d")
    assert plan.epochs == 12 and len(plan.steps) == 24
