"""`run_pipeline(leaf, teacher, config)`: one leaf's seed examples -> training rows (LAB).

Rounds of generate -> filter run until `config.samples` generated samples are kept or
`config.max_rounds` rounds are spent; a small teacher filters most of its own output, so
each round over-generates and the result says honestly how many were kept. Knowledge leaves
then get their document-derived rows (augment.py), closed-book, on top. Rows are chat
`messages` with metadata; the leaf's kept seed examples come first (never held-out ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainer.data.rowschema import stable_row
from trainer.leaves import LeafData
from trainer.models import ChatModel
from trainer.sdg.augment import document_rows
from trainer.sdg.chunking import chunk_documents
from trainer.sdg.config import PipelineConfig, ProgressEvent, Stats
from trainer.sdg.filters import LeafDeduper
from trainer.sdg.knowledge import knowledge_round
from trainer.sdg.prompts import prompts_hash
from trainer.sdg.skills import skill_round
from trainer.sdg.stage import Rejected, Sample, StageRunner

# Bump when code changes what the pipeline produces; prompt edits are covered by the hash.
CODE_VERSION = "3"  # 2: knowledge filters by probability; 3: document rows (augment.py)
PIPELINE_VERSION = f"lab-sdg.{CODE_VERSION}+prompts.{prompts_hash()[:12]}"

__all__ = [
    "PIPELINE_VERSION",
    "PipelineConfig",
    "PipelineResult",
    "ProgressEvent",
    "Stats",
    "run_pipeline",
    "user_message",
]


@dataclass(frozen=True)
class PipelineResult:
    rows: list[dict[str, Any]]  # seed rows first, then generated ones
    stats: Stats
    rejected: list[Rejected]  # a few examples per (stage, reason), for reports


def user_message(question: str, context: str | None) -> str:
    """The user turn of a row: grounded skills and knowledge carry their context first."""
    return question if context is None else f"Context:\n{context}\n\nQuestion:\n{question}"


def _row(
    leaf: LeafData,
    teacher: ChatModel,
    source: str,
    question: str,
    answer: str,
    context: str | None,
    scores: dict[str, int],
    chunk: dict[str, Any] | None,
) -> dict[str, Any]:
    """A row in the one schema of training files (trainer/data/rowschema.py): scores not
    given are 0, and a row not from a document chunk has the empty chunk."""
    return stable_row(
        {
            "messages": [
                {"role": "user", "content": user_message(question, context)},
                {"role": "assistant", "content": answer},
            ],
            "metadata": {
                "leaf": leaf.path,
                "leaf_hash": leaf.content_hash,
                "teacher": teacher.fingerprint,
                "pipeline": PIPELINE_VERSION,
                "kind": leaf.kind,
                "source": source,
                "scores": scores,
                "chunk": chunk,
            },
        }
    )


def _rank(sample: Sample) -> int:
    return -(sample.scores.get("pair", 0) + sample.scores.get("faithful", 0))


def run_pipeline(
    leaf: LeafData,
    teacher: ChatModel,
    config: PipelineConfig | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
) -> PipelineResult:
    config = config or PipelineConfig()
    run = StageRunner(leaf, teacher, config, progress)
    dedupe = LeafDeduper(leaf)
    chunks = []
    if leaf.kind == "knowledge":
        chunks = chunk_documents(
            teacher.tokenizer, leaf.documents, config.chunk_tokens, config.chunk_overlap
        )
    kept: list[Sample] = []
    for rnd in range(config.max_rounds):
        need = config.samples - len(kept)
        if need <= 0 or (leaf.kind == "knowledge" and not chunks) or not leaf.seeds:
            break
        run.stats.rounds += 1
        if leaf.kind == "knowledge":
            new = knowledge_round(run, rnd, need, chunks, dedupe)
        else:
            new = skill_round(run, rnd, need, dedupe)
        new.sort(key=_rank)  # stable: best-scored first, generation order among equals
        for extra in new[need:]:
            run.reject("select", "beyond_samples", extra.question, bucket="surplus")
        kept += new[:need]
        run.kept = len(kept)
    documents = document_rows(run, chunks, dedupe)
    run.stats.document_rows = len(documents)
    kept += documents
    run.stats.kept = len(kept)
    run.stats.generated += len(kept)
    rows = [
        _row(leaf, teacher, "seed", s.question, s.answer, s.context, {}, None) for s in leaf.seeds
    ]
    rows += [generated_row(leaf, teacher, s) for s in kept]
    return PipelineResult(rows, run.stats, run.rejected)


def generated_row(leaf: LeafData, teacher: ChatModel, s: Sample) -> dict[str, Any]:
    """A kept sample's row: a closed-book one without its chunk's text, still naming it."""
    return _row(
        leaf,
        teacher,
        "generated",
        s.question,
        s.answer,
        None if s.closed_book else s.context,
        s.scores,
        {"document": s.chunk.document, "index": s.chunk.index} if s.chunk else None,
    )
