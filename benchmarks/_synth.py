"""A deterministic synthetic taxonomy: valid v3 skill and knowledge leaves, committed with pygit2.

Text is random words from a pseudo-word vocabulary of a few thousand words, so every leaf
is distinct (no near-duplicates across leaves) while looking like prose: sentences,
questions, wrapped block scalars, attribution.txt beside every qna.yaml. Sizes stay inside
the word guidance (knowledge contexts <= 150 words, answers <= 60 words).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import shutil
import struct
import time
import zlib
from pathlib import Path
from typing import Any, ClassVar

import pygit2

GEN_VERSION = 2  # bump when the output changes: cached trees are keyed by it
_ONSETS_TEXT = "b c d f g h k l m n p r s t v w br ch cl dr fl gr pl pr sh st th tr"
_VOWELS_TEXT = "a e i o u ai ea io ou"
_ONSETS, _VOWELS = _ONSETS_TEXT.split(), _VOWELS_TEXT.split()
_CODAS = ["", "", "n", "r", "s", "l", "m", "nd", "st", "x"]
_COMMON_TEXT = (
    "the of and to in is that for it as with was on are by this be from or have an which one "
    "you were all can there their has more when will each about how many some would other "
    "these two time could may first been most through where after river system water energy "
    "history music language number process model city"
)
_COMMON = _COMMON_TEXT.split()
_ASK_TEXT = "What is|How does|Why does|Which|When did|Where is|Explain how|Describe|Summarize why"
_ASK = [*_ASK_TEXT.split("|"), "List three ways"]
_LICENSES = ["CC-BY-4.0", "CC-BY-SA-4.0", "Apache-2.0", "MIT", "CC0-1.0"]


def _vocab(size: int = 4096) -> list[str]:
    """Exactly 4,096 words (so 12 random bits pick one): pseudo-words, function words."""
    rng = random.Random(20240801)
    words: set[str] = set()
    n_pseudo = size - 8 * len(_COMMON)
    while len(words) < n_pseudo:
        n = rng.choice((1, 2, 2, 3))
        words.add(
            "".join(
                rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(n)
            )
        )
    return sorted(words) + _COMMON * 8  # function words recur, as in prose


VOCAB = _vocab()
TOPICS = VOCAB[: 4096 - 8 * len(_COMMON)]


def _pick(rng: random.Random, k: int) -> list[str]:
    """k random words, fast: 2 random bytes per word, masked to 12 bits."""
    idx = memoryview(rng.randbytes(2 * k)).cast("H")
    return [VOCAB[i & 4095] for i in idx]


def _words(rng: random.Random, lo: int, hi: int) -> list[str]:
    ws = _pick(rng, rng.randint(lo, hi))
    i = 0
    while i < len(ws):
        ws[i] = ws[i].capitalize()
        i += rng.randint(7, 15)
        ws[min(i, len(ws)) - 1] += "."
    return ws


def _block(ws: list[str], indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}{' '.join(ws[k : k + 11])}\n" for k in range(0, len(ws), 11))


def _question(rng: random.Random, indent: int) -> str:
    ws = _pick(rng, rng.randint(5, 14))
    ws[-1] += "?"
    return _block([*rng.choice(_ASK).split(), *ws], indent)


def _handle(rng: random.Random) -> str:
    return f"{rng.choice(TOPICS)}-{rng.choice(TOPICS)}{rng.randint(1, 99)}"


def skill(rng: random.Random, grounded: bool) -> str:
    out = [
        "version: 3\n",
        f"task_description: {' '.join(_words(rng, 8, 16)).rstrip('.')}.\n",
        f"created_by: {_handle(rng)}\n",
        "seed_examples:\n",
    ]
    for _ in range(rng.randint(5, 8)):
        if grounded:
            out.append("  - context: |\n" + _block(_words(rng, 25, 70), 6))
            out.append("    question: |\n" + _question(rng, 6))
        else:
            out.append("  - question: |\n" + _question(rng, 6))
        out.append("    answer: |\n" + _block(_words(rng, 10, 60), 6))
    return "".join(out)


def knowledge(rng: random.Random, name: str) -> str:
    out = [
        "version: 3\n",
        f"created_by: {_handle(rng)}\n",
        f"domain: {rng.choice(TOPICS)}\n",
        "seed_examples:\n",
    ]
    for _ in range(5):
        out.append("  - context: |\n" + _block(_words(rng, 60, 150), 6))
        out.append("    questions_and_answers:\n")
        for _ in range(3):
            out.append("      - question: |\n" + _question(rng, 10))
            out.append("        answer: |\n" + _block(_words(rng, 10, 45), 10))
    commit = f"{rng.getrandbits(160):040x}"
    out += [
        "document_outline: |\n",
        _block(_words(rng, 10, 25), 2),
        "document:\n",
        f"  repo: https://github.com/{_handle(rng)}/{name}-docs\n",
        f"  commit: {commit}\n",
        "  patterns:\n",
        f"    - {name}*.md\n",
    ]
    return "".join(out)


def attribution(rng: random.Random, name: str) -> str:
    return (
        f"Title of work: {' '.join(_words(rng, 3, 6)).rstrip('.')}\n"
        f"Link to work: https://example.org/{name}\n"
        f"Revision: {rng.randint(10**8, 10**9)}\n"
        f"License of the work: {rng.choice(_LICENSES)}\n"
        f"Creator names: {_handle(rng)}\n"
    )


class _Pack:
    """Git objects written straight into one packfile (+ v2 index): a libgit2 loose-object
    write costs ~0.25 ms each here, which made committing 20,000 files the slowest step."""

    TYPES: ClassVar[dict[str, int]] = {"commit": 1, "tree": 2, "blob": 3}

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.entries: list[tuple[bytes, int, int]] = []  # (sha, crc32, offset)
        self.offset = 12

    def add(self, kind: str, data: bytes) -> bytes:
        sha = hashlib.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).digest()
        size = len(data)
        head = bytearray([(self.TYPES[kind] << 4) | (size & 15)])
        size >>= 4
        while size:
            head[-1] |= 0x80
            head.append(size & 0x7F)
            size >>= 7
        chunk = bytes(head) + zlib.compress(data, 1)
        self.entries.append((sha, zlib.crc32(chunk), self.offset))
        self.chunks.append(chunk)
        self.offset += len(chunk)
        return sha

    def tree(self, node: dict[str, Any]) -> bytes:
        items = []
        for name, val in node.items():
            if isinstance(val, dict):
                items.append((name + "/", b"40000 %s\0" % name.encode() + self.tree(val)))
            else:
                items.append((name, b"100644 %s\0" % name.encode() + val))
        return self.add("tree", b"".join(body for _, body in sorted(items)))

    def write(self, pack_dir: Path) -> None:
        pack = b"PACK" + struct.pack(">II", 2, len(self.entries)) + b"".join(self.chunks)
        pack += hashlib.sha1(pack).digest()
        ents = sorted(self.entries)
        fan = [0] * 256
        for sha, _, _ in ents:
            fan[sha[0]] += 1
        idx = b"\xfftOc" + struct.pack(">I", 2)
        idx += struct.pack(">256I", *itertools.accumulate(fan))
        idx += b"".join(e[0] for e in ents)
        idx += struct.pack(f">{len(ents)}I", *(e[1] for e in ents))
        idx += struct.pack(f">{len(ents)}I", *(e[2] for e in ents)) + pack[-20:]
        idx += hashlib.sha1(idx).digest()
        name = f"pack-{pack[-20:].hex()}"
        (pack_dir / f"{name}.pack").write_bytes(pack)
        (pack_dir / f"{name}.idx").write_bytes(idx)


def generate(root: Path, n: int, seed: int) -> list[Path]:
    """Write `n` leaves under `root` (65% compositional skills, a quarter of them grounded;
    35% knowledge) and commit them all. Returns the qna.yaml paths."""
    rng = random.Random(seed)
    topics = TOPICS
    branches = [rng.sample(topics, 10) for _ in range(3)]
    paths: list[Path] = []
    pack, tree = _Pack(), dict[str, Any]()
    parts: tuple[str, ...]
    for i in range(n):
        kind = rng.random()
        a, b = rng.choice(branches[0]), rng.choice(branches[1])
        name = f"{rng.choice(topics)}_{rng.choice(topics)}_{i}"
        if kind < 0.35:
            parts, text = ("knowledge", a, b, name), knowledge(rng, name)
        elif kind < 0.35 + 0.65 / 4:
            parts, text = ("compositional_skills", "grounded", a, name), skill(rng, True)
        else:
            c = rng.choice(branches[2])
            parts, text = ("compositional_skills", a, b, c, name), skill(rng, False)
        d = root.joinpath(*parts)
        d.mkdir(parents=True)
        node = tree
        for part in parts:
            node = node.setdefault(part, {})
        for fname, body in (("qna.yaml", text), ("attribution.txt", attribution(rng, name))):
            data = body.encode("utf-8")
            (d / fname).write_bytes(data)
            node[fname] = pack.add("blob", data)
        paths.append(d / "qna.yaml")
    (root / ".gitignore").write_bytes(b"/.bot/\n")
    tree[".gitignore"] = pack.add("blob", b"/.bot/\n")
    stamp = b"bench <bench@example.org> 1700000000 +0000"
    commit = pack.add(
        "commit",
        b"tree %s\nauthor %s\ncommitter %s\n\nsynthetic taxonomy\n"
        % (pack.tree(tree).hex().encode(), stamp, stamp),
    )
    repo = pygit2.init_repository(str(root), initial_head="main")
    pack.write(Path(repo.path) / "objects" / "pack")
    repo.references.create("refs/heads/main", commit.hex())
    # A real checkout leaves an index with stat data, so that `git status` need not re-hash
    # every file. add_all on an empty index hashes each file once, finds the blob already in
    # the pack and records the stat data (read_tree would leave it zero: every status would
    # then re-hash all 20,000 files).
    repo.index.add_all()
    repo.index.write()
    return paths


def cached_tree(cache: Path, n: int, seed: int) -> tuple[Path, list[Path], float, bool]:
    """The tree for (n, seed) under `cache`, generated once. Returns (root, leaves,
    seconds its generation took, whether it was reused from the cache)."""
    key = cache / f"synth-n{n}-seed{seed}-v{GEN_VERSION}"
    root, done = key / "tree", key / "done.json"
    if done.exists():
        meta = json.loads(done.read_text())
        return root, [root / p for p in meta["leaves"]], meta["seconds"], True
    shutil.rmtree(key, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    paths = generate(root, n, seed)
    took = time.perf_counter() - t0
    done.write_text(
        json.dumps(
            {
                "n": n,
                "seed": seed,
                "seconds": took,
                "leaves": [str(p.relative_to(root)) for p in paths],
            }
        )
    )
    return root, paths, took, False


def edit_leaf(path: Path) -> None:
    """Change one answer of a leaf, keeping it valid (left uncommitted)."""
    text = re.sub(
        r"(answer: \|\n)( +)",
        r"\1\2Edited by the benchmark run.\n\2",
        path.read_text(encoding="utf-8"),
        count=1,
    )
    path.write_text(text, encoding="utf-8")


def restore(root: Path, path: Path) -> None:
    """Put `path` back as committed (also after an interrupted earlier run)."""
    repo = pygit2.Repository(str(root))
    rel = path.relative_to(root).as_posix()
    if repo.status_file(rel) != pygit2.enums.FileStatus.CURRENT:
        repo.checkout_head(  # type: ignore[no-untyped-call]
            strategy=pygit2.enums.CheckoutStrategy.FORCE, paths=[rel]
        )
