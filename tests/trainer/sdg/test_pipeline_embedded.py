"""The embedded 135M teacher through one leaf of each kind of the starter taxonomy.

Checks the structure of rows and stats, not their quality: a model this small filters
most of what it writes. Run with `-s` to see the stats and a few kept rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.taxonomy.leaves import read_leaf
from tests.trainer.sdg.conftest import Recording
from trainer.models import ChatModel, load_model
from trainer.sdg.config import MaxTokens, PipelineConfig
from trainer.sdg.pipeline import PIPELINE_VERSION, run_pipeline, user_message

ROOT = Path(__file__).resolve().parents[3]
LEAVES = [
    "compositional_skills/linguistics/antonyms",
    "compositional_skills/grounded/summarization/one_sentence_summary",
    "knowledge/fiction/places/harbor_town_of_veloria",
]
# Tiny counts and short budgets keep all three leaves to a few minutes on 2 CPU cores.
CONFIG = PipelineConfig(
    samples=2,
    max_rounds=1,
    overgenerate=2.0,
    max_new_tokens=MaxTokens(
        instructions=160, context=200, response=160, qa=256, judge=8, faithfulness=6
    ),
)
PROMPT_LIMIT = 1500  # the embedded model's practical context for instructions


@pytest.fixture(scope="module")
def embedded() -> Iterator[ChatModel]:
    model = load_model("embedded", device="cpu")
    yield model
    model.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", LEAVES)
def test_embedded_teacher_end_to_end(embedded: ChatModel, path: str) -> None:
    leaf = read_leaf(ROOT / "taxonomy" / path / "qna.yaml", ROOT, ROOT / ".bot" / "cache")
    recording = Recording(embedded)
    started = time.monotonic()
    result = run_pipeline(leaf, recording, CONFIG)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    stats = result.stats
    generated = [r for r in result.rows if r["metadata"]["source"] == "generated"]
    print(f"\n{path}: {elapsed:.0f} s\n{json.dumps(stats.to_dict())}")
    for row in generated:
        print("kept:", json.dumps(row["messages"], ensure_ascii=False))
        print("  ", row["metadata"]["scores"], row["metadata"]["chunk"])
    for rejected in result.rejected:
        print(f"dropped at {rejected.stage} ({rejected.reason}): {rejected.text[:160]!r}")

    assert len(result.rows) == len(leaf.seeds) + len(generated)
    assert [r["messages"][0]["content"] for r in result.rows[: len(leaf.seeds)]] == [
        user_message(s.question, s.context) for s in leaf.seeds
    ]
    assert all(r["metadata"]["pipeline"] == PIPELINE_VERSION for r in result.rows)
    assert stats.rounds == 1 and stats.kept == len(generated) <= CONFIG.samples
    assert stats.generated == stats.funnel_total()
    scored = len(recording.scored) // 4  # a judge read by probability: 4 words per prompt
    assert stats.batches >= 2 and stats.model_calls == len(recording.sent) + scored
    if leaf.kind == "grounded_skill":
        assert stats.contexts_generated > 0
        assert stats.generated > 0 or stats.contexts_failed == stats.contexts_generated
    else:
        assert stats.generated > 0
    for conversation in [*recording.sent, *(c for c, _ in recording.scored)]:
        assert len(embedded.tokenizer.encode_chat(conversation)) < PROMPT_LIMIT
