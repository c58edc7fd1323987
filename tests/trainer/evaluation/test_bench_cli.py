"""`bot benchmark` end to end with tiny random Llamas: a model fine-tuned on one leaf beats
its base on that leaf; regressions fail with exit 3; caching; --changed; usage errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.taxonomy.find import walk
from bot.taxonomy.leaves import Leaves
from tests.conftest import dump, run_bot
from tests.gitrepo import Repo
from tests.trainer.evaluation.conftest import antonyms_doc, write_taxonomy
from trainer.evaluation.cache import ScoreCache
from trainer.evaluation.chooser import choose_checkpoint, make_chooser
from trainer.evaluation.report_md import MARKER
from trainer.evaluation.suites import build

ANTONYMS = "compositional_skills/linguistics/antonyms"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # tiny matrices; a shared 2-core machine


def bench(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["benchmark", "--format", "json", "--work", str(repo / ".bot"), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, json.loads(out) if code in (0, 3) else {"stderr": err}


def primary(doc: dict, path: str, suite: str = "branch") -> dict:
    [leaf] = [g for g in doc["leaves"] if g["path"] == path and g["suite"] == suite]
    return dict(leaf["primary"])


def test_finetuned_leaf_has_lower_nll_than_base(
    repo: Path,
    tiny_base: Path,
    tiny_tuned: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(repo)
    out = repo / "reports"
    args = ["--base-model", f"hf:{tiny_base}", "--model", f"hf:{tiny_tuned}", "--out", str(out)]
    code, doc = bench(repo, capsys, f"taxonomy/{ANTONYMS}", *args)
    assert code == 0
    nll = primary(doc, ANTONYMS)
    assert nll["n"] == 6 and nll["delta"] < 0 and nll["candidate"] < nll["reference"]
    assert nll["method"] == "sign-flip exact" and nll["verdict"] == "improved"
    assert nll["ci"][1] < 0 and nll["p_adjusted"] <= 0.05
    assert doc["schema"] == "taxonomy-bot/benchmark-report/v2"
    assert doc["provenance"]["heldout_version"] == "heldout-v1"
    assert {f.name for f in out.iterdir()} >= {"report.json", "report.md", "deltas.png"}
    assert json.loads((out / "report.json").read_text())["leaves"] == doc["leaves"]
    assert (out / "deltas.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert md.startswith(MARKER + "\n**Benchmark** ")
    assert f"| `{ANTONYMS}` | 6 |" in md and "🟢 improved" in md
    suites = {s["suite"]: s for s in doc["suites"]}
    assert set(suites) == {"branch", "regression"}
    assert {g["path"] for g in doc["leaves"] if g["suite"] == "regression"} >= {"general-v1"}
    assert doc["base"]["items_scored"] == doc["summary"]["items"]
    # both models answered exactly the same items
    assert all(
        set(i["base"]) - {"answer"} == set(i["candidate"]) - {"answer"} for i in doc["items"]
    )

    # the same again: every score comes from the cache, and the report is the same
    code, again = bench(repo, capsys, f"taxonomy/{ANTONYMS}", *args)
    assert again["base"]["items_scored"] == 0 and again["candidate"]["items_scored"] == 0
    assert again["leaves"] == doc["leaves"]

    # swapped, the leaf regresses; with a zero tolerance on NLL that fails the run (exit 3)
    swapped = ["--base-model", f"hf:{tiny_tuned}", "--model", f"hf:{tiny_base}", "--out", str(out)]
    code, worse = bench(repo, capsys, f"taxonomy/{ANTONYMS}", *swapped, "--max-regression", "nll=0")
    assert code == 3 and worse["summary"]["failed"] and worse["summary"]["exit_code"] == 3
    assert {"suite": "branch", "metric": "nll"}.items() <= worse["failures"][0].items()
    md = (out / "report.md").read_text()
    assert "❌ **failed**" in md.splitlines()[1]
    rows = [ln for ln in md.splitlines() if ln.startswith(f"| `{ANTONYMS}`")]
    assert "🔴 regressed" in rows[0]
    code, _ = bench(repo, capsys, f"taxonomy/{ANTONYMS}", *swapped, "--max-regression", "nll=inf")
    assert code == 0

    # with the model it replaces as the reference, the base is reported beside it
    code, third = bench(
        repo, capsys, f"taxonomy/{ANTONYMS}", *args, "--previous-model", f"hf:{tiny_tuned}"
    )
    assert code == 0 and third["previous"]["spec"] == f"hf:{tiny_tuned}"
    assert primary(third, ANTONYMS)["delta"] == 0  # the same model as the reference
    [leaf] = [g for g in third["leaves"] if g["path"] == ANTONYMS and g["suite"] == "branch"]
    assert leaf["vs_base"]["delta"] == pytest.approx(nll["delta"])


def test_judge_suite_reports_its_parse_failure_rate(
    repo: Path, tiny_base: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    spec = f"hf:{tiny_base}"
    code, doc = bench(
        repo,
        capsys,
        f"taxonomy/{ANTONYMS}",
        "--base-model",
        spec,
        "--model",
        spec,
        "--judge",
        spec,
        "--no-general",
        "--no-regression",
        "--judge-max-new-tokens",
        "8",
    )
    assert code == 0
    judge = doc["judge"]
    assert judge["answers_rated"] == {"reference": 6, "candidate": 6}
    # a random model cannot write "[[N]]": every reply is a parse failure, and says so
    assert judge["parse_failures"] == {"reference": 6, "candidate": 6}
    assert judge["parse_failure_rate"] == {"reference": 1.0, "candidate": 1.0}
    assert all("judge" in i for i in doc["items"] if i["suite"] == "branch")


def test_changed_leaves_against_a_base_ref(
    tmp_path: Path,
    tiny_base: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = Repo(tmp_path)
    write_taxonomy(tmp_path)
    repo.commit("taxonomy")
    repo.branch("pr")
    leaf = tmp_path / "taxonomy" / ANTONYMS / "qna.yaml"
    leaf.write_text(dump(antonyms_doc()).replace("Give the antonym", "Give the opposite"))
    monkeypatch.chdir(tmp_path)
    spec = f"hf:{tiny_base}"
    code, doc = bench(
        tmp_path,
        capsys,
        "--changed",
        "--base-ref",
        "main",
        "--base-model",
        spec,
        "--model",
        spec,
        "--no-general",
    )
    assert code == 0
    assert doc["selection"] == {
        "mode": "changed",
        "base_ref": "main",
        "leaves": [f"taxonomy/{ANTONYMS}/qna.yaml"],
    }
    assert {g["path"] for g in doc["leaves"] if g["suite"] == "branch"} == {ANTONYMS}
    # untouched leaves form the regression suite
    assert {g["path"] for g in doc["leaves"] if g["suite"] == "regression"} == {
        "compositional_skills/linguistics/synonyms",
        "knowledge/places/amberly",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nosuch:thing"], "unknown model backend"),
        (["--model", "hf:/no/such/dir"], "no such directory"),
        (["--model", "embedded", "taxonomy/missing"], "no such file or folder"),
        (["--model", "embedded", "docs"], "no leaves"),
        (["--model", "embedded", "--base-ref", "main"], "--base-ref needs --changed"),
        (["--model", "embedded", "--changed"], "not inside a git repository"),
        (["--model", "embedded", "--max-regression", "bleu=1"], "expected nll=X"),
        (["--model", "embedded", "--max-regression", "nll=-1"], "expected nll=X with X >= 0"),
        (["--model", "embedded", "--resamples", "0"], "--resamples must be >= 1"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path,
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_taxonomy(tmp_path)
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    code = main(["benchmark", "--work", str(tmp_path / ".bot"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_text_output_through_the_console_script(repo: Path, tiny_base: Path) -> None:
    spec = f"hf:{tiny_base}"
    proc = run_bot(
        "benchmark",
        f"taxonomy/{ANTONYMS}",
        "--base-model",
        spec,
        "--model",
        spec,
        "--no-general",
        "--no-regression",
        cwd=repo,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "branch suite" in proc.stdout and "reports:" in proc.stdout
    assert (repo / ".bot/benchmark/latest/report.md").is_file()


def test_chooser_picks_the_finetuned_checkpoint(
    repo: Path, tiny_base: Path, tiny_tuned: Path
) -> None:
    leaves = Leaves(walk(repo / "taxonomy"), repo, repo / ".bot" / "cache")
    scores = ScoreCache(repo / ".bot" / "benchmark" / "cache")
    knowledge = build([ANTONYMS], leaves, regression=False, general=False).items
    choice = choose_checkpoint([tiny_base, tiny_tuned], "knowledge", knowledge, cache=scores)
    assert choice.best == tiny_tuned
    base_row, tuned_row = choice.table
    assert tuned_row.objective < base_row.objective
    assert set(tuned_row.suites) == {"branch"}  # knowledge phase: the branch suite only

    class Ckpt:
        def __init__(self, path: Path) -> None:
            self.path = path

    found = [Ckpt(tiny_base), Ckpt(tiny_tuned)]
    # the skills phase adds the regression suite (sample of untouched leaves + general set)
    chosen = make_chooser(lambda phase: build([ANTONYMS], leaves).items, cache=scores)(
        "skills", found
    )
    assert chosen in found
    with pytest.raises(ValueError, match="unknown phase"):
        choose_checkpoint([tiny_base], "warmup", knowledge)


@pytest.mark.slow
def test_embedded_model_on_the_starter_leaf(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    shutil.copytree(root / "taxonomy", tmp_path / "taxonomy")
    (tmp_path / ".git").mkdir()
    proc = run_bot(
        "benchmark",
        "taxonomy/compositional_skills/linguistics/antonyms",
        "--model",
        "embedded",
        "--no-general",
        "--format",
        "json",
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    nll = primary(doc, ANTONYMS)
    assert nll["delta"] == 0 and 0 < nll["reference"] < 5  # a real model: a sane NLL
    assert doc["candidate"]["items_scored"] == 0  # same fingerprint: scored once
