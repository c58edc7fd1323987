"""`bot run` end to end through the CLI: every stage, then a second run that skips them,
then one edited leaf that costs one leaf of generation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.interrupts import Terminated
from tests.conftest import dump, knowledge_doc, run_bot, skill_doc
from tests.gitrepo import Repo
from tests.tiny import build_tiny_model

DOC = "# Topic\n\n" + "\n\n".join(
    f"Paragraph {i} says that topic {i} has {i + 2} parts and began in year {1900 + i}."
    for i in range(8)
)


def make_repo(root: Path, config: str, knowledge: bool = True) -> Path:
    leaves = {"compositional_skills/writing/a": skill_doc(seed=1)}
    if knowledge:
        leaves["knowledge/science/c"] = knowledge_doc(seed=3)
    for rel, doc in leaves.items():
        folder = root / "taxonomy" / rel
        folder.mkdir(parents=True)
        (folder / "qna.yaml").write_text(dump(doc))
        (folder / "attribution.txt").write_text("self-authored\n")
    if knowledge:
        (root / "taxonomy/knowledge/science/c/documents").mkdir()
        (root / "taxonomy/knowledge/science/c/documents/topic.md").write_text(DOC)
    (root / "bot.yaml").write_text(config)
    Repo(root).commit("starter taxonomy")
    return root


def report_numbers(root: Path) -> dict[str, list[str]]:
    doc = json.loads((root / ".bot/report/report.json").read_text())
    assert (root / ".bot/report/report.md").read_text().strip()
    assert (root / ".bot/report/deltas.png").stat().st_size > 1000
    found: dict[str, list[str]] = {}
    for leaf in doc["leaves"]:
        if leaf["suite"] == "branch":
            tests = [t for t in (leaf["primary"], *leaf["descriptive"]) if t]
            found[leaf["path"]] = [t["metric"] for t in tests if isinstance(t["candidate"], float)]
    return found


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), max_positions=2048)


def test_run_then_rerun_then_one_edited_leaf(tmp_path: Path, tiny: Path) -> None:
    config = (
        f"generate:\n  teacher: hf:{tiny}\n  samples: 1\n  max_rounds: 1\ntrain:\n  max_steps: 2\n"
    )
    root = make_repo(tmp_path, config)
    first = run_bot("run", "--base-model", f"hf:{tiny}", cwd=root, timeout=900)
    assert first.returncode == 0, first.stderr + first.stdout
    for stage in ("validate", "generate", "train", "benchmark"):
        assert stage in first.stdout
    numbers = report_numbers(root)
    assert set(numbers) == {"compositional_skills/writing/a", "knowledge/science/c"}
    assert all("nll" in metrics for metrics in numbers.values())
    state = json.loads((root / ".bot/run/state.json").read_text())
    assert Path(state["model"], "model.safetensors").is_file()

    started = time.monotonic()
    again = run_bot("run", "--base-model", f"hf:{tiny}", cwd=root, timeout=900)
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 60
    for stage in ("generate", "train", "benchmark"):
        line = next(ln for ln in again.stdout.splitlines() if ln.strip("│ ").startswith(stage))
        assert "skipped" in line, line

    skill = root / "taxonomy/compositional_skills/writing/a/qna.yaml"
    skill.write_text(dump(skill_doc(seed=7)))
    edited = run_bot("run", "--base-model", f"hf:{tiny}", cwd=root, timeout=900)
    assert edited.returncode == 0, edited.stderr
    store = json.loads((root / ".bot/run/state.json").read_text())
    assert store["key"] != state["key"]  # retrained on the edited leaf
    summary = json.loads(Path(store["run"], "train_summary.json").read_text())
    assert summary["new_leaves"] == ["compositional_skills/writing/a"]


def test_invalid_taxonomy_stops_at_validate(tmp_path: Path, tiny: Path) -> None:
    root = make_repo(tmp_path, "")
    (root / "taxonomy/knowledge/science/c/attribution.txt").unlink()
    done = run_bot("run", "--base-model", f"hf:{tiny}", cwd=root)
    assert done.returncode == 1
    assert "validate failed" in done.stderr and "Traceback" not in done.stderr
    assert not (root / ".bot/generate").exists()


@pytest.mark.slow
def test_run_on_the_embedded_model_with_a_reduced_config(tmp_path: Path) -> None:
    config = (
        "generate:\n  samples: 1\n  max_rounds: 1\n  overgenerate: 1.0\ntrain:\n  max_steps: 2\n"
    )
    root = make_repo(tmp_path, config, knowledge=False)  # one leaf: a few minutes
    done = run_bot("run", cwd=root, timeout=1800)
    assert done.returncode == 0, done.stderr + done.stdout
    numbers = report_numbers(root)
    assert set(numbers) == {"compositional_skills/writing/a"}
    assert {"nll", "mc_acc", "rouge_l"} <= set(numbers["compositional_skills/writing/a"])


def _start_with_sigint_ignored() -> None:
    # What a child of a non-interactive shell's background job (`bot run &` in a script,
    # some CI runners) inherits; Python then raises no KeyboardInterrupt of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("sig", "said"),
    [
        (signal.SIGKILL, None),
        (signal.SIGINT, "interrupted during train"),
        (signal.SIGTERM, "terminated during train"),
    ],
    ids=["kill", "ctrl-c", "term"],
)
def test_an_interrupted_run_continues_where_it_stopped(
    tmp_path: Path, tiny: Path, sig: signal.Signals, said: str | None
) -> None:
    config = (
        f"generate:\n  teacher: hf:{tiny}\n  samples: 1\n  max_rounds: 1\n"
        "train:\n  batch_size: 1\n  packing: false\n  save_every: 1\n  epochs: 40\n"
        "  choose_checkpoint: false\n  keep_checkpoints: 2\n"
    )
    root = make_repo(tmp_path, config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--base-model", f"hf:{tiny}"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        preexec_fn=_start_with_sigint_ignored,  # Ctrl-C must work even so
    )
    deadline = time.monotonic() + 600
    while not list(root.glob(".bot/runs/*/knowledge/checkpoints/step-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    # Freeze the run, check that it is training, signal it and let it go on: the signal
    # arrives mid-training whatever the machine's speed (the phase plans 480 steps).
    os.kill(proc.pid, signal.SIGSTOP)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), "the run ended before it could be stopped"
    (run,) = root.glob(".bot/runs/*")
    assert not (run / "knowledge" / "result.json").exists()  # the phase is still training
    proc.send_signal(sig)
    os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    if said is not None:
        assert proc.returncode == 128 + sig, err
        assert f"train failed: {said}; run `bot run` again to continue" in err, err
        assert "Traceback" not in err, err
    else:
        assert proc.returncode == -sig
    assert not (run / "train_summary.json").exists()
    again = run_bot("run", "--base-model", f"hf:{tiny}", cwd=root, timeout=900)
    assert again.returncode == 0, again.stderr
    assert [p.name for p in root.glob(".bot/runs/*")] == [run.name]  # the same run, continued
    log = [json.loads(line) for line in (run / "knowledge" / "train_log.jsonl").open()]
    steps = [row["step"] for row in log]
    assert steps == list(range(1, len(steps) + 1))  # continued: no step lost or repeated
    assert (run / "train_summary.json").is_file()


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(28, "No space left on device", "/x/model.safetensors"), "disk full"),
        (MemoryError(), "out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "out of memory"),
        (KeyboardInterrupt(), "interrupted during train"),
        (Terminated(), "terminated during train"),
    ],
)
def test_resource_errors_name_the_stage_and_what_to_change(
    error: BaseException, words: str
) -> None:
    from bot.stages.run import RunResult, Stage, StageFailed, _timed

    def fail(stage: Stage) -> None:
        raise error

    result = RunResult()
    with pytest.raises(StageFailed) as caught:
        _timed(result, "train", fail)
    assert words in str(caught.value) and "bot run" in str(caught.value)
    assert result.stages[0].status == "failed"
    codes = {KeyboardInterrupt: 130, Terminated: 143}
    assert caught.value.code == codes.get(type(error), 1)


def _swallow(sig: signal.Signals) -> None:
    """Signal this process and lose the handler's exception, as a library's catch-all can."""
    try:
        os.kill(os.getpid(), sig)
        time.sleep(30)
    except BaseException:  # the point of the test
        pass


@pytest.mark.parametrize(
    ("sig", "said", "code"),
    [(signal.SIGINT, "interrupted", 130), (signal.SIGTERM, "terminated", 143)],
)
def test_a_signal_whose_exception_was_lost_still_fails_the_stage(
    sig: signal.Signals, said: str, code: int
) -> None:
    from bot.interrupts import interruptible
    from bot.stages.run import RunResult, StageFailed, _timed

    result = RunResult()
    with interruptible(), pytest.raises(StageFailed) as caught:
        _timed(result, "generate", lambda stage: _swallow(sig))
    assert f"{said} during generate" in str(caught.value) and caught.value.code == code


def test_a_lost_signal_stops_training_at_the_next_step() -> None:
    from bot.interrupts import interruptible
    from bot.stages.train import _stoppable

    seen: list[object] = []
    step = _stoppable(seen.append)
    with interruptible():
        step("step 1")
        _swallow(signal.SIGTERM)
        with pytest.raises(Terminated):
            step("step 2")
    step("step 3")  # outside interruptible(): the signal is forgotten
    assert seen == ["step 1", "step 3"]
