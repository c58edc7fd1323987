"""Where the bot keeps derived files, and content hashes of model directories.

Layout: $BOT_CACHE (default ~/.cache/taxonomy-bot)/models/<name>/ for converted models and
$BOT_CACHE/fingerprints/ for memoised directory hashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

# Files whose bytes decide what a model computes; README, optimizer states etc. do not.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
CONFIG_NAMES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "adapter_config.json",
)


def cache_root() -> Path:
    env = os.environ.get("BOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "taxonomy-bot"


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def dir_fingerprint(directory: Path) -> str:
    """sha256 over a model directory's weights and configuration, memoised on disk.

    Hashing a 7B model reads ~15 GB, so the result is remembered per (path, size, mtime) of
    every relevant file: a changed or replaced file changes the key and forces a rehash.
    """
    files = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and (p.name in CONFIG_NAMES or p.suffix in WEIGHT_SUFFIXES)
    )
    stat_key = json.dumps(
        [str(directory.resolve())]
        + [[p.name, (st := p.stat()).st_size, st.st_mtime_ns] for p in files]
    )
    memo = cache_root() / "fingerprints" / hashlib.sha256(stat_key.encode()).hexdigest()
    try:
        return memo.read_text("utf-8").strip()
    except OSError:
        pass
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.name}\0{file_sha256(p)}\0".encode())
    digest = h.hexdigest()
    with contextlib.suppress(OSError):  # a read-only cache only costs a rehash next time
        write_atomic(memo, digest)
    return digest


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the rename must never expose an empty file after a crash
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
