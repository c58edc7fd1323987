"""Documentation that users read must match the code: rule ids, README commands."""

from __future__ import annotations

import re
from pathlib import Path

from bot.validation.rules import RULES

ROOT = Path(__file__).resolve().parent.parent


def test_every_rule_documented_with_its_severity() -> None:
    text = (ROOT / "schema" / "README.md").read_text()
    documented = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (error|warning)", text, re.M))
    assert documented == {r.id: r.severity.value for r in RULES.values()}


def test_readme_commands_are_the_dev_script() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./dev.sh run" in readme and "./dev.sh test" in readme
    assert "./dev.sh test" in (ROOT / ".ci" / "run").read_text()


def test_pre_commit_files_are_valid() -> None:
    import subprocess
    import sys

    for cmd, path in (
        ("validate-manifest", ".pre-commit-hooks.yaml"),
        ("validate-config", ".pre-commit-config.yaml"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "pre_commit", cmd, str(ROOT / path)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bot_yaml_lists_every_knob_and_every_profile_loads() -> None:
    import dataclasses
    import re
    import typing

    from bot.config import Config, load_config

    root = Path(__file__).resolve().parent.parent
    text = (root / "bot.yaml").read_text()
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        assert re.search(rf"^{section.name}:$", text, re.M), section.name
        for knob in dataclasses.fields(hints[section.name]):
            assert re.search(rf"^  # {knob.name}: ", text, re.M), f"{section.name}.{knob.name}"
    load_config(root)  # the repository's own settings are valid
    assert load_config(root, Path("runners/bot.gpu.yaml")).train.mixed_precision == "bf16"


def test_no_merge_conflict_markers_in_tracked_text() -> None:
    import pygit2

    repo = pygit2.Repository(str(ROOT))
    marker = re.compile(r"^(<{7} |>{7} |={7}$)", re.M)
    suffixes = {".md", ".py", ".yml", ".yaml", ".toml", ".sh", ".txt", ".json"}
    found = [
        entry.path
        for entry in repo.index
        if Path(entry.path).suffix in suffixes
        and (ROOT / entry.path).is_file()
        and marker.search((ROOT / entry.path).read_text(errors="replace"))
    ]
    assert found == [], f"merge conflict markers left in {found}"
