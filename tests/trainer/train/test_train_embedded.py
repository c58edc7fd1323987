"""One integration run of both phases on the embedded SmolLM2 (slow: ~1 minute on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_bot

FACTS = {
    "knowledge/astronomy/planet_zorblax": [
        ("What colour is the sky on planet Zorblax?", "The sky on Zorblax is bright orange."),
        ("How many moons does Zorblax have?", "Zorblax has seven moons."),
        ("What is the capital of Zorblax?", "The capital of Zorblax is Quenta."),
        ("Who discovered Zorblax?", "Zorblax was discovered by Ada Lindqvist."),
    ],
    "compositional_skills/writing/shout": [
        ("Shout the word apple.", "APPLE!"),
        ("Shout the word river.", "RIVER!"),
        ("Shout the word cloud.", "CLOUD!"),
        ("Shout the word stone.", "STONE!"),
    ],
}


def rows(leaf: str) -> list[dict[str, object]]:
    return [
        {
            "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            "metadata": {"leaf": leaf, "leaf_hash": "h1", "source": "seed"},
        }
        for q, a in FACTS[leaf]
    ]


def nll(model_spec: str, leaf: str) -> float:
    from trainer.models import load_model

    with load_model(model_spec) as model:
        scores = model.loglikelihood(
            [([m for m in r["messages"][:1]], r["messages"][1]["content"]) for r in rows(leaf)]  # type: ignore[index]
        )
    return sum(-s.logprob for s in scores) / sum(s.num_tokens for s in scores)


@pytest.mark.slow
def test_both_phases_on_the_embedded_model_lower_the_loss_on_the_trained_leaves(
    tmp_path: Path,
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "bot.yaml").write_text(
        "train:\n  lr: 0.0002\n  warmup_steps: 1\n  batch_size: 4\n  epochs: 3\n"
    )
    for leaf in FACTS:
        path = tmp_path / ".bot" / "data" / f"{leaf}.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows(leaf)))
    done = run_bot("train", "--max-steps", "3", "--format", "json", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert [p["name"] for p in summary["phases"]] == ["knowledge", "skills"]
    knowledge, skills = summary["phases"]
    final = summary["final"]
    for leaf in FACTS:
        assert nll(f"hf:{final}", leaf) < nll("embedded", leaf), leaf
    assert knowledge["steps"] == skills["steps"] == 3  # --max-steps caps each phase
