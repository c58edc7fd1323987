"""The knobs of phase mixing and the replay buffer (bot.yaml `mix:` and `replay:`).

Plain dataclasses in a module of their own, so reading bot.yaml (on the `bot validate`
path too) never imports the data code itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MixConfig:
    replay_ratio: float = 0.3  # skills phase: share of replayed rows (knowledge phase + buffer)
    knowledge_replay_ratio: float = 0.2  # knowledge phase: share of rows replayed from the buffer
    seed: int = 0
    foundational_in_knowledge: bool = True  # False: foundational skills train with the skills
    distill_replay: bool = False  # regenerate replayed answers with the model being continued

    def __post_init__(self) -> None:
        for name in ("replay_ratio", "knowledge_replay_ratio"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1)")


@dataclass(frozen=True)
class ReplayConfig:
    max_rows: int = 20000  # rows across all leaves; each leaf gets an equal share
    seed: int = 0  # reservoir and shrink draws derive from (seed, leaf, leaf_hash)
    keep_versions: int = 5  # snapshots kept for releases to refer to (the current included)

    def __post_init__(self) -> None:
        if self.max_rows < 0:
            raise ValueError("replay max_rows must be >= 0")
        if self.keep_versions < 1:
            raise ValueError("replay keep_versions must be >= 1")
