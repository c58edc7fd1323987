"""The repository's bot.yaml: every knob with its default, loaded strictly.

Unknown keys are errors (a typo must never be silently ignored). Only the
`validate` section is read on the validate path; later stages add sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.problems import Problem, error
from bot.taxonomy.yamlload import load

FILE = "bot.yaml"


@dataclass(frozen=True)
class ValidateConfig:
    context_window: int = 4096  # the student's context window, in tokens
    tokenizer: str | None = None  # tokenizer.json (or a folder holding one), relative to root
    disable: tuple[str, ...] = ()
    require_version: int | None = None


@dataclass(frozen=True)
class Config:
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    raw: dict[str, Any] = field(default_factory=dict)  # all sections, for later stages


class ConfigError(Exception):
    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path, self.problems = path, problems
        super().__init__("; ".join(f"{path}:{p.line}:{p.column}: {p.message}" for p in problems))


def _validate_section(data: Any, where: Any) -> tuple[ValidateConfig, list[Problem]]:
    if data is None:
        return ValidateConfig(), []
    if not isinstance(data, dict):
        return ValidateConfig(), [error("config", "validate: must be a mapping", *where(()))]
    known = {"context_window": int, "tokenizer": str, "disable": list, "require_version": int}
    problems = []
    for key, value in data.items():
        want = known.get(key)
        if want is None:
            problems.append(
                error(
                    "config",
                    f"unknown key validate.{key}; known: {', '.join(known)}",
                    *where(("validate", key), key=True),
                )
            )
        elif not isinstance(value, want) or isinstance(value, bool):
            problems.append(
                error(
                    "config", f"validate.{key} must be {want.__name__}", *where(("validate", key))
                )
            )
    if problems:
        return ValidateConfig(), problems
    return ValidateConfig(
        context_window=data.get("context_window", 4096),
        tokenizer=data.get("tokenizer"),
        disable=tuple(str(x) for x in data.get("disable", [])),
        require_version=data.get("require_version"),
    ), []


def load_config(root: Path) -> Config:
    path = root / FILE
    if not path.exists():
        return Config()
    doc = load(path.read_bytes())
    problems = [p for p in doc.problems if p.severity.value == "error"]
    if doc.data is None or problems:
        raise ConfigError(path, problems or [error("config", "cannot read bot.yaml")])
    if not isinstance(doc.data, dict):
        raise ConfigError(path, [error("config", "bot.yaml must be a mapping of sections")])
    section, problems = _validate_section(doc.data.get("validate"), doc.where)
    if problems:
        raise ConfigError(path, problems)
    return Config(section, doc.data)
