"""A tiny taxonomy in a real git repository (pygit2), a tiny random Llama as base model
and teacher, and `bot release` run through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import dump, skill_doc
from tests.gitrepo import Repo
from tests.tiny import build_tiny_model
from tests.trainer.evaluation.conftest import PAIRS, antonyms_doc

ANTONYMS = "compositional_skills/linguistics/antonyms"
SYNONYMS = "compositional_skills/linguistics/synonyms"
NO_LIMITS = "[nll=inf]"


@pytest.fixture(autouse=True)
def _private(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    torch.set_num_threads(1)  # tiny matrices; a shared machine
    monkeypatch.setenv("BOT_CACHE", str(tmp_path_factory.getbasetemp() / "bot-cache"))
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("release-tiny"), max_positions=2048)


def bot_yaml(tiny: Path, lr: float = 1e-4, limits: str = NO_LIMITS, extra: str = "") -> str:
    return (
        f"generate: {{teacher: 'hf:{tiny}', samples: 1, max_rounds: 1}}\n"
        f"train: {{max_steps: 1, batch_size: 2, lr: {lr}, warmup_steps: 0, "
        "choose_checkpoint: false, keep_checkpoints: 1}\n"
        f"release:\n  base: 'hf:{tiny}'\n  general: false\n  max_regression: {limits}\n"
        "  author_name: Release Tester\n  author_email: rt@example.org\n" + extra
    )


def leaf(repo: Repo, path: str, doc: dict) -> None:
    repo.write(f"taxonomy/{path}/qna.yaml", dump(doc))
    repo.write(f"taxonomy/{path}/attribution.txt", "self-authored\n")


@pytest.fixture
def repo(tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """Two skills committed on main, .bot/ ignored; the current folder."""
    r = Repo(tmp_path / "repo")
    r.write(".gitignore", ".bot/\n")
    card = "  base_model_id: test-org/tiny-llama\n  datasets: [test-org/taxonomy-data]\n"
    r.write("bot.yaml", bot_yaml(tiny, extra=card))
    leaf(r, ANTONYMS, antonyms_doc())
    leaf(r, SYNONYMS, skill_doc(seed=1))
    r.commit("taxonomy")
    monkeypatch.chdir(r.path)
    return r


Release = Callable[..., tuple[int, str, str]]


@pytest.fixture
def release(capsys: pytest.CaptureFixture[str]) -> Release:
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["release", *args])
        out = capsys.readouterr()
        assert "Traceback" not in out.err, out.err
        return code, out.out, out.err

    return run


__all__ = ["ANTONYMS", "PAIRS", "SYNONYMS", "leaf"]
