"""`bot simulate --fast` through the CLI: every step of the lifecycle happened, against the
GitHub emulator and a bare git repository (about 45 s on a CPU)."""

from __future__ import annotations

from pathlib import Path

import pygit2
import yaml

from tests.conftest import run_bot

STEPS = {
    "validation-failed": ["<!-- taxonomy-bot:validation -->", "unknown key 'hint'"],
    "validation": ["<!-- taxonomy-bot:validation -->", "✅ Validation"],
    "approval": ["<!-- taxonomy-bot:approval -->", "/ok-to-generate"],
    "generation": ["<!-- taxonomy-bot:generation -->", "Generation for"],
    "benchmark": ["<!-- taxonomy-bot:benchmark -->", "**Benchmark**"],
    "release-command": ["`/release`"],
    "release": ["<!-- taxonomy-bot:release -->", "## Release v0.1.0", "RELEASE_MODEL"],
}


def test_simulate_fast_plays_the_whole_lifecycle(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    proc = run_bot(
        "simulate", "--fast", "--out", str(out), cwd=tmp_path,
        env={"BOT_CACHE": str(tmp_path / "cache")}, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for n, step in enumerate(("validation fails", "the gate refuses", "the gate opens",
                              "maintainer merges", "tagged and pushed")):  # fmt: skip
        assert step in proc.stdout, (n, proc.stdout[-2000:])
    for step, needles in STEPS.items():
        text = (out / "comments" / f"{step}.md").read_text()
        assert all(n in text for n in needles), (step, text[:500])
    origin = pygit2.Repository(str(out / "origin.git"))
    assert origin.is_bare and "refs/tags/v0.1.0" in origin.references
    tagged = origin.revparse_single("refs/tags/v0.1.0").peel(pygit2.Commit)
    assert origin.references["refs/heads/main"].target == tagged.id  # main was pushed too
    manifest = yaml.safe_load(tagged.tree["releases/0.1.0/manifest.yaml"].data)
    assert set(manifest["leaves"]) == {
        "compositional_skills/linguistics/antonyms",
        "foundational_skills/reasoning/unit_conversion",
    }
    assert manifest["changes"]["added"] == sorted(manifest["leaves"])
    assert tagged.tree["taxonomy/foundational_skills/reasoning/unit_conversion/qna.yaml"]
