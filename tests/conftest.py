"""Shared fixtures: write real leaves and real git repositories in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

WORDS = [
    "amber",
    "basalt",
    "cobalt",
    "dune",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "iris",
    "jasper",
    "kelp",
    "lagoon",
    "meadow",
    "nectar",
    "onyx",
    "prairie",
    "quartz",
    "reef",
    "sierra",
    "tundra",
    "umber",
    "valley",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
]


def sentence(seed: int, n: int = 9) -> str:
    picked = (WORDS[(seed * 7 + i * (seed % 5 + 3)) % len(WORDS)] for i in range(n))
    return " ".join(picked) + f" {seed}"


def skill_doc(version: int = 3, n: int = 5, seed: int = 0, grounded: bool = False) -> dict:
    examples = []
    for i in range(n):
        ex = {
            "question": f"Question {seed}-{i}: {sentence(seed * 100 + i)}?",
            "answer": f"Answer {seed}-{i}: {sentence(seed * 100 + i + 50, 12)}.",
        }
        if grounded:
            ex = {"context": f"Context {seed}-{i}: {sentence(seed * 100 + i + 25, 20)}.", **ex}
        examples.append(ex)
    doc: dict = {
        "created_by": "tester",
        "task_description": f"Skill number {seed}",
        "seed_examples": examples,
    }
    if version > 1:
        doc = {"version": version, **doc}
    return doc


def knowledge_doc(seed: int = 0, document: dict | None = None) -> dict:
    return {
        "version": 3,
        "created_by": "tester",
        "domain": "testing",
        "document_outline": "A made-up document for tests.",
        "seed_examples": [
            {
                "context": f"Passage {seed}-{i}: {sentence(seed * 100 + i, 30)}.",
                "questions_and_answers": [
                    {
                        "question": f"Q {seed}-{i}-{j}: {sentence(seed * 1000 + i * 10 + j)}?",
                        "answer": f"A {seed}-{i}-{j}: {sentence(seed * 1000 + i * 10 + j + 500)}.",
                    }
                    for j in range(3)
                ],
            }
            for i in range(5)
        ],
        "document": document or {"patterns": ["documents/*.md"]},
    }


def dump(doc: object) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)


LeafWriter = Callable[..., Path]


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Model conversions and fingerprint memos go to a temporary cache, never the user's
    (subprocesses inherit it)."""
    monkeypatch.setenv("BOT_CACHE", str(tmp_path_factory.getbasetemp() / "bot-cache"))


@pytest.fixture
def write_leaf(tmp_path: Path) -> LeafWriter:
    """write_leaf("compositional_skills/x", doc_or_text, attribution=True) -> qna.yaml path."""

    def write(
        rel: str, content: object, attribution: bool | str = True, name: str = "qna.yaml"
    ) -> Path:
        folder = tmp_path / "taxonomy" / rel
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else dump(content), "utf-8")
        if attribution:
            text = attribution if isinstance(attribution, str) else "Source: self-authored\n"
            (folder / "attribution.txt").write_text(text, "utf-8")
        return path

    return write


def run_bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `bot` entry point in a subprocess (stdin closed, like CI)."""
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=full_env,
        timeout=timeout,
    )


def run_json(*args: str, cwd: Path) -> tuple[int, dict]:
    proc = run_bot(*args, "--format", "json", cwd=cwd)
    assert proc.stderr == "" or proc.returncode == 2, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def closed_to_others(*paths: Path) -> Path | None:
    """The first folder on the way to PATHS that a user outside its owner and group cannot
    enter (a clone inside `mktemp -d` is 0700): tests that run the bot as another user need
    the checkout and the interpreter's packages reachable, else they say why they skip."""
    import stat

    for path in paths:
        for folder in [*reversed(path.resolve().parents), path.resolve()]:
            if not folder.stat().st_mode & stat.S_IXOTH:
                return folder
    return None
