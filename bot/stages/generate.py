"""Generate: incremental LAB synthetic data for the selected leaves, exported as one
training file per leaf.

    result = generate(ws, GenerateRequest(changed=True), progress)
    result.jobs[0].status, result.data

A leaf whose content, teacher and settings are unchanged is read back from the store at no
model cost (trainer/sdg/generate.py); the export always covers the whole taxonomy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.stages.errors import UsageError
from bot.stages.progress import Progress
from bot.stages.select import select
from bot.workspace import Workspace

if TYPE_CHECKING:
    from collections.abc import Iterator

    from trainer.evaluation.heldout import HeldOut
    from trainer.evaluation.items import Item
    from trainer.sdg.generate import LeafInput, LeafJob
    from trainer.sdg.pipeline import PipelineConfig
    from trainer.sdg.store import Store


@dataclass(frozen=True)
class GenerateRequest:
    paths: tuple[Path, ...] = ()  # leaf files or folders; empty: every leaf
    changed: bool = False  # only leaves changed vs base_ref
    base_ref: str | None = None
    teacher: str | None = None  # model spec (default: bot.yaml generate.teacher)
    samples: int | None = None  # generated samples kept per leaf (default: bot.yaml)
    seed: int | None = None
    dry_run: bool = False  # plan only: what would be generated, and why


@dataclass(frozen=True)
class GenerateResult:
    jobs: list[LeafJob] = field(default_factory=list)
    data: Path = Path()  # the exported training files
    dry_run: bool = False
    item_jobs: list[LeafJob] = field(default_factory=list)  # evaluation items (skills)

    @property
    def model_calls(self) -> int:
        return sum(j.model_calls for j in [*self.jobs, *self.item_jobs])

    @property
    def tokens(self) -> int:
        return sum(j.tokens for j in [*self.jobs, *self.item_jobs])

    @property
    def failed(self) -> list[LeafJob]:
        return [j for j in self.jobs if j.status == "failed"]


def pipeline_config(ws: Workspace, req: GenerateRequest) -> PipelineConfig:
    from trainer.sdg.config import JudgeConfig
    from trainer.sdg.pipeline import PipelineConfig

    cfg = ws.config.generate
    if req.samples is not None and req.samples < 0:
        raise UsageError("--samples must be >= 0")
    judges = JudgeConfig(
        mode=cfg.judge,
        floor=cfg.judge_floor,
        calibration=cfg.judge_calibration,
        keep_top=cfg.judge_keep_top,
        grounding=cfg.grounding,
    )
    return PipelineConfig(
        samples=cfg.samples if req.samples is None else req.samples,
        seed=cfg.seed if req.seed is None else req.seed,
        temperature=cfg.temperature,
        max_rounds=cfg.max_rounds,
        overgenerate=cfg.overgenerate,
        judges=judges,
        fact_questions=cfg.fact_questions,
        questions_per_fact=cfg.questions_per_fact,
        rephrasings=cfg.rephrasings,
    )


def _records(ws: Workspace, files: list[Path]) -> list[LeafInput]:
    """Each leaf's record, or the validator's account of why it cannot be read."""
    from bot.taxonomy.find import place
    from bot.taxonomy.leaves import LeafError, read_leaf, taxonomy_path

    out: list[LeafInput] = []
    for f in files:
        try:
            out.append((taxonomy_path(place(f)), read_leaf(f, ws.root, ws.layout.cache)))
        except LeafError as exc:
            out.append((taxonomy_path(place(f)), str(exc)))
    return out


def generate(
    ws: Workspace, req: GenerateRequest, progress: Progress | None = None
) -> GenerateResult:
    """Plan, then (unless dry_run) generate what is missing and export the training files.
    Raises UsageError for a bad selection or an unusable teacher spec."""
    progress = progress or Progress()
    ws.layout.prepare()
    config = pipeline_config(ws, req)
    files = select(ws, req.paths, req.changed, req.base_ref).files
    from trainer.models.base import ModelError
    from trainer.sdg import generate as gen
    from trainer.sdg.store import Store
    from trainer.sdg.teacher import Teacher

    store = Store(ws.layout.store)
    items = Store(ws.layout.evaluation / "store")
    teacher = Teacher(req.teacher or ws.config.generate.teacher)
    records = _records(ws, files)
    n = ws.config.evaluate.teacher_items
    try:
        jobs = gen.plan(records, store, teacher, config)
        item_jobs = gen.plan(_item_views(records), items, teacher, replace(config, samples=n))
    except (ModelError, ValueError) as exc:
        raise UsageError(f"teacher {teacher.spec}: {exc}") from None
    item_jobs = item_jobs if n > 0 else []
    if req.dry_run:
        return GenerateResult(jobs, ws.layout.data, True, item_jobs)
    progress.begin("generate")
    progress.generation_planned(sum(j.status == "pending" for j in [*jobs, *item_jobs]))
    try:
        gen.run(jobs, store, teacher, config, progress.generation)
        gen.run(item_jobs, items, teacher, replace(config, samples=n), progress.generation)
    finally:
        teacher.close()
        progress.end("generate")
    _export(ws, store, items, jobs)
    return GenerateResult(jobs, ws.layout.data, False, item_jobs)


def _item_views(records: list[LeafInput]) -> list[LeafInput]:
    """The skill leaves as the teacher sees them to write evaluation items."""
    from trainer.sdg.evalitems import heldout_view

    out: list[LeafInput] = []
    for path, record in records:
        view = heldout_view(record) if not isinstance(record, str) else None
        if view is not None:
            out.append((path, view))
    return out


def heldout_ngrams(ws: Workspace) -> set[tuple[str, ...]]:
    """The word 8-grams of every leaf's held-out evaluation items and validation facts: no
    generated row may teach them (built from the leaves alone, no model)."""
    from trainer.evaluation.heldout import items_ngrams

    grams: set[tuple[str, ...]] = set()
    for found in _held_out(ws):
        grams |= items_ngrams([*found.items, *found.validation])
    return grams


def validation_facts(ws: Workspace) -> list[Item]:
    """Every knowledge leaf's validation facts (suite "branch"): the checkpoint chooser's
    items, never in a report."""
    return [item for found in _held_out(ws) for item in found.validation]


def _held_out(ws: Workspace) -> Iterator[HeldOut]:
    from bot.taxonomy.leaves import Leaves
    from trainer.evaluation.heldout import held_out

    evaluate = ws.config.evaluate
    leaves = Leaves(ws.leaf_files(), ws.root, ws.layout.cache)
    for path in leaves.paths:
        leaf = leaves.read(path)
        if not isinstance(leaf, str):
            yield held_out(
                leaf,
                "branch",
                lambda: iter(()),
                facts=evaluate.facts,
                validation=evaluate.validation_facts,
            )


def _export(ws: Workspace, store: Store, items: Store, jobs: list[LeafJob]) -> None:
    """Every current leaf's rows to `<work>/data/` (cross-leaf duplicates and rows that
    would teach an evaluation item removed, a validation split apart), then the teacher's
    evaluation items, filtered against those rows."""
    from bot.taxonomy.find import place
    from bot.taxonomy.leaves import taxonomy_path
    from trainer.sdg.evalitems import export_items
    from trainer.sdg.export import ExportPolicy, export

    current = [taxonomy_path(place(p)) for p in ws.leaf_files()]
    policy = ExportPolicy(
        frozenset(heldout_ngrams(ws)),
        ws.layout.validation,
        closed_book=ws.config.generate.closed_book,
    )
    exported = export(store, current, ws.layout.data, policy)
    export_items(items, current, ws.layout.data, ws.layout.evaluation / "items")
    for job in jobs:
        if job.leaf and job.leaf.path in exported:
            job.output = str(exported[job.leaf.path].path)
