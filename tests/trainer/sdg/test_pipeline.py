"""The pipeline end to end with the tiny trained teacher (seconds, CPU)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.trainer.sdg.conftest import Recording, freeform_leaf, grounded_leaf, knowledge_leaf
from trainer.leaves import Document
from trainer.models import ChatModel
from trainer.sdg.config import MaxTokens, Thresholds
from trainer.sdg.filters import NearIndex
from trainer.sdg.pipeline import (
    PIPELINE_VERSION,
    PipelineConfig,
    ProgressEvent,
    run_pipeline,
    user_message,
)
from trainer.sdg.stage import derive_seed

LEAVES = {"freeform": freeform_leaf, "grounded": grounded_leaf, "knowledge": knowledge_leaf}
CONFIG = PipelineConfig(samples=4, max_rounds=2, chunk_tokens=200)
STAGES = {
    "contexts",
    "instructions",
    "judge_instruction",
    "responses",
    "judge_pair",
    "qa",
    "grounding",
    *(
        f"{judge}{end}"
        for judge in ("question", "faithfulness", "relevance")
        for end in ("", "_calibration")
    ),
}


def user_text(row: dict[str, Any]) -> str:
    return str(row["messages"][0]["content"])


@pytest.mark.parametrize("kind", LEAVES)
def test_rows_and_stats(teacher: ChatModel, kind: str) -> None:
    leaf = LEAVES[kind]()
    recording = Recording(teacher)
    result = run_pipeline(leaf, recording, CONFIG)  # type: ignore[arg-type]
    rows, stats = result.rows, result.stats
    seeds = [r for r in rows if r["metadata"]["source"] == "seed"]
    generated = [r for r in rows if r["metadata"]["source"] == "generated"]
    assert rows == seeds + generated
    assert [user_text(r) for r in seeds] == [
        user_message(s.question, s.context) for s in leaf.seeds
    ]
    for row in rows:
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert all(m["content"].strip() for m in row["messages"])
        meta = row["metadata"]
        assert set(meta) == {
            "leaf",
            "leaf_hash",
            "teacher",
            "pipeline",
            "kind",
            "source",
            "scores",
            "chunk",
            "distilled_from",
            "distill_model",
        }
        assert (meta["leaf"], meta["leaf_hash"], meta["kind"]) == (
            leaf.path,
            leaf.content_hash,
            leaf.kind,
        )
        assert meta["teacher"] == teacher.fingerprint
        assert meta["pipeline"] == PIPELINE_VERSION
    # held-out examples never reach the rows, not even as a near copy (grounded skills:
    # the same question over a new context is a new example)
    heldout = NearIndex()
    for h in leaf.heldout:
        heldout.add(user_message(h.question, h.context if kind == "grounded" else None))
    for row in rows:
        question = user_text(row)
        if kind != "grounded":
            question = question.rpartition("Question:\n")[2]
        assert not heldout.find(question)
    # every candidate ends in exactly one bucket; bounded rounds; honest counts
    assert stats.generated == stats.funnel_total()
    assert stats.kept == len(generated) <= CONFIG.samples
    assert 1 <= stats.rounds <= CONFIG.max_rounds
    # a judge read by probability scores four words ("Yes", "yes", "No", "no") per prompt
    assert stats.model_calls == len(recording.sent) + len(recording.scored) // 4 > 0
    assert stats.prompt_tokens > 0 and stats.completion_tokens > 0
    assert stats.batches <= len(STAGES) * CONFIG.max_rounds
    assert all(name.split("/")[0] in STAGES | {"select"} for name in stats.reasons)
    # every prompt fits the budget
    for conversation in [*recording.sent, *(c for c, _ in recording.scored)]:
        tokens = teacher.tokenizer.encode(conversation[0]["content"])
        assert len(tokens) <= CONFIG.max_prompt_tokens
    for row in generated:
        meta = row["metadata"]
        if leaf.kind == "knowledge":
            assert meta["scores"]["faithful"] == 1
            assert meta["scores"]["instruction"] == meta["scores"]["pair"] == 0
            assert meta["chunk"]["document"] == "documents/test.md"
            assert meta["chunk"]["index"] >= 0
            assert user_text(row).startswith("Context:\n")
        else:
            assert meta["scores"]["instruction"] > 0 and meta["scores"]["faithful"] == 0
            assert meta["scores"]["pair"] >= CONFIG.thresholds.pair
            assert meta["chunk"] == {"document": "", "index": -1}  # one type in every row
            assert user_text(row).startswith("Context:\n") == (leaf.kind == "grounded_skill")


def test_something_is_kept(teacher: ChatModel) -> None:
    """The tiny teacher passes a few candidates, so the path to kept rows is exercised."""
    kept = [run_pipeline(make(), teacher, CONFIG).stats.kept for make in LEAVES.values()]
    assert sum(kept) > 0


def test_same_seed_same_rows_other_seed_other_rows(teacher: ChatModel) -> None:
    leaf = freeform_leaf()
    a = run_pipeline(leaf, teacher, CONFIG)
    b = run_pipeline(leaf, teacher, CONFIG)
    assert (a.rows, a.stats, a.rejected) == (b.rows, b.stats, b.rejected)
    c = run_pipeline(leaf, teacher, replace(CONFIG, seed=1))
    assert (a.rows, a.rejected) != (c.rows, c.rejected)


def test_progress_events(teacher: ChatModel) -> None:
    events: list[ProgressEvent] = []
    result = run_pipeline(grounded_leaf(), teacher, replace(CONFIG, max_rounds=1), events.append)
    assert events and len(events) % 2 == 0
    for start, end in zip(events[::2], events[1::2], strict=True):
        assert (start.stage, start.round) == (end.stage, end.round)
        assert start.done == 0 and end.done == end.total == start.total > 0
        assert start.stage in STAGES and start.target == CONFIG.samples
    assert events[0].stage == "contexts"
    assert events[-1].prompt_tokens == result.stats.prompt_tokens
    tokens = [e.prompt_tokens + e.completion_tokens for e in events]
    assert tokens == sorted(tokens)


def test_rounds_stop_at_max_rounds_when_nothing_passes(teacher: ChatModel) -> None:
    # one new token per list: every reply is cut off, so no instruction survives parsing
    starved = replace(CONFIG, max_rounds=3, max_new_tokens=MaxTokens(instructions=1))
    result = run_pipeline(freeform_leaf(), teacher, starved)
    assert result.stats.rounds == 3 and result.stats.kept == 0
    assert result.stats.parse_failed == result.stats.generated > 0
    assert result.stats.batches == 3  # nothing left to judge after the instructions stage
    assert [r["metadata"]["source"] for r in result.rows] == ["seed"] * 5


def test_nothing_to_generate(teacher: ChatModel) -> None:
    none = run_pipeline(freeform_leaf(), teacher, replace(CONFIG, samples=0))
    assert none.stats.model_calls == 0 and len(none.rows) == 5
    empty_docs = replace(knowledge_leaf(), documents=[Document("documents/empty.md", "\n")])
    assert run_pipeline(empty_docs, teacher, CONFIG).stats.model_calls == 0


def test_user_message_layout() -> None:
    assert user_message("What is up?", None) == "What is up?"
    assert (
        user_message("Summarize.", "Some text.") == "Context:\nSome text.\n\nQuestion:\nSummarize."
    )


def test_config_validation_and_key() -> None:
    assert PipelineConfig().key() == PipelineConfig().key()
    assert PipelineConfig(seed=1).key() != PipelineConfig().key()
    assert PipelineConfig(max_new_tokens=MaxTokens(judge=8)).key() != PipelineConfig().key()
    for bad in (
        {"max_rounds": 0},
        {"samples": -1},
        {"icl_examples": 0},
        {"overgenerate": 0.5},
        {"chunk_tokens": 1000},
        {"chunk_overlap": 300},
        {"thresholds": Thresholds(pair=4)},
        {"thresholds": Thresholds(instruction=2)},
    ):
        with pytest.raises(ValueError):
            PipelineConfig(**bad)  # type: ignore[arg-type]


def test_derived_seeds_are_stable_and_distinct() -> None:
    assert derive_seed(0, "leaf", "qa", 0, 1) == derive_seed(0, "leaf", "qa", 0, 1)
    assert (
        len(
            {
                derive_seed(s, "leaf", st, r, i)
                for s in (0, 1)
                for st in ("qa", "x")
                for r in (0, 1)
                for i in range(5)
            }
        )
        == 40
    )


def test_leafdata_is_untouched(teacher: ChatModel) -> None:
    leaf = knowledge_leaf()
    before = replace(leaf)
    run_pipeline(leaf, teacher, replace(CONFIG, max_rounds=1))
    assert leaf == before
