"""The model store: released model folders, named by their digest (weights are never
committed; a manifest records the digest and the store holds the folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.release.state import ReleaseError

# What a released model needs; the optimizer state of the last checkpoint is left behind.
SKIP = frozenset({"state", "adapter"})


def store_root(configured: str | None, work: Path, root: Path) -> Path:
    if not configured:
        return work / "releases"
    path = Path(configured).expanduser()
    return path if path.is_absolute() else root / path


def digest(folder: Path) -> str:
    from trainer.models.hf import dir_weights_id

    return dir_weights_id(folder)


def folder_for(store: Path, model_digest: str) -> Path:
    return store / model_digest.replace(":", "-")


def put(model: Path, store: Path) -> tuple[str, Path]:
    """Copy a trained model folder into the store (atomically: a temporary folder renamed
    into place); returns its digest and stored folder. The same weights are stored once."""
    found = digest(model)
    target = folder_for(store, found)
    if target.is_dir() and digest(target) == found:
        return found, target
    tmp = target.with_name(f".tmp-{target.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for item in model.iterdir():
        if item.name in SKIP or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, tmp / item.name)
        else:
            shutil.copy2(item, tmp / item.name)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    if digest(target) != found:
        raise ReleaseError(f"{target}: the stored copy does not match {found}; disk trouble?")
    return found, target


def find(store: Path, model_digest: str, version: str) -> Path:
    """The stored folder of an earlier release, checked against its manifest's digest."""
    target = folder_for(store, model_digest)
    if not target.is_dir():
        raise ReleaseError(
            f"release {version}'s model {model_digest} is not in the model store {target.parent} "
            "(release.model_store in bot.yaml, or restore it from the release artifact)"
        )
    if digest(target) != model_digest:
        raise ReleaseError(f"{target} does not hold {model_digest}: the store was modified")
    return target
