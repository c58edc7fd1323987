"""Read git's index file (`.git/index`, versions 2-4) without libgit2, for the fast
working-tree scan of `bot validate --changed` (bot/git/scan.py).

Format: https://git-scm.com/docs/index-format. Only what the scan needs is kept: per
entry the path, the stat data git recorded, the mode and the blob id. Anything the scan
cannot treat exactly like libgit2 raises Unsupported, and the caller falls back to
libgit2's status: split or sparse indexes, entries flagged skip-worktree,
intent-to-add or assume-unchanged, submodules (gitlinks), paths that are not UTF-8.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

# Per entry: ctime s, ns; mtime s, ns; dev; ino; mode; uid; gid; size; blob id; flags.
_ENTRY = struct.Struct(">10I20sH")
_HEADER = struct.Struct(">4sII")
_EXT = struct.Struct(">4sI")
ASSUME_VALID, EXTENDED, STAGE_MASK, NAME_MASK = 0x8000, 0x4000, 0x3000, 0x0FFF
# The lstat mode bits a clean entry must show: file type, plus the owner's exec bit
# for regular files (git records 100644 or 100755 only).
MODE_BITS = {0o100644: 0o100000, 0o100755: 0o100100, 0o120000: 0o120000}
REFUSED_EXTENSIONS = (b"link", b"sdir")  # split index, sparse index


class Unsupported(Exception):
    """Something the fast scan does not handle; use libgit2's status instead."""


# (path, ctime ns, mtime ns, ino, size, mode bits (MODE_BITS), mode, blob id, stage);
# ino and size as git stores them, truncated to 32 bits.
Entry = tuple[str, int, int, int, int, int, int, bytes, int]


@dataclass(frozen=True)
class IndexFile:
    entries: list[Entry]
    checksum: bytes  # the file's trailing hash: names this exact content
    mtime_ns: int  # entries whose file is as new as this are "racily clean"


def read_index(path: str | os.PathLike[str], hash_size: int = 20) -> IndexFile:
    """The index at `path`; an absent file is an empty index (a new repository)."""
    try:
        with open(path, "rb") as fh:
            mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
            data = fh.read()
    except FileNotFoundError:
        return IndexFile([], b"", 0)
    try:
        return IndexFile(_parse(data, hash_size), data[-hash_size:], mtime_ns)
    except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
        raise Unsupported(f"unreadable index: {exc}") from exc


def _parse(data: bytes, hash_size: int) -> list[Entry]:
    signature, version, count = _HEADER.unpack_from(data, 0)
    if signature != b"DIRC" or version not in (2, 3, 4):
        raise Unsupported(f"index signature {signature!r} version {version}")
    unpack, find = _ENTRY.unpack_from, data.find
    entries: list[Entry] = []
    pos, previous = _HEADER.size, b""
    for _ in range(count):
        cs, cn, ms, mn, _dev, ino, mode, _uid, _gid, size, sha, flags = unpack(data, pos)
        if flags & (ASSUME_VALID | EXTENDED):
            # assume-unchanged, or (v3+) skip-worktree / intent-to-add: libgit2 decides.
            raise Unsupported("flagged index entry")
        start = pos + _ENTRY.size
        if version == 4:
            strip, start = _varint(data, start)
            end = find(b"\0", start)
            raw = previous[: len(previous) - strip] + data[start:end]
            pos, previous = end + 1, raw
        else:
            length = flags & NAME_MASK
            end = start + length if length < NAME_MASK else find(b"\0", start)
            raw = data[start:end]
            pos += (end - pos + 8) & ~7  # NUL-padded to a multiple of 8 bytes
        bits = MODE_BITS.get(mode)
        if bits is None:
            raise Unsupported(f"index entry mode {mode:o}")  # gitlink, sparse directory
        path = raw.decode("utf-8")
        stage = (flags & STAGE_MASK) >> 12
        entries.append((path, cs * 10**9 + cn, ms * 10**9 + mn, ino, size, bits, mode, sha, stage))
    _check_extensions(data, pos, len(data) - hash_size)
    return entries


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """git's offset encoding (index v4 path prefixes): value and the position after it."""
    byte = data[pos]
    value, pos = byte & 0x7F, pos + 1
    while byte & 0x80:
        byte = data[pos]
        value, pos = ((value + 1) << 7) | (byte & 0x7F), pos + 1
    return value, pos


def _check_extensions(data: bytes, pos: int, end: int) -> None:
    while pos < end:
        signature, size = _EXT.unpack_from(data, pos)
        if signature in REFUSED_EXTENSIONS:
            raise Unsupported(f"index extension {signature!r}")
        pos += _EXT.size + size
    if pos != end:
        raise Unsupported("index extensions do not end at the checksum")
