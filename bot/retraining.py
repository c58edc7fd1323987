"""One retrain (trainer/train/retrain.py) as `bot train`, `bot run` and `bot release` run
it: live progress bars on stderr, and the checkpoint of each phase chosen by benchmark when
bot.yaml's train.choose_checkpoint is on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # trainer imports torch: loaded only when a retrain runs
    from trainer.train.phases import Chooser
    from trainer.train.retrain import RetrainJob, RetrainResult


def chooser(root: Path, job: RetrainJob) -> Chooser | None:
    """LAB's checkpoint choice by benchmark (trainer/bench/chooser.py), when enabled."""
    if not job.train.choose_checkpoint:
        return None
    from trainer.bench.chooser import make_chooser

    return make_chooser(root, work=job.work)


def retrain_with_progress(root: Path, job: RetrainJob, *, enabled: bool = True) -> RetrainResult:
    """Run `job` with one progress bar per phase (none when not `enabled`). TrainError
    (trainer.train.session) is left to the caller, which says it in its own words."""
    from bot.report.training import TrainingProgress
    from trainer.train.retrain import retrain

    with TrainingProgress(enabled=enabled) as progress:
        return retrain(
            job, on_step=progress.step, on_phase=progress.phase, chooser=chooser(root, job)
        )
