"""Merging checkpoints (average, TIES) and sharding rows for disperse-then-merge."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from trainer.train.merge import (
    RECORD,
    MergeConfig,
    MergeError,
    merge_checkpoints,
    shard_rows,
    ties,
    trim,
)


def folder(path: Path, tensors: dict[str, torch.Tensor], **extra: Any) -> Path:
    """A hand-made checkpoint: one safetensors file, a config, and a training record that
    must not be copied into the merge."""
    path.mkdir(parents=True)
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps({"model_type": "hand", **extra}))
    (path / "checkpoint.json").write_text("{}")
    return path


def read(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path / "model.safetensors"), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict


def finetuned(base: Path, out: Path, seed: int, **save: Any) -> Path:
    """The tiny model with every weight nudged: a stand-in for one trained sub-model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))
    model.save_pretrained(out, **save)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def test_average_of_two_hand_made_checkpoints(tmp_path: Path) -> None:
    ids = torch.tensor([3, 1, 2])
    a = folder(tmp_path / "a", {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "ids": ids}, n=1)
    b = folder(tmp_path / "b", {"w": torch.tensor([[3.0, 6.0], [-1.0, 0.0]]), "ids": ids}, n=2)

    result = merge_checkpoints([a, b], tmp_path / "mean")
    merged = read(result.path)
    assert torch.equal(merged["w"], torch.tensor([[2.0, 4.0], [1.0, 2.0]]))  # (a + b) / 2
    assert torch.equal(merged["ids"], ids) and merged["ids"].dtype == torch.int64
    assert (result.tensors, result.parameters) == (2, 4)  # ids are copied, not merged

    weighted = read(merge_checkpoints([a, b], tmp_path / "w", MergeConfig(weights=(3, 1))).path)
    assert torch.equal(weighted["w"], torch.tensor([[1.5, 3.0], [2.0, 3.0]]))  # (3a + b) / 4

    assert json.loads((result.path / "config.json").read_text())["n"] == 1  # the first's
    assert not (result.path / "checkpoint.json").exists()
    record = json.loads((result.path / RECORD).read_text())
    digest = hashlib.sha256((b / "model.safetensors").read_bytes()).hexdigest()
    assert record["method"] == "average" and record["parameters"] == {"weights": [0.5, 0.5]}
    assert record["inputs"][1] == {"path": str(b), "sha256": {"model.safetensors": digest}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "mean", "w"]  # no temp


def test_ties_on_hand_written_tensors(tmp_path: Path) -> None:
    base = torch.ones(5)
    deltas = [
        torch.tensor([3.0, -1.0, 0.5, -4.0, 2.0]),
        torch.tensor([-2.0, -1.0, 1.0, 5.0, -0.2]),
        torch.tensor([4.0, 2.0, -3.0, -1.0, 0.1]),
    ]
    # Trim, density 0.4: keep round(0.4 * 5) = 2 largest magnitudes of each task vector.
    trimmed = [
        torch.tensor([3.0, 0.0, 0.0, -4.0, 0.0]),
        torch.tensor([-2.0, 0.0, 0.0, 5.0, 0.0]),
        torch.tensor([4.0, 0.0, -3.0, 0.0, 0.0]),
    ]
    for d, t in zip(deltas, trimmed, strict=True):
        assert torch.equal(trim(d, 0.4), t)
    # Elect: sum of trimmed = [5, 0, -3, 1, 0] -> signs [+, 0, -, +, 0].
    # Disjoint mean over agreeing entries: [(3 + 4) / 2, 0, -3, 5 (-4 disagrees), 0].
    # Base + lambda 0.5 * [3.5, 0, -3, 5, 0]:
    expected = torch.tensor([2.75, 1.0, -0.5, 3.5, 1.0])
    subs = [base + d for d in deltas]
    assert torch.equal(ties(base, subs, density=0.4, scale=0.5).float(), expected)

    paths = [folder(tmp_path / f"s{i}", {"v": s}) for i, s in enumerate(subs)]
    origin = folder(tmp_path / "base", {"v": base})
    cfg = MergeConfig(method="ties", density=0.4, scale=0.5)
    result = merge_checkpoints(paths, tmp_path / "ties", cfg, base=origin)
    assert torch.equal(read(result.path)["v"], expected)
    record = json.loads((result.path / RECORD).read_text())
    assert record["parameters"] == {"density": 0.4, "lambda": 0.5}
    assert record["base"]["path"] == str(origin)


def test_merging_one_checkpoint_k_times_returns_it(tiny_base: Path, tmp_path: Path) -> None:
    sub = finetuned(tiny_base, tmp_path / "sub", seed=1)
    same = read(merge_checkpoints([sub] * 3, tmp_path / "avg").path)
    uneven = MergeConfig(weights=(1, 2, 7))
    weighted = read(merge_checkpoints([sub] * 3, tmp_path / "w", uneven).path)
    cfg = MergeConfig(method="ties", density=1.0)
    tied = read(merge_checkpoints([sub] * 3, tmp_path / "ties", cfg, base=tiny_base).path)
    original = read(sub)
    assert set(same) == set(original)
    for key, value in original.items():
        assert torch.equal(same[key], value) and torch.equal(weighted[key], value), key
        torch.testing.assert_close(tied[key], value, rtol=0, atol=1e-6)


def test_the_merge_loads_and_generates(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from trainer.models import load_model
    from trainer.models.base import GenerationParams

    a = finetuned(tiny_base, tmp_path / "a", seed=1)
    # A sharded checkpoint merges with a single-file one; the first input sets the layout.
    b = finetuned(tiny_base, tmp_path / "b", seed=2, max_shard_size="40KB")
    assert (b / "model.safetensors.index.json").is_file()
    out = merge_checkpoints([a, b], tmp_path / "merged").path
    model = AutoModelForCausalLM.from_pretrained(out)
    sa = AutoModelForCausalLM.from_pretrained(a).state_dict()
    sb = AutoModelForCausalLM.from_pretrained(b).state_dict()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, (sa[key] + sb[key]) / 2, rtol=0, atol=1e-7)
    with load_model(f"hf:{out}", device="cpu") as chat:
        (reply,) = chat.generate(
            [[{"role": "user", "content": "What is the capital of France?"}]],
            GenerationParams(max_new_tokens=8),
        )
    assert reply.completion_tokens > 0


def test_tied_embeddings_stay_tied(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, LlamaForCausalLM

    from trainer.models.tiny import tiny_llama_config

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        cfg = tiny_llama_config(len(tokenizer), hidden=16, max_positions=64)
        cfg.tie_word_embeddings = True
        model = LlamaForCausalLM(cfg)
        model.save_pretrained(tmp_path / f"m{seed}")
        tokenizer.save_pretrained(tmp_path / f"m{seed}")
        paths.append(tmp_path / f"m{seed}")
    out = merge_checkpoints(paths, tmp_path / "merged").path
    assert "lm_head.weight" not in read(out)  # written once, as the embedding
    merged = LlamaForCausalLM.from_pretrained(out)
    assert merged.lm_head.weight.data_ptr() == merged.model.embed_tokens.weight.data_ptr()
    expected = sum(read(p)["model.embed_tokens.weight"] for p in paths) / 2
    torch.testing.assert_close(merged.lm_head.weight.detach(), expected, rtol=0, atol=1e-7)


def test_mismatched_inputs_are_refused_clearly(tmp_path: Path) -> None:
    a = folder(tmp_path / "a", {"w": torch.zeros(2, 3), "ids": torch.tensor([1])})
    wide = folder(tmp_path / "wide", {"w": torch.zeros(2, 4), "ids": torch.tensor([1])})
    fewer = folder(tmp_path / "fewer", {"w": torch.zeros(2, 3)})
    other_ids = folder(tmp_path / "ids", {"w": torch.zeros(2, 3), "ids": torch.tensor([2])})
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ([a, wide], None, f"{wide / 'model.safetensors'}: tensor w is F32[2, 4] but F32[2, 3]"),
        ([a, fewer], None, f"{fewer}: tensor names differ from {a}: lacks ['ids']"),
        ([a, other_ids], None, f"{other_ids / 'model.safetensors'}: non-float tensor ids"),
        ([a, empty], None, f"{empty}: no model.safetensors"),
        ([a], MergeConfig(method="ties"), "ties merging needs the base checkpoint"),
        ([a, a], MergeConfig(weights=(1.0,)), "1 merge weights for 2 checkpoints"),
    ]
    for inputs, cfg, message in cases:
        with pytest.raises(MergeError) as err:
            merge_checkpoints(inputs, tmp_path / "out", cfg)
        assert str(err.value).startswith(message), str(err.value)
    with pytest.raises(MergeError, match="already exists"):
        merge_checkpoints([a], a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "empty", "fewer", "ids", "wide"]
    with pytest.raises(ValueError, match="density"):
        MergeConfig(method="ties", density=0.0)


def rows(leaves: dict[str, int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for leaf, n in leaves.items():
        for i in range(n):
            out.append({"messages": [{"role": "user", "content": f"{leaf} {i}"}]})
            out[-1]["metadata"] = {"leaf": leaf}
    out.append({"messages": [{"role": "user", "content": "no leaf"}]})
    return out


def test_shards_are_disjoint_covering_deterministic_and_stratified() -> None:
    data = rows({"knowledge/a": 7, "knowledge/b": 3, "compositional_skills/c": 12})
    shards = shard_rows(data, 3, seed=0)
    seen = Counter(json.dumps(r, sort_keys=True) for s in shards for r in s)
    assert len(seen) == len(data) == sum(seen.values())  # each row exactly once
    assert shard_rows(data, 3, seed=0) == shards
    assert shard_rows(data, 3, seed=1) != shards
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    for shard in shards:
        leaves = Counter(r.get("metadata", {}).get("leaf") for r in shard)
        # Every leaf reaches every shard, in its fair share (7 rows -> 2 or 3 per shard).
        assert set(leaves) >= {"knowledge/a", "knowledge/b", "compositional_skills/c"}
        assert leaves["knowledge/b"] == 1 and leaves["compositional_skills/c"] == 4
        assert leaves["knowledge/a"] in (2, 3)
        order = [data.index(r) for r in shard]
        assert order == sorted(order)  # input order kept within a shard
    assert shard_rows(data, 1, seed=5) == [data]
    with pytest.raises(ValueError):
        shard_rows(data, 0, seed=0)


def topic_rows() -> list[dict[str, Any]]:
    """Two topics, interleaved, each in two leaves: clusters must follow the words."""
    moons = [
        "Which moon of Jupiter is the largest moon?",
        "How long does Io take to orbit Jupiter?",
        "What covers the surface of the moon Europa?",
        "Which moon of Saturn has a thick atmosphere?",
        "How many moons orbit Mars and what are the moons called?",
        "Is Callisto an old cratered moon?",
    ]
    bread = [
        "How much flour goes into a loaf of sourdough bread?",
        "How long should bread dough rise?",
        "Why does bread dough need salt and flour?",
        "At what oven temperature do you bake bread?",
        "What does kneading do to the flour in bread dough?",
        "How do you know the bread loaf is baked?",
    ]
    out: list[dict[str, Any]] = []
    for i, (a, b) in enumerate(zip(moons, bread, strict=True)):
        out.append(
            {"messages": [{"role": "user", "content": a}], "metadata": {"leaf": f"k/{i % 2}"}}
        )
        out.append(
            {"messages": [{"role": "user", "content": b}], "metadata": {"leaf": f"s/{i % 2}"}}
        )
    return out


def test_cluster_shards_follow_topics_not_leaves() -> None:
    data = topic_rows()
    shards = shard_rows(data, 2, seed=0, by="cluster")
    topics = [{data.index(r) % 2 for r in s} for s in shards]  # even rows: the moons
    assert sorted(map(sorted, topics)) == [[0], [1]]  # one topic per shard
    assert shard_rows(data, 2, seed=0, by="cluster") == shards  # deterministic
    for shard in shards:
        order = [data.index(r) for r in shard]
        assert order == sorted(order) and len(shard) == 6


def test_cluster_shards_are_balanced_and_cover_every_row() -> None:
    data = topic_rows()[:11]  # 6 about moons, 5 about bread
    for k in (1, 2, 3, 4, 11):
        shards = shard_rows(data, k, seed=3, by="cluster")
        seen = Counter(json.dumps(r, sort_keys=True) for s in shards for r in s)
        assert len(seen) == len(data) == sum(seen.values())
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
    same = [{"messages": [{"role": "user", "content": "the same words"}]}] * 5
    assert sorted(map(len, shard_rows(same, 2, seed=0, by="cluster"))) == [2, 3]
