"""`bot train` through the CLI on a tiny Llama: phases, summary, replay buffer, resume."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_bot
from tests.trainer.train.conftest import conversation

LEAVES = {
    "knowledge/science/water": "k1",
    "foundational_skills/reasoning/math": "f1",
    "compositional_skills/writing/haiku": "c1",
}


def export(work: Path, leaves: dict[str, str], rows: int = 6) -> None:
    for leaf, leaf_hash in leaves.items():
        path = work / "data" / f"{leaf}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(rows):
            row = conversation(i + 10 * len(leaf))
            row["metadata"] = {"leaf": leaf, "leaf_hash": leaf_hash, "source": "generated"}
            lines.append(json.dumps(row) + "\n")
        path.write_text("".join(lines))


def test_two_phases_then_the_buffer_holds_every_trained_leaf(
    tiny_base: Path, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    work = tmp_path / ".bot"
    export(work, LEAVES)
    done = run_bot("train", "--base-model", str(tiny_base), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert [p["name"] for p in summary["phases"]] == ["knowledge", "skills"]
    for p in summary["phases"]:
        assert p["samples"] > 0 and p["tokens"] > 0 and p["steps"] > 0
        assert p["packing_efficiency"] > 0 and p["tokens_per_s"] > 0
        assert Path(p["checkpoint"], "model.safetensors").is_file()
    # The skills phase starts from the knowledge phase's checkpoint.
    assert summary["final"] == summary["phases"][1]["checkpoint"]
    assert summary["mix"]["skills"]["replay_rows"] > 0  # knowledge data replayed
    assert sorted(summary["new_leaves"]) == sorted(LEAVES)
    knowledge = summary["phases"][0]["leaves"]["knowledge/science/water"]
    assert knowledge["rows"] == 6 and knowledge["seen"] == 6 * summary["phases"][0]["epochs"]
    assert summary["replay_version"]
    run = Path(json.loads((work / "run" / "state.json").read_text())["run"])
    assert json.loads((run / "train_summary.json").read_text()) == summary

    # A second run with data, settings and base unchanged reuses the recorded run.
    again = run_bot("train", "--base-model", str(tiny_base), cwd=tmp_path, env={"COLUMNS": "160"})
    assert again.returncode == 0, again.stderr
    assert "unchanged since run" in again.stdout
    assert "new leaves" in again.stdout and "at full rate" in again.stdout  # what each got
    assert all(leaf.split("/")[-1] in again.stdout for leaf in LEAVES)

    # A rewritten leaf is new again; the unchanged ones replay from the buffer.
    export(work, {"compositional_skills/writing/haiku": "c2"})
    nxt = run_bot(
        "train",
        "--base-model",
        str(tiny_base),
        "--out",
        str(tmp_path / "run2"),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert nxt.returncode == 0, nxt.stderr
    second = json.loads(nxt.stdout)
    assert second["new_leaves"] == ["compositional_skills/writing/haiku"]
    assert [p["name"] for p in second["phases"]] == ["skills"]  # no new knowledge
    assert second["mix"]["skills"]["replay_rows"] > 0


def test_usage_errors_are_one_line(tmp_path: Path, tiny_base: Path) -> None:
    (tmp_path / ".git").mkdir()
    empty = run_bot("train", "--base-model", str(tiny_base), cwd=tmp_path)
    assert empty.returncode == 1 and "bot generate" in empty.stderr
    assert "Traceback" not in empty.stderr
    bad = run_bot("train", "--base-model", str(tmp_path / "nope"), cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    export(tmp_path / ".bot", LEAVES)
    phase = run_bot("train", "--base-model", str(tiny_base), "--phases", "dance", cwd=tmp_path)
    assert phase.returncode == 1 and "unknown phase" in phase.stderr


def test_disperse_then_merge_and_a_dpo_phase(tiny_base: Path, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "bot.yaml").write_text("train:\n  dpo_max_pairs: 4\n  dpo_max_new_tokens: 8\n")
    export(tmp_path / ".bot", LEAVES)
    done = run_bot(
        "train",
        "--base-model",
        str(tiny_base),
        "--disperse",
        "2",
        "--phases",
        "knowledge,skills,dpo",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    knowledge, skills, dpo = summary["phases"]
    for phase in (knowledge, skills):
        assert phase["chosen_by"] == "merge:average"
        assert [s["shard"] for s in phase["sub_models"]] == [0, 1]
        merged = Path(phase["checkpoint"])
        assert merged.name == "merged" and (merged / "merge.json").is_file()
    # DPO starts from the merged skills model and ends the run.
    assert dpo["name"] == "dpo" and dpo["steps"] >= 1
    assert summary["final"] == dpo["checkpoint"]
    run = Path(json.loads((tmp_path / ".bot" / "run" / "state.json").read_text())["run"])
    pairs = (run / "dpo" / "pairs.jsonl").read_text().splitlines()
    assert 0 < len(pairs) <= 4


def test_distilled_replay_answers_with_the_model_being_continued(tmp_path: Path) -> None:
    from tests.tiny import build_tiny_model
    from trainer.models.loader import model_fingerprint

    base = build_tiny_model(tmp_path / "long", max_positions=2048)
    (tmp_path / ".git").mkdir()
    export(tmp_path / ".bot", LEAVES)
    first = run_bot("train", "--base-model", str(base), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    continued = json.loads((tmp_path / ".bot" / "run" / "state.json").read_text())["model"]
    export(tmp_path / ".bot", {"compositional_skills/writing/haiku": "c2"})
    out = tmp_path / "run2"
    second = run_bot(
        "train",
        "--base-model",
        str(base),
        "--distill-replay",
        "--out",
        str(out),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["base"] == continued  # the retrain continues the first
    # The replayed answers are rewritten by that model, not by the untrained base.
    current = model_fingerprint(f"hf:{continued}")
    assert current != model_fingerprint(f"hf:{base}")
    manifest = json.loads((out / "mix" / "skills" / "manifest.json").read_text())
    assert manifest["replay_transform"] == f"distilled:{current}"
    assert manifest["replay_rows"] > 0  # the buffer rows that went through the model
    rows = [json.loads(line) for line in (out / "mix" / "skills" / "data.jsonl").open()]
    distilled = [r for r in rows if r["metadata"].get("source") == "distilled"]
    assert distilled and {r["metadata"]["distill_model"] for r in distilled} == {current}


def test_checkpoint_choice_falls_back_to_the_last_and_says_why(
    tiny_base: Path, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "bot.yaml").write_text(
        "train:\n  save_every: 1\n  batch_size: 2\n  packing: false\n"
    )
    export(tmp_path / ".bot", {"knowledge/science/water": "k1"})
    done = run_bot("train", "--base-model", str(tiny_base), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (phase,) = json.loads(done.stdout)["phases"]
    assert phase["steps"] == 3
    # No taxonomy here, so no held-out items to choose by: the last one, with the reason.
    assert phase["chosen_by"].startswith("last (no benchmark items")
    assert phase["checkpoint"] == phase["last_checkpoint"]
