"""LAB's schedule, with the warm-up capped at a tenth of the phase."""

from __future__ import annotations

import pytest

from trainer.train.schedule import lr_factor, warmup_steps


@pytest.mark.parametrize(("asked", "total", "used"), [(5, 7, 0), (5, 30, 3), (5, 200, 5)])
def test_the_warm_up_takes_at_most_a_tenth_of_the_steps(asked: int, total: int, used: int) -> None:
    assert warmup_steps(asked, total) == used


def test_a_short_phase_trains_at_the_full_rate_from_its_first_step() -> None:
    # issue 16: 7 steps under a 5-step warm-up trained at 17-83% of the rate throughout
    factor = lr_factor("constant", warmup_steps(5, 7), 7)
    assert [factor(s) for s in range(7)] == [1.0] * 7
    long = lr_factor("constant", warmup_steps(5, 100), 100)
    assert [round(long(s), 3) for s in range(6)] == [0.167, 0.333, 0.5, 0.667, 0.833, 1.0]
