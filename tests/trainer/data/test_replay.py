from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trainer.data.mixdata import export
from trainer.data import replay
from trainer.data.replay import Buffer, ReplayConfig, ReplayError
from trainer.data.rows import sha256
from trainer.data.sampling import fair_quotas, reservoir_extend

K1, K2 = "knowledge/science/one", "knowledge/science/two"
C1 = "compositional_skills/writing/poems"


def leaf_of(row: dict) -> str:
    return str(row["metadata"]["leaf"])


def test_save_load_round_trip_and_snapshot_id(tmp_path: Path) -> None:
    current = export(tmp_path / "data", {K1: 5, C1: 3})
    config = ReplayConfig(max_rows=100)
    saved = replay.save(tmp_path / "replay", replay.update(Buffer(), current, config), config)
    assert saved.version is not None
    index = tmp_path / "replay" / "versions" / f"{saved.version}.json"
    assert sha256(index.read_bytes()) == saved.version
    loaded = replay.load(tmp_path / "replay")
    assert loaded == saved
    assert loaded.counts() == {C1: 3, K1: 5}
    assert loaded.leaves[K1].rows == current[K1].rows
    assert loaded.leaves[K1].seen == 5 and loaded.leaves[K1].batches == (current[K1].sha256,)
    head = json.loads((tmp_path / "replay" / "HEAD.json").read_text())
    assert head == {"format": 1, "version": saved.version, "history": [saved.version]}


def test_load_without_a_buffer_is_empty(tmp_path: Path) -> None:
    assert replay.load(tmp_path / "nothing") == Buffer()


def test_bounded_with_equal_shares(tmp_path: Path) -> None:
    current = export(tmp_path / "data", {K1: 50, K2: 4, C1: 50})
    buffer = replay.update(Buffer(), current, ReplayConfig(max_rows=30))
    # K2 holds all 4 it has; the 26 slots left split evenly between the other two.
    assert buffer.counts() == {C1: 13, K1: 13, K2: 4}
    assert buffer.total_rows == 30
    assert all(leaf_of(r) == K1 for r in buffer.leaves[K1].rows)


def test_deterministic_across_roots(tmp_path: Path) -> None:
    current = export(tmp_path / "data", {K1: 40, C1: 40})
    config = ReplayConfig(max_rows=25, seed=7)
    a = replay.save(tmp_path / "a", replay.update(Buffer(), current, config), config)
    b = replay.save(tmp_path / "b", replay.update(Buffer(), current, config), config)
    assert a.version == b.version
    other = replay.update(Buffer(), current, ReplayConfig(max_rows=25, seed=8))
    assert other.leaves[K1].rows != a.leaves[K1].rows  # the seed matters


def test_new_leaves_shrink_old_shares_evenly(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=60)
    sizes = {K1: 100}
    buffer = replay.update(Buffer(), export(tmp_path / "data", sizes), config)
    first = set(map(json.dumps, buffer.leaves[K1].rows))
    for i, leaf in enumerate([K2, C1, "foundational_skills/maths/sums"], start=2):
        sizes[leaf] = 100
        current = export(tmp_path / "data", sizes)
        assert replay.new_leaves(buffer, current) == {leaf}
        buffer = replay.update(buffer, current, config)
        assert set(buffer.counts().values()) == {60 // i}
        # The old leaf's rows are a subset of what it held: shrunk, not resampled.
        assert set(map(json.dumps, buffer.leaves[K1].rows)) <= first


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=7),
    st.integers(min_value=0, max_value=80),
)
def test_arrivals_keep_fair_quotas(sizes: list[int], max_rows: int) -> None:
    """Leaves arriving one retrain at a time end with the quotas of all arriving at once."""
    from trainer.data.rows import LeafRows

    config = ReplayConfig(max_rows=max_rows)
    leaves = {f"knowledge/l{i}": n for i, n in enumerate(sizes)}
    data = {
        leaf: LeafRows(leaf, f"h{leaf}", tuple(_rows(leaf, n)), f"data/{leaf}.jsonl", f"s{leaf}")
        for leaf, n in leaves.items()
    }
    buffer = Buffer()
    for k in range(1, len(data) + 1):
        current = dict(list(data.items())[:k])
        buffer = replay.update(buffer, current, config)
        assert buffer.total_rows == min(max_rows, sum(len(d.rows) for d in current.values()))
        want = fair_quotas({leaf: len(d.rows) for leaf, d in current.items()}, max_rows)
        got = buffer.counts()
        for leaf, q in want.items():
            assert abs(got.get(leaf, 0) - q) <= 1, (leaf, got, want)


def _rows(leaf: str, n: int) -> list[dict]:
    from tests.trainer.data.mixdata import make_row

    return [make_row(leaf, f"h{leaf}", i) for i in range(n)]


def test_rewritten_leaf_replaces_its_rows_and_removed_leaf_leaves(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=100)
    buffer = replay.update(Buffer(), export(tmp_path / "data", {K1: 10, K2: 10, C1: 10}), config)
    current = export(tmp_path / "data", {K1: 6, C1: 10}, hashes={K1: "rewritten"})
    assert replay.new_leaves(buffer, current) == {K1}
    assert set(replay.replayable(buffer, current)) == {C1}  # K1 stale, K2 gone
    after = replay.update(buffer, current, config)
    assert set(after.leaves) == {K1, C1}
    assert after.leaves[K1].leaf_hash == "rewritten" and after.leaves[K1].seen == 6
    assert {r["metadata"]["leaf_hash"] for r in after.leaves[K1].rows} == {"rewritten"}
    assert after.leaves[C1] == buffer.leaves[C1]


def test_rewritten_leaf_not_retrained_is_dropped_not_replayed(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=100)
    buffer = replay.update(Buffer(), export(tmp_path / "data", {K1: 10, C1: 10}), config)
    current = export(tmp_path / "data", {K1: 10, C1: 10}, hashes={K1: "new"})
    after = replay.update(buffer, current, config, trained=[C1])
    assert set(after.leaves) == {C1}


def test_update_is_idempotent(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=10)
    current = export(tmp_path / "data", {K1: 30, C1: 30})
    once = replay.update(Buffer(), current, config)
    saved = replay.save(tmp_path / "replay", once, config)
    twice = replay.update(saved, current, config, trained=list(current))
    assert twice is saved  # nothing new: same snapshot, no new version
    assert replay.save(tmp_path / "replay", twice, config).version == saved.version
    assert replay.history(tmp_path / "replay") == [saved.version]


def test_same_hash_new_batch_streams_into_the_reservoir(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=10)
    first = export(tmp_path / "data", {K1: 30})
    buffer = replay.update(Buffer(), first, config)
    # Regenerated by another teacher: same leaf_hash, different rows.
    path = tmp_path / "data" / f"{K1}.jsonl"
    path.write_text(path.read_text().replace("answer", "better answer"))
    from trainer.data.rows import load_exported

    second = load_exported(tmp_path / "data")
    assert replay.new_leaves(buffer, second) == set()  # not new unless named
    after = replay.update(buffer, second, config, trained=[K1])
    leaf = after.leaves[K1]
    assert leaf.seen == 60 and len(leaf.rows) == 10
    assert leaf.batches == (first[K1].sha256, second[K1].sha256)


def test_empty_export_does_not_wipe_the_buffer(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=10)
    buffer = replay.update(Buffer(), export(tmp_path / "data", {K1: 3}), config)
    with pytest.raises(ReplayError, match="refusing"):
        replay.update(buffer, {}, config)


def test_sample_is_stratified_and_respects_exclusions(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=300)
    current = export(tmp_path / "data", {K1: 100, K2: 5, C1: 100})
    buffer = replay.update(Buffer(), current, config)
    rows = replay.sample(buffer, 45, seed=1)
    assert Counter(map(leaf_of, rows)) == {K2: 5, K1: 20, C1: 20}
    assert rows == replay.sample(buffer, 45, seed=1)
    assert rows != replay.sample(buffer, 45, seed=2)
    only = replay.sample(buffer, 45, seed=1, exclude_leaves=[K2], branches=["knowledge"])
    assert Counter(map(leaf_of, only)) == {K1: 45}
    assert len(replay.sample(buffer, 10_000, seed=1)) == 205


def test_killed_save_leaves_the_previous_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ReplayConfig(max_rows=50)
    root = tmp_path / "replay"
    old = replay.save(
        root, replay.update(Buffer(), export(tmp_path / "data", {K1: 20}), config), config
    )
    bigger = replay.update(old, export(tmp_path / "data", {K1: 20, C1: 20}), config)
    real_replace = os.replace

    def crash_on_head(src: str, dst: str) -> None:
        if Path(dst).name == "HEAD.json":
            raise OSError("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_head)
    with pytest.raises(OSError, match="killed"):
        replay.save(root, bigger, config)
    monkeypatch.setattr(os, "replace", real_replace)
    assert replay.load(root) == old
    assert not [p for p in root.rglob(".*") if p.is_file()]  # no temp file left behind
    # The next save succeeds and collects what the killed one left unreferenced.
    stray = next((root / "objects").iterdir()) / ".stray.jsonl.abc123"
    stray.write_text("half a row")  # what a SIGKILLed write leaves
    new = replay.save(root, bigger, config)
    assert not [p for p in root.rglob(".*") if p.is_file()]
    assert len(list((root / "versions").iterdir())) == 2
    assert replay.load(root) == new
    assert replay.load(root, old.version) == old


def test_killed_while_writing_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ReplayConfig(max_rows=50)
    root = tmp_path / "replay"
    old = replay.save(
        root, replay.update(Buffer(), export(tmp_path / "data", {K1: 20}), config), config
    )
    bigger = replay.update(old, export(tmp_path / "data", {K1: 20, C1: 20, K2: 3}), config)
    calls = {"n": 0}
    real_replace = os.replace

    def crash_second(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_second)
    with pytest.raises(KeyboardInterrupt):
        replay.save(root, bigger, config)
    monkeypatch.setattr(os, "replace", real_replace)
    assert replay.load(root) == old


def test_old_snapshots_are_pruned(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=50, keep_versions=2)
    root = tmp_path / "replay"
    versions = []
    buffer = Buffer()
    for sizes in ({K1: 5}, {K1: 5, K2: 5}, {K1: 5, K2: 5, C1: 5}):
        buffer = replay.save(
            root, replay.update(buffer, export(tmp_path / "data", sizes), config), config
        )
        versions.append(buffer.version)
    assert replay.history(root) == [versions[2], versions[1]]
    assert sorted(p.stem for p in (root / "versions").iterdir()) == sorted(versions[1:])
    assert replay.load(root, versions[1]).counts() == {K1: 5, K2: 5}
    with pytest.raises(ReplayError, match="unreadable"):
        replay.load(root, versions[0])
    used = {
        json.loads((root / "versions" / f"{v}.json").read_text())["leaves"][K1]["object"]
        for v in versions[1:]
    }
    assert {p.stem for p in (root / "objects").glob("*/*.jsonl")} >= used


def test_damaged_object_is_reported(tmp_path: Path) -> None:
    config = ReplayConfig(max_rows=50)
    root = tmp_path / "replay"
    replay.save(root, replay.update(Buffer(), export(tmp_path / "data", {K1: 5}), config), config)
    obj = next((root / "objects").glob("*/*.jsonl"))
    obj.write_text(obj.read_text().replace("answer", "tampered"))
    with pytest.raises(ReplayError, match=obj.name):
        replay.load(root)


def test_reservoir_is_uniform_across_batches() -> None:
    """Algorithm R: each of 40 items kept with probability k/n, whether they came in one
    batch or two (2000 seeded runs; the bound is ~6 standard deviations)."""
    counts: Counter[int] = Counter()
    runs, k = 2000, 8
    for seed in range(runs):
        r = random.Random(seed)
        kept, seen = reservoir_extend([], 0, range(25), k, r)
        kept, seen = reservoir_extend(kept, seen, range(25, 40), k, r)
        assert seen == 40 and len(kept) == k
        counts.update(kept)
    expected = runs * k / 40
    assert all(abs(counts[i] - expected) < 6 * (expected * (1 - k / 40)) ** 0.5 for i in range(40))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=3), st.integers(0, 50), max_size=8), st.integers(0, 200))
def test_fair_quotas(sizes: dict[str, int], total: int) -> None:
    q = fair_quotas(sizes, total)
    assert set(q) == set(sizes)
    assert sum(q.values()) == min(total, sum(sizes.values()))
    assert all(0 <= q[k] <= sizes[k] for k in sizes)
    top = max(q.values(), default=0)
    # Nobody short of its size gets less than anyone else, give or take the remainder.
    assert all(q[k] == sizes[k] or q[k] >= top - 1 for k in sizes)
