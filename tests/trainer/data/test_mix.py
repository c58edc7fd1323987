from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trainer.data.mixdata import export, write_leaf
from trainer.data import mix, replay
from trainer.data.mix import MixConfig, PhaseSpec, build_phases, read_phase, replay_wanted
from trainer.data.replay import Buffer, ReplayConfig
from trainer.data.rows import DataError, load_exported, sha256

K1, K2 = "knowledge/science/one", "knowledge/science/two"
F1 = "foundational_skills/maths/sums"
C1, C2 = "compositional_skills/writing/poems", "compositional_skills/writing/haiku"


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]


def leaves_in(rows: list[dict]) -> Counter[str]:
    return Counter(r["metadata"]["leaf"] for r in rows)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    export(tmp_path / "data", {K1: 40, K2: 20, F1: 10, C1: 35, C2: 35})
    return tmp_path


def test_first_run_phases_and_ratios(work: Path) -> None:
    knowledge, skills = mix.mix(work, MixConfig(replay_ratio=0.3, knowledge_replay_ratio=0.2))
    # Knowledge: knowledge + foundational leaves; the buffer is empty, so nothing to replay.
    assert knowledge.leaves == {
        K1: mix.LeafCount(40, 0),
        K2: mix.LeafCount(20, 0),
        F1: mix.LeafCount(10, 0),
    }
    assert (knowledge.replay_wanted, knowledge.replay_pool, knowledge.replay_rows) == (18, 0, 0)
    assert "all were used" in knowledge.note
    # Skills: 70 new rows; 30% replay = 30 rows out of the knowledge phase's 70 new rows.
    assert skills.new_rows == 70 and skills.replay_wanted == 30 and skills.replay_rows == 30
    assert skills.replay_ratio_actual == pytest.approx(0.3)
    replayed = {k: c.replay for k, c in skills.leaves.items() if c.replay}
    assert replayed == {K1: 10, K2: 10, F1: 10}  # evenly by leaf
    rows = rows_of(work / "mix" / "skills")
    assert leaves_in(rows) == {C1: 35, C2: 35, K1: 10, K2: 10, F1: 10}


def test_foundational_can_train_with_the_skills(work: Path) -> None:
    knowledge, skills = mix.mix(work, MixConfig(foundational_in_knowledge=False))
    assert set(knowledge.leaves) == {K1, K2}
    assert {k for k, c in skills.leaves.items() if c.new} == {F1, C1, C2}


def test_replay_ratio_maths() -> None:
    assert replay_wanted(70, 0.3) == 30
    assert replay_wanted(100, 0.5) == 100
    assert replay_wanted(100, 0.0) == 0
    assert replay_wanted(0, 0.9) == 0
    with pytest.raises(ValueError):
        MixConfig(replay_ratio=1.0)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5000), st.floats(0, 0.95))
def test_requested_share_is_met_when_the_pool_allows(new: int, ratio: float) -> None:
    wanted = replay_wanted(new, ratio)
    assert abs(wanted / (new + wanted) - ratio) <= 1 / (new + wanted)


def test_byte_identical_for_same_inputs_and_seed(work: Path, tmp_path: Path) -> None:
    config = MixConfig(seed=3)
    first = mix.mix(work, config, out_dir=tmp_path / "a")
    second = mix.mix(work, config, out_dir=tmp_path / "b")
    assert first == second
    for phase in ("knowledge", "skills"):
        for name in ("data.jsonl", "manifest.json"):
            a, b = tmp_path / "a" / phase / name, tmp_path / "b" / phase / name
            assert a.read_bytes() == b.read_bytes()
    mix.mix(work, MixConfig(seed=4), out_dir=tmp_path / "c")
    a, c = (tmp_path / d / "skills" / "data.jsonl" for d in "ac")
    assert a.read_bytes() != c.read_bytes()
    assert sorted(a.read_text().splitlines()) != sorted(c.read_text().splitlines())


def test_rows_are_shuffled(work: Path) -> None:
    mix.mix(work, MixConfig())
    order = [r["metadata"]["leaf"] for r in rows_of(work / "mix" / "knowledge")]
    assert order != sorted(order)


def test_manifest_hashes_match_the_files(work: Path) -> None:
    for manifest in mix.mix(work, MixConfig()):
        folder = work / "mix" / manifest.phase
        assert read_phase(folder) == manifest
        assert sha256((folder / "data.jsonl").read_bytes()) == manifest.output_sha256
        for source in manifest.inputs:
            assert sha256((work / source.name).read_bytes()) == source.sha256
        rows = rows_of(folder)
        assert len(rows) == manifest.rows == manifest.new_rows + manifest.replay_rows
        assert leaves_in(rows) == {k: c.new + c.replay for k, c in manifest.leaves.items()}
        on_disk = json.loads((folder / "manifest.json").read_text())
        assert on_disk["format"] == 1 and on_disk["seed"] == 0
    skills = read_phase(work / "mix" / "skills")
    # The skills phase replays the knowledge leaves, so their files are its inputs too.
    assert {s.name for s in skills.inputs} == {
        f"data/{leaf}.jsonl" for leaf in (K1, K2, F1, C1, C2)
    }


def test_stale_phase_data_is_rejected(work: Path) -> None:
    mix.mix(work, MixConfig())
    folder = work / "mix" / "knowledge"
    with (folder / "data.jsonl").open("a") as fh:
        fh.write("{}\n")
    with pytest.raises(DataError, match="does not match manifest"):
        read_phase(folder)


def retrain(work: Path, config: ReplayConfig) -> replay.Buffer:
    """What a finished retrain does: absorb the data into the buffer and save it."""
    buffer = replay.load(work / "replay")
    current = load_exported(work / "data")
    return replay.save(work / "replay", replay.update(buffer, current, config), config)


def test_a_pull_request_adding_one_skill_replays_the_buffer(work: Path) -> None:
    saved = retrain(work, ReplayConfig(max_rows=1000))
    write_leaf(work / "data", "compositional_skills/writing/limericks", 14)
    knowledge, skills = mix.mix(work, MixConfig(replay_ratio=0.5))
    assert knowledge.rows == 0  # no new knowledge: nothing to train in that phase
    assert skills.new_rows == 14 and skills.replay_rows == 14
    replayed = {k: c.replay for k, c in skills.leaves.items() if c.replay}
    assert set(replayed) <= {K1, K2, F1, C1, C2} and max(replayed.values()) <= 3
    assert sum(replayed.values()) == 14
    names = {s.name for s in skills.inputs}
    assert f"replay/versions/{saved.version}.json" in names
    for source in skills.inputs:  # buffer objects are real files with these hashes
        assert sha256((work / source.name).read_bytes()) == source.sha256


def test_rewritten_and_removed_leaves_are_never_replayed(work: Path) -> None:
    retrain(work, ReplayConfig(max_rows=1000))
    (work / "data" / f"{K2}.jsonl").unlink()  # K2 left the taxonomy
    write_leaf(work / "data", C1, 35, leaf_hash="rewritten")
    knowledge, skills = mix.mix(work, MixConfig(replay_ratio=0.9, knowledge_replay_ratio=0.5))
    assert knowledge.rows == 0
    assert skills.leaves[C1] == mix.LeafCount(new=35, replay=0)
    assert K2 not in skills.leaves
    rows = rows_of(work / "mix" / "skills")
    assert {r["metadata"]["leaf_hash"] for r in rows if r["metadata"]["leaf"] == C1} == {
        "rewritten"
    }
    # The pool (K1, F1, C2 = 85 rows) is smaller than 9 x 35 wanted: all of it, no repeats.
    assert skills.replay_wanted == 315 and skills.replay_rows == 85
    assert len(set(map(json.dumps, rows))) == len(rows)


def test_knowledge_phase_replays_old_knowledge_from_the_buffer(work: Path) -> None:
    retrain(work, ReplayConfig(max_rows=1000))
    write_leaf(work / "data", "knowledge/history/rome", 40)
    knowledge, _ = mix.mix(work, MixConfig(knowledge_replay_ratio=0.2))
    assert knowledge.new_rows == 40 and knowledge.replay_rows == 10
    replayed = {k for k, c in knowledge.leaves.items() if c.replay}
    assert replayed <= {K1, K2, F1}  # never a compositional skill in the knowledge phase


def test_transform_touches_only_buffer_rows(work: Path) -> None:
    config = ReplayConfig(max_rows=1000)
    buffer = replay.update(Buffer(), load_exported(work / "data"), config)
    write_leaf(work / "data", "knowledge/history/rome", 40)
    write_leaf(work / "data", "compositional_skills/writing/limericks", 60)
    current = load_exported(work / "data")

    def mark(rows: list[dict]) -> list[dict]:
        return [{**r, "metadata": {**r["metadata"], "source": "distilled"}} for r in rows]

    _, skills = build_phases(
        current, buffer, MixConfig(replay_ratio=0.5), transform=mark, transform_name="test"
    )
    assert skills.manifest.replay_transform == "test"
    rows = [json.loads(line) for line in skills.data.splitlines()]
    rome = [r for r in rows if r["metadata"]["leaf"] == "knowledge/history/rome"]
    assert rome and all(r["metadata"]["source"] != "distilled" for r in rome)
    new = ("knowledge/history/rome", "compositional_skills/writing/limericks")
    assert all(r["metadata"]["source"] != "distilled" for r in rows if r["metadata"]["leaf"] in new)
    old = [r for r in rows if r["metadata"]["leaf"] not in new]
    assert old and all(r["metadata"]["source"] == "distilled" for r in old)


def test_phase_order_is_checked(work: Path) -> None:
    specs = [PhaseSpec("skills", ("compositional_skills",), 0.3, ("knowledge",))]
    with pytest.raises(ValueError, match="do not come before it"):
        build_phases(load_exported(work / "data"), Buffer(), MixConfig(), specs=specs)


def test_malformed_line_names_file_and_line(work: Path) -> None:
    path = work / "data" / f"{K1}.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = '{"messages": [oops'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        mix.mix(work, MixConfig())
    assert (info.value.path, info.value.line) == (str(path), 3)
    assert str(info.value).startswith(f"{path}:3: invalid JSON")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"messages": [], "metadata": {}}, "'messages' must be a non-empty list"),
        ({"messages": [{"role": "user"}], "metadata": {}}, r"messages\[0\] needs"),
        (
            {"messages": [{"role": "user", "content": "q"}], "metadata": {"leaf": K1}},
            "metadata.leaf_hash",
        ),
        (
            {
                "messages": [{"role": "user", "content": "q"}],
                "metadata": {"leaf": K2, "leaf_hash": "x"},
            },
            "row of leaf",
        ),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_rows_are_reported(work: Path, row: object, message: str) -> None:
    path = work / "data" / f"{K1}.jsonl"
    path.write_text(path.read_text() + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=message) as info:
        load_exported(work / "data")
    assert info.value.line == 42  # 40 rows, a blank line, then the bad one


def test_a_file_outside_the_branches_is_an_error(tmp_path: Path) -> None:
    write_leaf(tmp_path / "data", "misc/thing", 2)
    with pytest.raises(DataError, match="not under a taxonomy branch"):
        load_exported(tmp_path / "data")


def test_a_leaf_retrained_under_the_same_hash_replays_its_new_rows_only(work: Path) -> None:
    config = ReplayConfig(max_rows=1000)
    buffer = replay.update(Buffer(), load_exported(work / "data"), config)
    path = work / "data" / f"{K1}.jsonl"
    path.write_text(path.read_text().replace("answer", "regenerated answer"))  # a new teacher
    write_leaf(work / "data", C2, 35, leaf_hash="rewritten")
    knowledge, skills = build_phases(
        load_exported(work / "data"),
        buffer,
        MixConfig(replay_ratio=0.5, knowledge_replay_ratio=0.5),
        new_leaves=[K1, C2],
    )
    assert knowledge.manifest.leaves[K1] == mix.LeafCount(new=40, replay=0)
    rows = [json.loads(line) for line in skills.data.splitlines()]
    k1 = [r["messages"][1]["content"] for r in rows if r["metadata"]["leaf"] == K1]
    assert k1 and all(a.startswith("regenerated") for a in k1)
