from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.tiny import build_tiny_model
from tests.trainer.data.mixdata import export, make_row, write_leaf
from trainer.data.distill import DistillConfig, distill, replay_transform
from trainer.data.mix import MixConfig, build_phases
from trainer.data.replay import Buffer, ReplayConfig, update
from trainer.data.rows import load_exported
from trainer.models import ChatModel, Conversation, Generation, GenerationParams, load_model

LEAF = "knowledge/science/one"


class Scripted:
    """A model that answers from a script keyed by the last user message."""

    fingerprint = "scripted:fp"

    def __init__(self, script: dict[str, Generation]) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    def generate(
        self,
        conversations: Sequence[Conversation],
        params: GenerationParams,
        *,
        seeds: Sequence[int] | None = None,
    ) -> list[Generation]:
        self.calls.append([c[-1]["content"] for c in conversations])
        return [self.script[c[-1]["content"]] for c in conversations]


def gen(text: str, finish: str = "stop") -> Generation:
    return Generation(text, finish, 5, 3)  # type: ignore[arg-type]


def test_only_complete_answers_replace_the_original() -> None:
    rows = [make_row(LEAF, "h", i) for i in range(4)]
    questions = [r["messages"][0]["content"] for r in rows]
    model = Scripted(
        {
            questions[0]: gen("A fresh answer."),
            questions[1]: gen("   "),  # empty
            questions[2]: gen("A cut-off ans", "length"),  # truncated
            questions[3]: gen("Another one."),
        }
    )
    out = distill(rows, model, DistillConfig(batch_size=3))  # type: ignore[arg-type]
    assert model.calls == [questions[:3], questions[3:]]
    assert (out.regenerated, out.kept_original) == (2, 2)
    assert out.rows[1] == rows[1] and out.rows[2] == rows[2]
    first = out.rows[0]
    assert first["messages"] == [
        rows[0]["messages"][0],
        {"role": "assistant", "content": "A fresh answer."},
    ]
    assert first["metadata"] == {
        **rows[0]["metadata"],
        "source": "distilled",
        "distilled_from": "seed",
        "distill_model": "scripted:fp",
    }
    assert rows[0]["messages"][1]["content"] == "answer 0"  # the input is not modified


def test_rows_without_a_final_answer_are_kept() -> None:
    row = make_row(LEAF, "h", 0)
    open_question = {**row, "messages": row["messages"][:1]}
    model = Scripted({})
    out = distill([open_question], model, DistillConfig())  # type: ignore[arg-type]
    assert out.rows == [open_question] and model.calls == []


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatModel]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOT_CACHE", str(tmp_path_factory.mktemp("bot-cache")))
        path = build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
        model = load_model(f"hf:{path}", device="cpu")
        yield model
        model.close()


def test_tiny_model_regenerates_deterministically(tiny: ChatModel) -> None:
    # The random model seldom ends a reply: 128 tokens let a few finish, the rest run out.
    rows = [make_row(LEAF, "h", i) for i in range(6)]
    a = distill(rows, tiny, DistillConfig(max_new_tokens=128))
    assert a == distill(rows, tiny, DistillConfig(max_new_tokens=128, batch_size=4))
    assert a.regenerated >= 1 and a.kept_original >= 1
    assert a.regenerated == sum(new != old for old, new in zip(rows, a.rows, strict=True))
    for old, new in zip(rows, a.rows, strict=True):
        if new != old:
            assert new["metadata"]["distill_model"] == tiny.fingerprint
            assert new["messages"][0] == old["messages"][0]
            assert new["messages"][1]["content"] != old["messages"][1]["content"]
    sampled = distill(rows, tiny, DistillConfig(max_new_tokens=128, temperature=1.0, seed=1))
    assert sampled.regenerated >= 1 and sampled.rows != a.rows
    assert sampled == distill(
        rows, tiny, DistillConfig(max_new_tokens=128, temperature=1.0, seed=1, batch_size=4)
    )


def test_tiny_model_truncated_answers_keep_the_original(tiny: ChatModel) -> None:
    rows = [make_row(LEAF, "h", i) for i in range(3)]
    out = distill(rows, tiny, DistillConfig(max_new_tokens=1))
    assert out.rows == rows and out.regenerated == 0


def test_distilled_replay_in_a_phase(tmp_path: Path, tiny: ChatModel) -> None:
    data = tmp_path / "data"
    buffer = update(Buffer(), export(data, {LEAF: 6}), ReplayConfig(max_rows=100))
    write_leaf(data, "knowledge/science/two", 6)
    transform, name = replay_transform(tiny, DistillConfig(max_new_tokens=128))
    knowledge, _ = build_phases(
        load_exported(data),
        buffer,
        MixConfig(knowledge_replay_ratio=0.5),
        transform=transform,
        transform_name=name,
    )
    assert knowledge.manifest.replay_transform == f"distilled:{tiny.fingerprint}"
    assert knowledge.manifest.replay_rows == 6
    rows = [json.loads(line) for line in knowledge.data.splitlines()]
    replayed = [r for r in rows if r["metadata"]["leaf"] == LEAF]
    assert len(replayed) == 6
    distilled = [r for r in replayed if r["metadata"]["source"] == "distilled"]
    assert distilled and all(r["metadata"]["distill_model"] == tiny.fingerprint for r in distilled)
    fresh = [r for r in rows if r["metadata"]["leaf"] != LEAF]
    assert len(fresh) == 6 and all(r["metadata"]["source"] != "distilled" for r in fresh)
