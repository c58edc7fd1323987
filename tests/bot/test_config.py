from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, ConfigError, GenerateConfig, ValidateConfig, load_config


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()


def test_values_are_read_and_converted(tmp_path: Path) -> None:
    (tmp_path / "bot.yaml").write_text(
        "validate:\n  context_window: 2048\n  disable: [size-limit]\n"
        "generate:\n  teacher: hf:/models/x\n  temperature: 1\n"
    )
    cfg = load_config(tmp_path)
    assert cfg.validate == ValidateConfig(context_window=2048, disable=("size-limit",))
    assert cfg.generate == GenerateConfig(teacher="hf:/models/x", temperature=1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("validate:\n  windw: 1\n", "2:3: unknown key validate.windw"),
        ("validate:\n  context_window: big\n", "2:19: validate.context_window must be int"),
        ("genrate: {}\n", "1:1: unknown section 'genrate'"),
        ("generate: [1]\n", "generate: must be a mapping"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("- 1\n", "must be a mapping of sections"),
        ("generate:\n  judge: sure\n", "2:10: generate.judge must be 'logprob' or 'greedy'"),
        ("generate:\n  judge_floor: 2\n", "judge_floor, judge_calibration, grounding"),
    ],
)
def test_errors_are_located(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bot.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert message in str(info.value)
