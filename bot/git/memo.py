"""What bot/git/scan.py remembers between runs, in `.bot/cache/gitscan-v2.bin` (marshal).

The memo describes one index file (by its trailing checksum): its entries' paths, blob
ids and modes, and for each tracked file the lstat data it had when its content was
last found equal to its entry. A later run that sees the same lstat data knows the
file is unchanged without hashing it, and needs neither the index's stat data nor
its racy-entry rules. Likewise each folder's lstat data with the untracked names it
held. Stat data are only remembered when older than the scan by TRUST_MARGIN_NS, so
a change in the same timestamp tick cannot hide behind equal values.
"""

from __future__ import annotations

import marshal
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

NAME = "gitscan-v2.bin"
FORMAT = 2
TRUST_MARGIN_NS = 3 * 10**9

# lstat data compared between runs: mtime ns, ctime ns, inode, size, mode.
Key = tuple[int, int, int, int, int]
# A folder's untracked names: files, subfolders, other (special) files, ignored included.
Untracked = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@dataclass
class Memo:
    index: bytes  # checksum of the index file described
    paths: list[str]  # the entries' paths, in index order (sorted)
    shas: bytes  # 20 bytes per entry
    kinds: bytes  # per entry: a code from gitscan.KINDS, or CONFLICT
    expected: list[Key | None]  # per entry; None: look at the file again
    folders: list[str]  # folders walked, as lstat takes them: "." and "a/b"
    folder_keys: list[Key | None]  # per folder; None: list it again
    untracked: dict[str, Untracked] = field(default_factory=dict)  # by folder, if any
    attributes: bool = False  # a .gitattributes file was seen (tracked or not)
    head: str = ""  # HEAD's tree id for `staged`
    staged: list[str] = field(default_factory=list)  # paths differing between HEAD and index


def load(cache_dir: Path) -> Memo | None:
    try:
        raw = (cache_dir / NAME).read_bytes()
        data = marshal.loads(raw)  # marshal.load(file) reads in small pieces: 5x slower
        if not isinstance(data, tuple) or data[0] != FORMAT:
            return None
        return Memo(*data[1:])
    except (OSError, EOFError, ValueError, TypeError):
        return None


def save(cache_dir: Path, memo: Memo) -> None:
    """Replace the memo atomically; a read-only checkout just goes without."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            marshal.dump((FORMAT, *(getattr(memo, f.name) for f in fields(memo))), fh)
        os.replace(tmp, cache_dir / NAME)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def trusted(key: Key | None, cutoff: int) -> Key | None:
    """`key` if its mtime is old enough to be remembered (see the module doc)."""
    return key if key is not None and key[0] < cutoff else None
