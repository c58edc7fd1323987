"""`bot generate` end to end through the CLI with a tiny random Llama as the teacher."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import dump, knowledge_doc, run_bot, skill_doc
from tests.tiny import build_tiny_model

DOC = "# Topic\n\n" + "\n\n".join(
    f"Paragraph {i} says something about topic {i}." for i in range(8)
)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = build_tiny_model(tmp_path_factory.mktemp("teacher"), max_positions=2048)
    return f"hf:{path}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # marks the root; generation needs no git history
    leaves = {
        "compositional_skills/a": skill_doc(seed=1),
        "compositional_skills/grounded/b": skill_doc(seed=2, grounded=True),
        "knowledge/c": knowledge_doc(seed=3),
    }
    for rel, doc in leaves.items():
        folder = tmp_path / "taxonomy" / rel
        folder.mkdir(parents=True)
        (folder / "qna.yaml").write_text(dump(doc))
        (folder / "attribution.txt").write_text("self-authored\n")
    docs = tmp_path / "taxonomy/knowledge/c/documents"
    docs.mkdir()
    (docs / "topic.md").write_text(DOC)
    (tmp_path / "bot.yaml").write_text("generate:\n  max_rounds: 1\n  closed_book: true\n")
    return tmp_path


def gen(repo: Path, teacher: str, *args: str) -> tuple[int, dict]:
    proc = run_bot(
        "generate",
        "--teacher",
        teacher,
        "--samples",
        "2",
        "--format",
        "json",
        *args,
        cwd=repo,
        timeout=600,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def by_path(doc: dict) -> dict[str, dict]:
    return {leaf["path"]: leaf for leaf in doc["leaves"]}


def test_incremental_generation(repo: Path, teacher: str) -> None:
    code, first = gen(repo, teacher)
    assert code == 0
    leaves = by_path(first)
    assert {v["status"] for v in leaves.values()} == {"generated"}
    assert all(v["model_calls"] > 0 for v in leaves.values())
    assert first["summary"]["model_calls"] == sum(v["model_calls"] for v in leaves.values())
    out = Path(leaves["knowledge/c"]["output"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    seeds = [r for r in rows if r["metadata"]["source"] == "seed"]
    read = [r for r in seeds if r["messages"][0]["content"].startswith("Context:\n")]
    assert len(read) == 15 - 3  # 5 contexts x 3 Q&A, one in five held out
    twins = [r["messages"][0]["content"] for r in seeds if r not in read]  # generate.closed_book
    assert twins == [r["messages"][0]["content"].split("\n\nQuestion:\n")[1] for r in read]
    assert all(r["metadata"]["leaf"] == "knowledge/c" for r in rows)
    assert {m["role"] for r in rows for m in r["messages"]} == {"user", "assistant"}

    code, second = gen(repo, teacher)  # nothing changed: zero model calls
    assert code == 0 and second["summary"]["model_calls"] == 0
    assert {v["status"] for v in second["leaves"]} == {"cached"}

    skill = repo / "taxonomy/compositional_skills/a/qna.yaml"
    skill.write_text(skill.read_text().replace("Skill number 1", "Skill number one"))
    code, third = gen(repo, teacher)
    assert {k: v["status"] for k, v in by_path(third).items()} == {
        "compositional_skills/a": "generated",
        "compositional_skills/grounded/b": "cached",
        "knowledge/c": "cached",
    }

    code, dry = gen(repo, teacher, "--dry-run", "taxonomy/knowledge")
    assert [(v["status"], v["reason"]) for v in dry["leaves"]] == [("cached", "unchanged")]
    (repo / "taxonomy/knowledge/c/documents/topic.md").write_text(DOC + "\n\nOne more fact.\n")
    code, dry = gen(repo, teacher, "--dry-run", "taxonomy/knowledge")
    assert [(v["status"], v["reason"]) for v in dry["leaves"]] == [
        ("pending", "changed: leaf content")
    ]


def test_damaged_entry_is_regenerated(repo: Path, teacher: str) -> None:
    gen(repo, teacher, "taxonomy/compositional_skills/a")
    [entry] = (repo / ".bot/generate/entries").glob("*/*/data.jsonl")
    entry.write_text(entry.read_text()[:-20])  # truncated
    code, again = gen(repo, teacher, "--dry-run", "taxonomy/compositional_skills/a")
    assert again["leaves"][0]["reason"] == "stored entry is damaged or incomplete"
    code, again = gen(repo, teacher, "taxonomy/compositional_skills/a")
    assert code == 0 and again["leaves"][0]["status"] == "generated"


def test_invalid_leaf_is_refused_with_diagnostics(repo: Path, teacher: str) -> None:
    bad = repo / "taxonomy/compositional_skills/a/qna.yaml"
    bad.write_text(bad.read_text().replace("created_by: tester", "created_by: [tester"))
    code, out = gen(repo, teacher, "taxonomy/compositional_skills")
    assert code == 1
    failed = [v for v in out["leaves"] if v["status"] == "failed"]
    assert [v["path"] for v in failed] == ["compositional_skills/a"]
    assert out["summary"]["failed"] == 1
    proc = run_bot("generate", "--teacher", teacher, "taxonomy/compositional_skills/a", cwd=repo)
    assert "[yaml-syntax]" in proc.stdout and proc.returncode == 1


def test_unreachable_teacher_is_a_clear_error(repo: Path) -> None:
    proc = run_bot("generate", "--teacher", "openai:http://127.0.0.1:9/v1", cwd=repo, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "teacher openai:http://127.0.0.1:9/v1" in proc.stderr
    assert not (repo / ".bot/generate/entries").exists()


def test_missing_model_dir(repo: Path, tmp_path: Path) -> None:
    proc = run_bot("generate", "--teacher", f"hf:{tmp_path}/nope", cwd=repo)
    assert proc.returncode == 2 and "no such directory" in proc.stderr
    shutil.rmtree(repo / ".bot", ignore_errors=True)


def test_dry_run_table_fits_a_narrow_terminal(repo: Path, teacher: str) -> None:
    """Paths and reasons wrap inside the terminal's width; nothing is cut."""
    deep = "compositional_skills/writing/freeform/very_long_topic_name/another_level/leaf_x"
    folder = repo / "taxonomy" / deep
    folder.mkdir(parents=True)
    (folder / "qna.yaml").write_text(dump(skill_doc(seed=9)))
    (folder / "attribution.txt").write_text("self-authored\n")
    width = 60
    proc = run_bot(
        "generate", "--teacher", teacher, "--dry-run", cwd=repo, env={"COLUMNS": str(width)}
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert all(len(line) <= width for line in lines), lines
    assert "…" not in proc.stdout
    leaf_cells = "".join(line.split("│")[1].strip() for line in lines if line.count("│") == 4)
    assert deep in leaf_cells
    why_cells = " ".join(line.split("│")[3].strip() for line in lines if line.count("│") == 4)
    assert why_cells.strip(), why_cells
