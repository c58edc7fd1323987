"""The paths libgit2's `repo.status(untracked_files="all")` reports (staged, unstaged and
untracked; ignored files left out), found faster for `bot validate --changed`.

libgit2 takes ~0.3 s on a 20,000-file working tree: besides an lstat per file it
lists every folder, probes each for a .gitignore and walks HEAD's whole tree against
the index. Here a first run reads `.git/index` (bot/git/index.py), lstat()s and lists
everything, hashes the files whose stat data differ from the index's (or are "racily
clean"), and remembers what it saw (bot/git/memo.py). While the index stays the same,
later runs lstat each tracked file and each folder and compare in bulk with the memo;
only what moved is looked at again (hashed, or listed). Staged changes (index vs HEAD)
are libgit2's, remembered with the memo. Nothing is written to the repository.

Whatever could make the answer differ from libgit2's is left to libgit2: see
Unsupported in bot/git/index.py and bot/git/config.py. Files whose content passes
through filters (core.autocrlf; text, eol, filter, ident attributes) are asked of
libgit2 one by one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from bisect import bisect_left
from itertools import compress, count
from operator import attrgetter, ne
from pathlib import Path
from typing import Any

from bot.git import memo as gitmemo
from bot.git.config import attribute_files, settings
from bot.git.index import IndexFile, Unsupported, read_index
from bot.git.memo import Key, Memo

KINDS = (0o100644, 0o100755, 0o120000)  # entry modes, by their code in Memo.kinds
LINK, CONFLICT = 2, 3
TYPE_BITS = (0o100000, 0o100100, 0o120000)  # what lstat shows for each kind...
TYPE_MASKS = (0o170100, 0o170100, 0o170000)  # ...under these masks (links: type only)
MISSING: tuple[()] = ()  # the key of a path lstat cannot find
_KEY = attrgetter("st_mtime_ns", "st_ctime_ns", "st_ino", "st_size", "st_mode")
SAVE_FROM = 32  # rewriting the memo (MBs for 10,000 leaves) costs about this many checks
MAX_DELEGATED = 32  # more files to ask libgit2 one by one: its whole status is cheaper
ATTRIBUTES = ".gitattributes"
FILTER_ATTRS = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")
# status_file bits that concern the working tree (index-side bits are `staged`'s).
WT_BITS = 0x1F80 | 0x8000
LOW32 = 0xFFFFFFFF


def status_paths(repo: Any, head_tree: Any, cache_dir: Path) -> set[str]:
    """Keys of `repo.status(untracked_files="all")`; `head_tree` is None for an unborn HEAD."""
    try:
        return _Scan(repo, cache_dir).run(head_tree)
    except Unsupported:
        return libgit2_paths(repo, head_tree)


def libgit2_paths(repo: Any, head_tree: Any) -> set[str]:
    """The same keys from libgit2 itself, through the two diffs its status is made of
    (HEAD to index, index to working tree, with its status's options): pygit2's
    `status()` holds the GIL throughout, these calls (cffi) release it, so the caller's
    other threads run beside them."""
    from pygit2.enums import DiffOption

    index = repo.index
    index.read(False)  # as status does: reload it if it changed on disk
    flags = DiffOption.INCLUDE_TYPECHANGE
    if head_tree is None:
        paths = {entry.path for entry in index}  # an unborn HEAD: every entry is staged
    else:
        paths = _delta_paths(index.diff_to_tree(head_tree, flags))
    untracked = flags | DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS
    return paths | _delta_paths(index.diff_to_workdir(untracked))


def _delta_paths(diff: Any) -> set[str]:
    paths: set[str] = set()
    for delta in diff.deltas:
        paths.update((delta.old_file.path, delta.new_file.path))
    return paths


class _Scan:
    def __init__(self, repo: Any, cache_dir: Path) -> None:
        self.repo, self.cache_dir = repo, cache_dir
        self.root = str(repo.workdir)
        self.ignored = repo.path_is_ignored
        self.cutoff = time.time_ns() - gitmemo.TRUST_MARGIN_NS
        self.fd = -1
        # Saving never matters for correctness (what moved is looked at again anyway),
        # only for speed: save a new memo, or one that now spares enough work.
        self.dirty = False
        self.gains = 0  # files or folders the memo now vouches for that it did not
        self.outside_attributes: bool | None = None

    def run(self, head_tree: Any) -> set[str]:
        filemode, self.crlf = settings(self.repo)
        self.masks = TYPE_MASKS if filemode else (0o170000,) * 3
        index_path = os.path.join(self.repo.path, "index")
        memo = gitmemo.load(self.cache_dir)
        with contextlib.suppress(OSError):  # before listing: the parents list as they stay
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            checksum = _checksum(index_path)
            if memo is not None and checksum.strip(b"\0") and memo.index == checksum:
                changed = self._quick(memo)
            else:
                memo, changed = self._full(read_index(index_path))
            untracked = self._untracked(memo)
        finally:
            os.close(self.fd)
        head = str(head_tree.id) if head_tree is not None else ""
        if self.dirty or memo.head != head:  # a new memo, or HEAD moved
            memo.head, memo.staged = head, sorted(self._staged(memo, head_tree))
            self.dirty = True
        if self.dirty or self.gains >= SAVE_FROM:
            gitmemo.save(self.cache_dir, memo)
        return changed | untracked | set(memo.staged)

    def _staged(self, memo: Memo, head_tree: Any) -> set[str]:
        if head_tree is None:
            return set(memo.paths)
        return _delta_paths(self.repo.index.diff_to_tree(head_tree))

    def _full(self, index: IndexFile) -> tuple[Memo, set[str]]:
        """No memo for this index: compare every file with the index's stat data."""
        self.dirty = True
        entries = index.entries
        memo = Memo(
            index.checksum,
            [e[0] for e in entries],
            b"".join(e[7] for e in entries),
            bytes(CONFLICT if e[8] else KINDS.index(e[6]) for e in entries),
            [None] * len(entries),
            [],
            [],
        )
        memo.attributes = any(p.rpartition("/")[2] == ATTRIBUTES for p in memo.paths)
        self._walk(memo, ".", set())
        changed: set[str] = set()
        fd, racy = self.fd, index.mtime_ns
        suspects: list[tuple[int, Key]] = []
        for i, (path, ctime, mtime, ino, size, bits, _mode, _sha, stage) in enumerate(entries):
            if stage:
                changed.add(path)
                continue
            st = _lstat(path, fd)
            if st is None:
                changed.add(path)
            elif (
                st.st_mtime_ns == mtime
                and st.st_ctime_ns == ctime
                and st.st_size & LOW32 == size
                and st.st_ino & LOW32 == ino
                and st.st_mode & (0o170000 if bits == stat.S_IFLNK else 0o170100) == bits
                and mtime < racy  # else "racily clean": it may have changed since
            ):
                memo.expected[i] = gitmemo.trusted(_KEY(st), self.cutoff)
            else:
                suspects.append((i, _KEY(st)))
        return memo, changed | self._settle(memo, suspects)

    def _quick(self, memo: Memo) -> set[str]:
        """The index is the one the memo describes: look again only at what moved."""
        keys = _keys(memo.paths, self.fd)
        changed: set[str] = set()
        suspects: list[tuple[int, Key]] = []
        for i in compress(count(), map(ne, keys, memo.expected)):
            key = keys[i]
            if key == MISSING:  # deleted, or a folder on its path is
                changed.add(memo.paths[i])
                self._expect(memo, i, None)
            else:
                suspects.append((i, key))  # type: ignore[arg-type]
        folder_keys = _keys(memo.folders, self.fd)
        stale = list(compress(count(), map(ne, folder_keys, memo.folder_keys)))
        if stale:
            self._relist(memo, stale, folder_keys)
        return changed | self._settle(memo, suspects)

    def _relist(self, memo: Memo, stale: list[int], keys: list[Key | tuple[()]]) -> None:
        """List again the folders whose lstat data moved; forget those that are gone (the
        files under them are then missing too) and walk the ones that appeared."""
        known = set(memo.folders)
        gone: set[int] = set()
        for i in stale:
            folder, key = memo.folders[i], keys[i]
            if key == MISSING or not stat.S_ISDIR(key[4]):  # type: ignore[misc]
                if key != MISSING and stat.S_ISLNK(key[4]):  # type: ignore[misc]
                    raise Unsupported(f"{folder} became a symbolic link")
                gone.add(i)
                memo.untracked.pop(folder, None)
                continue
            memo.folder_keys[i] = gitmemo.trusted(key, self.cutoff)  # type: ignore[arg-type]
            self.gains += memo.folder_keys[i] is not None
            for sub in self._visit(memo, folder):
                if sub not in known:
                    self.gains += 1
                    self._walk(memo, sub, known)
        if gone:
            kept = [i for i in range(len(memo.folders)) if i not in gone]
            memo.folders = [memo.folders[i] for i in kept]
            memo.folder_keys = [memo.folder_keys[i] for i in kept]

    def _expect(self, memo: Memo, i: int, key: Key | None) -> None:
        if memo.expected[i] != key:
            memo.expected[i] = key
            self.gains += key is not None

    def _settle(self, memo: Memo, suspects: list[tuple[int, Key]]) -> set[str]:
        """Of the files whose stat data moved, those whose type, mode or content differ."""
        changed: set[str] = set()
        content: list[tuple[int, Key]] = []
        for i, key in suspects:
            kind = memo.kinds[i]
            if kind == CONFLICT or key[4] & self.masks[kind] != TYPE_BITS[kind] & self.masks[kind]:
                changed.add(memo.paths[i])
                self._expect(memo, i, None)
            else:
                content.append((i, key))
        asked = {i for i, _ in content if memo.kinds[i] != LINK and self._filtered(memo, i)}
        if len(asked) > MAX_DELEGATED:
            raise Unsupported("many filtered files to check")
        for i, key in content:
            path = memo.paths[i]
            if i in asked:
                differs = bool(self.repo.status_file(path) & WT_BITS)
            else:
                differs = self._differs(path, memo.kinds[i], memo.shas[20 * i : 20 * i + 20])
            if differs:
                changed.add(path)
            self._expect(memo, i, None if differs else gitmemo.trusted(key, self.cutoff))
        return changed

    def _filtered(self, memo: Memo, i: int) -> bool:
        """Would libgit2 pass this file through a filter before hashing it?"""
        if self.crlf:
            return True
        if self.outside_attributes is None:
            self.outside_attributes = attribute_files(self.repo)
        if not (memo.attributes or self.outside_attributes):
            return False  # get_attr's first call loads the index (~0.03 s): skipped
        return any(self.repo.get_attr(memo.paths[i], a) is not None for a in FILTER_ATTRS)

    def _differs(self, path: str, kind: int, sha: bytes) -> bool:
        try:
            if kind == LINK:
                return blob_id(os.fsencode(os.readlink(path, dir_fd=self.fd))) != sha
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.fd)
            with open(fd, "rb") as fh:
                return blob_id(fh.read()) != sha
        except (FileNotFoundError, NotADirectoryError):
            return True
        except OSError as exc:
            raise Unsupported(f"{path}: {exc}") from exc

    def _walk(self, memo: Memo, start: str, known: set[str]) -> None:
        """List `start` and every folder below it not in `known`, into the memo."""
        stack = [start]
        while stack:
            folder = stack.pop()
            st = _lstat(folder, self.fd)
            if st is None or not stat.S_ISDIR(st.st_mode):
                continue  # gone since its parent was listed
            memo.folders.append(folder)
            memo.folder_keys.append(gitmemo.trusted(_KEY(st), self.cutoff))
            known.add(folder)
            stack.extend(s for s in self._visit(memo, folder) if s not in known)

    def _visit(self, memo: Memo, folder: str) -> list[str]:
        """List one folder and record its untracked names; returns the subfolders to visit.
        A tracked subfolder that is gone needs nothing: the files under it are missing."""
        prefix = _prefix(folder)
        subdirs, files, others = _list(os.path.join(self.root, prefix))
        kids, tracked = _children(memo.paths, prefix)
        visit = [prefix + name for name in subdirs if name in kids]
        new_dirs = tuple(name for name in subdirs if name not in kids)
        for name in new_dirs:
            if name == ".git" and prefix:
                raise Unsupported(f"nested repository {prefix}{name}")
            if name != ".git" and not self.ignored(f"{prefix}{name}/"):
                visit.append(prefix + name)
        for name in set(kids).intersection(files):
            if os.path.islink(os.path.join(self.root, prefix, name)):
                # lstat would follow it to the files under it; libgit2 calls them deleted
                raise Unsupported(f"{prefix}{name} became a symbolic link")
        new_files = tuple(name for name in files if name not in tracked) if files != tracked else ()
        if ".git" in new_files and prefix:  # a submodule's or linked worktree's pointer
            raise Unsupported(f"nested repository {prefix}.git")
        memo.attributes = memo.attributes or ATTRIBUTES in files
        names = (new_files, tuple(n for n in new_dirs if n != ".git"), others)
        if any(names):
            memo.untracked[folder] = names
        else:
            memo.untracked.pop(folder, None)
        return visit

    def _untracked(self, memo: Memo) -> set[str]:
        """The untracked files libgit2 would report. An untracked folder is walked when
        first seen unless ignored; one that is no longer ignored is walked now."""
        known: set[str] | None = None
        for folder, (_files, dirs, _others) in list(memo.untracked.items()):
            prefix = _prefix(folder)
            for rel in (prefix + name for name in dirs):
                if not self.ignored(rel + "/"):
                    known = set(memo.folders) if known is None else known
                    if rel not in known:
                        self.gains += 1
                        self._walk(memo, rel, known)
        out: set[str] = set()
        for folder, (files, _dirs, others) in memo.untracked.items():
            prefix = _prefix(folder)
            for name in others:
                if not self.ignored(prefix + name):
                    raise Unsupported(f"special file {prefix}{name}")
            out.update(_utf8(prefix + n) for n in files if not self.ignored(prefix + n))
        return out


def blob_id(data: bytes) -> bytes:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).digest()


def _checksum(index_path: str) -> bytes:
    """The index file's trailing hash, which names its content; b"" without one."""
    try:
        with open(index_path, "rb") as fh:
            fh.seek(-20, os.SEEK_END)
            return fh.read(20)
    except OSError:
        return b""


def _lstat(path: str, fd: int) -> os.stat_result | None:
    try:
        return os.lstat(path, dir_fd=fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise Unsupported(f"{path}: {exc}") from exc


def _keys(paths: list[str], fd: int) -> list[Key | tuple[()]]:
    """lstat data of every path, MISSING where there is none; the loop is kept bare
    (one call and one attrgetter per path) as it runs 20,000 times per run."""
    lstat, key = os.lstat, _KEY
    try:
        return [key(lstat(p, dir_fd=fd)) for p in paths]
    except OSError:
        return [MISSING if (st := _lstat(p, fd)) is None else key(st) for p in paths]


def _prefix(folder: str) -> str:
    return "" if folder == "." else folder + "/"


def _list(path: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(subfolders, files and symbolic links, anything else), each sorted."""
    subdirs, files, others = [], [], []
    try:
        with os.scandir(path) as it:
            for item in it:
                if item.is_dir(follow_symlinks=False):
                    subdirs.append(item.name)
                elif item.is_file(follow_symlinks=False) or item.is_symlink():
                    files.append(item.name)
                else:
                    others.append(item.name)
    except OSError as exc:
        raise Unsupported(f"{path}: {exc}") from exc
    return tuple(sorted(subdirs)), tuple(sorted(files)), tuple(sorted(others))


def _children(paths: list[str], prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The subfolder and file names directly under `prefix` among the sorted `paths`,
    sorted as listings are; each subfolder's range is skipped by bisection."""
    lo, end = (bisect_left(paths, prefix), _end(paths, prefix)) if prefix else (0, len(paths))
    kids, files = [], []
    n = len(prefix)
    while lo < end:
        rest = paths[lo][n:]
        cut = rest.find("/")
        if cut < 0:
            files.append(rest)
            lo += 1
        else:
            kids.append(rest[:cut])
            lo = _end(paths, prefix + rest[: cut + 1], lo)
    return tuple(sorted(kids)), tuple(files)


def _end(paths: list[str], prefix: str, lo: int = 0) -> int:
    """Where the paths starting with `prefix` (ending in "/") end: "/" + 1 is "0"."""
    return bisect_left(paths, prefix[:-1] + "0", lo)


def _utf8(rel: str) -> str:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError as exc:  # not UTF-8 on disk: libgit2's spelling may differ
        raise Unsupported(f"file name {rel!r}") from exc
    return rel
