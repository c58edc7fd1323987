"""Train: the one retrain path. Every caller (`bot train`, `bot run`, `bot release`, the
retrain workflow) comes through `retrain`, which decides

- the start model: the one named, else the last retrain of the same base model (continual
  learning), else the base model itself;
- the data: the exported training files, mixed into phase datasets with a replay sample of
  earlier leaves (trainer/train/retrain.py: the buffer says which leaves are new);
- the phases and each phase's checkpoint (by benchmark when train.choose_checkpoint is on);
- the state it records: `<work>/run/state.json` (key, model, base, run folder), so a retrain
  whose data, settings and base are unchanged is skipped, and an interrupted one resumes
  in the same run folder `<work>/runs/<key>`.

Runs under `accelerate launch` too: every process decides the same way; only the main one
writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import interrupts
from bot.stages.errors import StageFailed, UsageError
from bot.stages.progress import Progress
from bot.workspace import Workspace

if TYPE_CHECKING:
    from trainer.data.config import MixConfig
    from trainer.evaluation.items import Item
    from trainer.train.config import TrainConfig
    from trainer.train.phases import Chooser


@dataclass(frozen=True)
class RetrainRequest:
    base_model: str = "embedded"  # the lineage: where a first retrain starts
    start: str | None = None  # continue from this model (default: see the module doc)
    new_leaves: tuple[str, ...] | None = None  # None: what the replay buffer has not absorbed
    phases: tuple[str, ...] | None = None  # None: every phase the mix has data for
    out: Path | None = None  # the run folder (default <work>/runs/<key>)
    update_replay: bool = True  # absorb the trained leaves into the buffer afterwards
    record: bool = True  # remember this retrain as the workspace's latest
    train: TrainConfig | None = None  # default: bot.yaml's train section
    mix: MixConfig | None = None  # default: bot.yaml's mix section


@dataclass(frozen=True)
class RetrainResult:
    model: Path  # the trained model: the last phase's chosen checkpoint
    key: str  # of the data, settings and base model
    out: Path  # the run folder
    start: str  # the model training started from
    skipped: bool = False  # nothing changed since the recorded retrain: its model is reused
    summary: dict[str, Any] = field(default_factory=dict)  # the run's train_summary.json
    replay_version: str | None = None

    @property
    def tokens(self) -> int:
        return sum(int(p["tokens"]) for p in self.summary.get("phases", []))

    @property
    def new_leaves(self) -> list[str]:
        return list(self.summary.get("new_leaves", []))

    def exposure(self) -> list[tuple[str, str, dict[str, int]]]:
        """(phase, leaf, what it got) of every new leaf in each phase that trained it: rows,
        rows trained counting repeats, steps, steps past the warm-up (trainer/train/plan.py)."""
        return [
            (p["name"], leaf, p.get("leaves", {})[leaf])
            for p in self.summary.get("phases", [])
            for leaf in self.new_leaves
            if leaf in p.get("leaves", {})
        ]


def _digest_data(data: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(data.rglob("*.jsonl")):
        h.update(str(f.relative_to(data)).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def read_state(ws: Workspace) -> dict[str, Any]:
    """The last recorded retrain, or {} when there is none (or it is unreadable)."""
    try:
        found: dict[str, Any] = json.loads(ws.layout.state.read_text())
        return found
    except (OSError, ValueError):
        return {}


def _key(ws: Workspace, req: RetrainRequest, train: TrainConfig, mix: MixConfig) -> str:
    from trainer.models.loader import model_fingerprint

    what = (repr(train), repr(mix), repr(ws.config.replay), req.base_model, req.start)
    settings = json.dumps([*what, req.phases, req.new_leaves, req.update_replay])
    body = _digest_data(ws.layout.data) + settings + model_fingerprint(req.base_model)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _start(req: RetrainRequest, state: dict[str, Any]) -> str:
    if req.start:
        return req.start
    previous = state.get("model") if state.get("base") == req.base_model else None
    return str(previous) if previous and Path(previous).is_dir() else req.base_model


def retrain(ws: Workspace, req: RetrainRequest, progress: Progress | None = None) -> RetrainResult:
    """Raises UsageError for a model that cannot be found, StageFailed when training fails."""
    from trainer.models.base import ModelError
    from trainer.models.loader import local_model_dir
    from trainer.train.phases import SUMMARY

    progress = progress or Progress()
    ws.layout.prepare()
    train = req.train or ws.config.train
    mix = req.mix or ws.config.mix
    try:
        key = _key(ws, req, train, mix)
    except (ModelError, ValueError) as exc:
        raise UsageError(f"--base-model {req.base_model}: {exc}") from None
    state = read_state(ws)
    out = req.out or ws.layout.runs / key
    if req.record and state.get("key") == key and (out / SUMMARY).is_file():
        summary = json.loads((out / SUMMARY).read_text())
        return RetrainResult(
            Path(state["model"]), key, out, str(summary.get("base")), True, summary
        )
    start = _start(req, state)
    try:
        start_dir = local_model_dir(start)
    except (ModelError, ValueError) as exc:
        raise UsageError(f"model {start}: {exc}") from None
    done = _train(ws, req, start, start_dir, out, train, mix, progress)
    summary = json.loads((out / SUMMARY).read_text())
    result = RetrainResult(done.final, key, out, start, False, summary, done.replay_version)
    if req.record:
        _record(ws, result, req.base_model)
    return result


def _train(
    ws: Workspace,
    req: RetrainRequest,
    start: str,
    start_dir: Path,
    out: Path,
    train: TrainConfig,
    mix: MixConfig,
    progress: Progress,
) -> Any:
    from trainer.train.retrain import RetrainJob
    from trainer.train.retrain import retrain as run_retrain
    from trainer.train.session import TrainError

    job = RetrainJob(
        base=start_dir,
        base_spec=start,
        buffer=ws.layout.replay,
        data=ws.layout.data,
        out=out,
        phases=req.phases,
        train=train,
        mix=mix,
        replay=ws.config.replay,
        resume=out.exists(),
        update_replay=req.update_replay,
        new_leaves=req.new_leaves,
    )
    progress.begin("train")
    try:
        return run_retrain(
            job,
            on_step=_stoppable(progress.train_step),
            on_phase=progress.train_phase,
            chooser=chooser(ws) if train.choose_checkpoint else None,
        )
    except TrainError as exc:
        raise StageFailed("train", str(exc)) from None
    finally:
        progress.end("train")


def _stoppable(on_step: Callable[[Any], None]) -> Callable[[Any], None]:
    """`on_step` that first stops the phase at this step's end if a signal came whose
    exception was lost (bot.interrupts): the step is logged, the checkpoint before it kept."""

    def step(event: Any) -> None:
        interrupts.check()
        on_step(event)

    return step


def _record(ws: Workspace, result: RetrainResult, base_model: str) -> None:
    from trainer.train.session import write_on_main

    doc = {"key": result.key, "model": str(result.model), "base": base_model}
    write_on_main(ws.layout.state, json.dumps(doc | {"run": str(result.out)}, indent=2) + "\n")


def chooser(ws: Workspace) -> Chooser:
    """LAB's checkpoint choice by benchmark (trainer/evaluation/chooser.py), never on the
    items a benchmark reports: the validation split of the generated data
    (`<work>/validation/`) and the knowledge leaves' validation facts. The knowledge phase
    is judged on the knowledge leaves' rows and facts; the skills phase on the skill
    leaves' rows, with the knowledge ones as its regression suite (so forgetting loses)."""
    from bot.stages.generate import validation_facts
    from trainer.evaluation.cache import ScoreCache
    from trainer.evaluation.chooser import PHASE_SUITES, make_chooser, validation_items

    rows = _validation_rows(ws)
    facts = validation_facts(ws)

    def items_for(phase: str) -> list[Item]:
        if phase not in PHASE_SUITES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASE_SUITES)}")
        knowledge = {k: v for k, v in rows.items() if k.startswith("knowledge/")}
        skills = {k: v for k, v in rows.items() if k not in knowledge}
        if phase == "knowledge":
            return validation_items(knowledge, "branch") + facts
        regression = [replace(f, suite="regression") for f in facts]
        return (
            validation_items(skills, "branch")
            + validation_items(knowledge, "regression")
            + regression
        )

    return make_chooser(items_for, cache=ScoreCache(ws.layout.scores))


def _validation_rows(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    from trainer.data.rows import parse_jsonl

    folder = ws.layout.validation
    files = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
    return {
        str(f.relative_to(folder))[: -len(".jsonl")]: parse_jsonl(f.read_bytes(), f) for f in files
    }
