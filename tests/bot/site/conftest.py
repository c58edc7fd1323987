"""A real git repository with a small taxonomy (one leaf fails validation) and a workspace
holding what the site reads (tests/bot/site/synth.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.workspace import Workspace
from tests.bot.site import synth
from tests.conftest import dump, skill_doc
from tests.gitrepo import Repo

LEAVES = (
    "compositional_skills/writing/freeform/haiku",
    "compositional_skills/writing/freeform/limerick",
    "compositional_skills/linguistics/antonyms",
    "foundational_skills/reasoning/unit_conversion",
    "compositional_skills/grounded/summary",
)
INVALID = "compositional_skills/writing/freeform/sonnet"  # no created_by: fails validation
MERGES = 6


@dataclass
class SiteRepo:
    repo: Repo
    ws: Workspace

    @property
    def root(self) -> Path:
        return self.repo.path


def make_repo(path: Path) -> Repo:
    repo = Repo(path)
    for i, leaf in enumerate((*LEAVES, INVALID)):
        doc = skill_doc(seed=i + 1)
        if leaf == INVALID:
            doc.pop("created_by")
        repo.write(f"taxonomy/{leaf}/qna.yaml", dump(doc))
        repo.write(f"taxonomy/{leaf}/attribution.txt", "Source: self-authored\n")
    repo.commit("a small taxonomy")
    return repo


@pytest.fixture
def site_repo(tmp_path: Path) -> SiteRepo:
    repo = make_repo(tmp_path / "repo")
    ws = Workspace.open(repo.path)
    synth.workspace(repo.path, ws.layout.work, [*LEAVES, INVALID], merges=MERGES)
    return SiteRepo(repo, ws)
