"""Every stage called directly from Python, as a library caller (a notebook, the continual
benchmark) would: a Workspace and a typed request in, a typed result out, no argparse and
no current directory. A tiny random Llama is teacher and student."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest

from bot.stages.benchmark import BenchmarkRequest, benchmark
from bot.stages.errors import StageFailed, UsageError
from bot.stages.generate import GenerateRequest, generate
from bot.stages.progress import Progress
from bot.stages.release import ReleaseRequest, release
from bot.stages.run import RunRequest, run
from bot.stages.train import RetrainRequest, read_state, retrain
from bot.stages.validate import ValidateRequest, validate
from bot.workspace import Workspace
from tests.conftest import dump
from tests.gitrepo import Repo
from tests.tiny import build_tiny_model

SKILL = "compositional_skills/writing/a"
OTHER = "foundational_skills/reasoning/b"


class Watch(Progress):
    """Records what the stages report."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def begin(self, stage: str) -> None:
        self.events.append(f"begin {stage}")

    def end(self, stage: str) -> None:
        self.events.append(f"end {stage}")

    def train_step(self, event: object) -> None:
        self.events.append("step")

    def say(self, line: str) -> None:
        self.events.append(line)


def distinct_skill(seed: int, n: int = 6) -> dict[str, Any]:
    """A valid skill leaf whose sentences share no run of words with another's (the
    conftest leaves cycle through one word list, so every leaf repeats every other)."""
    rng = random.Random(seed)
    words = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "su", "ti") for b in range(40)]

    def text(k: int) -> str:
        return " ".join(rng.choice(words) for _ in range(k))

    return {
        "version": 3,
        "created_by": "tester",
        "task_description": f"Skill {seed}: {text(5)}",
        "seed_examples": [{"question": f"{text(9)}?", "answer": f"{text(12)}."} for _ in range(n)],
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), max_positions=2048)


@pytest.fixture
def ws(tmp_path: Path, tiny: Path) -> Workspace:
    repo = Repo(tmp_path / "repo")
    for rel, seed in ((SKILL, 1), (OTHER, 2)):
        repo.write(f"taxonomy/{rel}/qna.yaml", dump(distinct_skill(seed)))
        repo.write(f"taxonomy/{rel}/attribution.txt", "self-authored\n")
    repo.write(".gitignore", ".bot/\n")
    repo.write(
        "bot.yaml",
        f"generate: {{teacher: 'hf:{tiny}', samples: 1, max_rounds: 1}}\n"
        "evaluate: {teacher_items: 2}\n"
        "train: {max_steps: 2, choose_checkpoint: false}\n"
        f"release: {{base: 'hf:{tiny}', general: false, "
        "max_regression: [nll=inf]}\n",
    )
    repo.commit("taxonomy")
    # The work folder lives elsewhere: nothing may assume `.bot/` or the current directory.
    return Workspace.open(repo.path, work=tmp_path / "work")


def test_validate_selects_and_refuses(ws: Workspace) -> None:
    report = validate(ws, ValidateRequest())
    assert len(report.files) == 2 and report.errors == 0
    one = validate(ws, ValidateRequest(paths=(ws.taxonomy / SKILL,)))
    assert [str(f.path) for f in one.files] == [f"taxonomy/{SKILL}/qna.yaml"]
    with pytest.raises(UsageError, match="--base-ref needs --changed"):
        validate(ws, ValidateRequest(base_ref="main"))
    with pytest.raises(UsageError, match="unknown rule"):
        validate(ws, ValidateRequest(disable=("no-such-rule",)))


def test_generate_train_benchmark_in_one_process(ws: Workspace, tiny: Path) -> None:
    watch = Watch()
    planned = generate(ws, GenerateRequest(dry_run=True))
    assert planned.dry_run and {j.reason for j in planned.jobs} == {"new leaf"}
    done = generate(ws, GenerateRequest(), watch)
    assert not done.failed and done.model_calls > 0
    assert sorted(p.name for p in ws.layout.data.rglob("*.jsonl")) == ["a.jsonl", "b.jsonl"]
    assert not (ws.root / ".bot").exists()  # everything went to the workspace's folder
    assert len(done.item_jobs) == 2  # the teacher wrote evaluation items for both skills
    assert sorted(p.name for p in (ws.layout.evaluation / "items").rglob("*.jsonl")) == [
        "a.jsonl",
        "b.jsonl",
    ]

    trained = retrain(ws, RetrainRequest(base_model=f"hf:{tiny}"), watch)
    assert not trained.skipped and (trained.model / "model.safetensors").is_file()
    assert sorted(trained.new_leaves) == sorted([OTHER, SKILL])
    assert read_state(ws)["model"] == str(trained.model)
    assert "begin train" in watch.events and "step" in watch.events
    again = retrain(ws, RetrainRequest(base_model=f"hf:{tiny}"))
    assert again.skipped and again.model == trained.model  # nothing changed: reused

    bench = benchmark(
        ws, BenchmarkRequest(model=f"hf:{trained.model}", base_model=f"hf:{tiny}"), watch
    )
    assert bench.out == ws.layout.benchmark and (bench.out / "report.json").is_file()
    assert_no_item_is_a_training_task(ws, bench.doc)
    assert {g["path"] for g in bench.doc["leaves"] if g["suite"] == "branch"} == {SKILL, OTHER}
    assert bench.exit_code in (0, 3)
    assert "rouge_l" in descriptive_metrics(bench.doc)
    quiet = dataclasses.replace(ws.config.evaluate, answers=False)  # the laptop profile's
    lean = dataclasses.replace(ws, config=dataclasses.replace(ws.config, evaluate=quiet))
    req = BenchmarkRequest(model=f"hf:{trained.model}", base_model=f"hf:{tiny}")
    without = benchmark(lean, dataclasses.replace(req, out=ws.layout.work / "lean")).doc
    assert "rouge_l" not in descriptive_metrics(without)
    assert "exact" not in descriptive_metrics(without)
    assert [g["primary"] for g in without["leaves"]] == [g["primary"] for g in bench.doc["leaves"]]
    with pytest.raises(UsageError, match="unknown model backend"):
        benchmark(ws, BenchmarkRequest(model="nosuch:thing"))


def descriptive_metrics(doc: dict[str, Any]) -> set[str]:
    return {t["metric"] for g in doc["leaves"] for t in g["descriptive"]}


def assert_no_item_is_a_training_task(ws: Workspace, doc: dict[str, Any]) -> None:
    """Zero word 8-gram overlap between every scored item and every training row (the
    exported data and the replay buffer)."""
    from trainer.data import replay
    from trainer.data.rows import parse_jsonl
    from trainer.text.overlap import shares_ngram, training_ngrams

    rows = [r for f in ws.layout.data.rglob("*.jsonl") for r in parse_jsonl(f.read_bytes(), f)]
    rows += [r for leaf in replay.load(ws.layout.replay).leaves.values() for r in leaf.rows]
    grams = training_ngrams(rows)
    leaf_items = [i for i in doc["items"] if i["suite"] in ("branch", "regression")]
    assert leaf_items and rows
    texts = [
        [i["question"]] if i["origin"] == "fact" else [i["question"], i["answer"]]
        for i in leaf_items
    ]
    assert [t[0] for t in texts if shares_ngram(t, grams)] == []


def test_retrain_without_data_fails_with_what_to_do(ws: Workspace, tiny: Path) -> None:
    with pytest.raises(StageFailed, match="bot generate"):
        retrain(ws, RetrainRequest(base_model=f"hf:{tiny}"))
    with pytest.raises(UsageError):
        retrain(ws, RetrainRequest(base_model="hf:/no/such/model"))


def test_run_then_release(ws: Workspace, tiny: Path) -> None:
    first = run(ws, RunRequest(base_model=f"hf:{tiny}"))
    assert first.exit_code == 0, [s.detail for s in first.stages]
    names = [s.name for s in first.stages]
    assert names == ["validate", "generate", "train", "benchmark", "site"]
    assert first.report is not None and (ws.layout.report / "report.md").is_file()
    assert first.site == ws.layout.site / "index.html" and first.site.is_file()
    second = run(ws, RunRequest(base_model=f"hf:{tiny}"))
    assert [s.status for s in second.stages[1:4]] == ["skipped", "skipped", "skipped"]
    kept = sorted(p.name for p in ws.layout.history.iterdir())
    assert kept == ["000001"], "the unchanged model's report is kept once"

    watch = Watch()
    released = release(ws, ReleaseRequest(), watch)
    assert released.version == "0.1.0" and released.notes.startswith("## Release v0.1.0")
    assert any(line.startswith("tag: v0.1.0") for line in watch.events)
    manifest = (ws.root / "releases/0.1.0/manifest.yaml").read_text()
    assert "0.1.0" in manifest
    state = json.loads((ws.layout.release("0.1.0") / "state.json").read_text())
    assert set(state["stages"]) >= {"collect", "retrain", "benchmark", "tag"}
