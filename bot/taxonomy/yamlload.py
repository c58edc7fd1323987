"""Safe, located YAML loading for qna.yaml files.

Built on libyaml's event stream rather than `yaml.safe_load`, so that we
- know the line and column of every key and value (errors point at them),
- see duplicate keys (plain loading silently keeps the last value),
- refuse anchors and aliases before anything is expanded (alias bombs),
- bound the nesting depth and the number of nodes,
and never raise: every failure becomes a located Problem.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

from bot.validation.problems import Problem, error, warning

Path = tuple[str | int, ...]
Pos = tuple[int, int]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_TRAILING = re.compile(r"[ \t]+$", re.M)
_TAB_INDENT = re.compile(r"^ *\t", re.M)
_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_resolver = Resolver()
# First characters of plain scalars that may resolve to a non-string (true, 12, ~, ...).
# A None entry would be a resolver for every first character: then always ask.
_RESOLVED_FIRST = frozenset(Resolver.yaml_implicit_resolvers)
_ANY_FIRST = None in _RESOLVED_FIRST
_constructor = SafeConstructor()


@dataclass
class Loaded:
    """A parsed document plus where each part of it came from (1-based)."""

    data: Any = None
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path, *, key: bool = False) -> Pos:
        """The closest known position for `path` (walks up to a parent)."""
        table = self.keys if key else self.values
        for n in range(len(path), -1, -1):
            pos = table.get(path[:n]) or self.values.get(path[:n])
            if pos:
                return pos
        return (1, 1)


def offset_to_pos(raw: bytes, offset: int) -> Pos:
    line = raw.count(b"\n", 0, offset) + 1
    return line, offset - (raw.rfind(b"\n", 0, offset) + 1) + 1


def decode(raw: bytes, problems: list[Problem]) -> str | None:
    """Bytes -> text, or None (with a located problem) when it is not UTF-8 text."""
    if len(raw) > MAX_BYTES:
        problems.append(
            error(
                "file-size",
                f"file is {len(raw):,} bytes; the limit is "
                f"{MAX_BYTES:,} bytes. Split the leaf or shorten its examples.",
            )
        )
        return None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        problems.append(
            error("encoding", "file is UTF-16; save it as UTF-8 without a byte-order mark")
        )
        return None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, col = offset_to_pos(raw, nul)
        problems.append(
            error("encoding", "binary file (NUL byte); a qna.yaml must be UTF-8 text", line, col)
        )
        return None
    if raw.startswith(codecs.BOM_UTF8):
        problems.append(
            error(
                "encoding",
                "file starts with a UTF-8 byte-order mark; save it "
                "without one (many tools mis-read it)",
            )
        )
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = offset_to_pos(raw, exc.start)
        problems.append(
            error(
                "encoding",
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                line,
                col,
            )
        )
        return None


def hygiene(text: str, problems: list[Problem]) -> None:
    """Whitespace rules that libyaml accepts but reviewers and diffs trip over."""
    # The substring tests are C-speed and almost always false: skip the regexes then.
    trailing = " \n" in text or "\t\n" in text or text.endswith((" ", "\t"))
    for m in _TRAILING.finditer(text) if trailing else ():
        line = text.count("\n", 0, m.start()) + 1
        col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
        problems.append(
            warning("yaml-trailing-spaces", "trailing whitespace; delete it", line, col)
        )
    for m in _TAB_INDENT.finditer(text) if "\t" in text else ():
        line = text.count("\n", 0, m.start()) + 1
        problems.append(
            error(
                "yaml-tabs",
                "tab character in indentation; YAML indents with spaces only",
                line,
                m.end() - m.start(),
            )
        )
    if text and not text.endswith("\n"):
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
        problems.append(
            warning("yaml-final-newline", "no newline at end of file; add one", line, col)
        )


def _scalar(ev: Any) -> Any:
    tag = ev.tag
    if tag is None or tag == "!":
        value = ev.value
        if not ev.implicit[0]:
            return value  # quoted scalars are always strings
        if value and not _ANY_FIRST and value[0] not in _RESOLVED_FIRST:
            return value  # no implicit type starts with this character: text
        tag = _resolver.resolve(yaml.ScalarNode, value, ev.implicit)  # type: ignore[no-untyped-call]
    if tag not in _SCALAR_TAGS:
        raise _Abort(
            error(
                "yaml-tags",
                f"unsupported tag {tag!r}; leaf values are plain text, numbers and lists",
                *_pos(ev.start_mark),
            )
        )
    if tag == _STD + "str":
        return ev.value
    node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
    try:
        return _constructor.yaml_constructors[tag](_constructor, node)
    except (ValueError, OverflowError, ConstructorError) as exc:
        name = tag.rsplit(":", 1)[-1]
        raise _Abort(
            error(
                "yaml-syntax",
                f"invalid {name} value {ev.value!r} ({exc}); quote it to make it text",
                *_pos(ev.start_mark),
            )
        ) from None


def _pos(mark: Any) -> Pos:
    return (mark.line + 1, mark.column + 1)


class _Abort(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


# Event classes -> what the loop does with them (a dict lookup beats a chain of `is`).
_SCALAR, _COLLECTION, _END, _DOCUMENT, _ALIAS, _SKIP = range(6)
_KIND: dict[type, int] = {
    yaml.ScalarEvent: _SCALAR,
    yaml.MappingStartEvent: _COLLECTION,
    yaml.SequenceStartEvent: _COLLECTION,
    yaml.MappingEndEvent: _END,
    yaml.SequenceEndEvent: _END,
    yaml.DocumentStartEvent: _DOCUMENT,
    yaml.AliasEvent: _ALIAS,
    yaml.StreamStartEvent: _SKIP,
    yaml.StreamEndEvent: _SKIP,
    yaml.DocumentEndEvent: _SKIP,
}


def _anchor(ev: Any) -> _Abort:
    return _Abort(
        error(
            "yaml-anchors",
            f"YAML anchor/alias '{ev.anchor}' is not allowed; write the value out in full",
            *_pos(ev.start_mark),
        )
    )


def _compose(text: str, out: Loaded) -> None:
    """Build the document from libyaml's events, recording where every key and value is.

    The open container is held in locals (container, path, is_map, key = the pending
    key of a mapping, None while a key is expected); enclosing ones wait on `stack`.
    This loop runs once per YAML node of every leaf, so it is kept flat: only rare events
    (errors, document starts) call out."""
    values = out.values
    stack: list[tuple[Any, Path, bool, Any]] = []
    container: Any = None
    path: Path = ()
    is_map = False
    key: Any = None
    root: Any = None
    documents = nodes = 0
    loader = _LOADER(text)
    try:
        for ev in iter(loader.get_event, None):
            kind = _KIND[type(ev)]
            if kind > _COLLECTION:
                if kind == _END:
                    container, path, is_map, key = stack.pop()
                elif kind == _DOCUMENT:
                    documents += 1
                    _one_document(documents, ev)
                elif kind == _ALIAS:
                    raise _anchor(ev)
                continue
            nodes += 1
            if ev.anchor or nodes > MAX_NODES:
                raise _anchor(ev) if ev.anchor else _too_many_nodes(ev)
            if is_map and key is None:  # this node is a key
                key = _key(ev, kind, container, path, out)
                continue
            value = _scalar(ev) if kind == _SCALAR else _collection(ev, len(stack))
            # Place the value in the open container (or as the root).
            if is_map:
                here: Path = (*path, key)
                if key not in container:
                    container[key] = value
                key = None
            elif container is not None:
                here = (*path, len(container))
                container.append(value)
            else:
                here = ()
                root = value
            values[here] = _pos(ev.start_mark)
            if kind == _COLLECTION:
                stack.append((container, path, is_map, key))
                container, path, is_map, key = value, here, isinstance(value, dict), None
    except yaml.YAMLError as exc:
        raise _syntax(exc) from None
    finally:
        loader.dispose()
    if documents == 0:
        raise _Abort(error("yaml-empty", "file holds no YAML document"))
    if root is None:  # "---" alone, "~" or "null": a document with nothing in it
        raise _Abort(error("yaml-empty", "the YAML document is empty (null)"))
    out.data = root


def _one_document(documents: int, ev: Any) -> None:
    if documents > 1:
        raise _Abort(
            error(
                "yaml-syntax",
                "more than one YAML document (---); a qna.yaml holds exactly one",
                *_pos(ev.start_mark),
            )
        )


def _too_many_nodes(ev: Any) -> _Abort:
    return _Abort(error("yaml-limits", f"more than {MAX_NODES:,} YAML nodes", *_pos(ev.start_mark)))


def _key(ev: Any, kind: int, container: dict[str, Any], path: Path, out: Loaded) -> Any:
    """A mapping key: a plain string, recorded where it is; a repeat is a located error."""
    if kind == _COLLECTION:
        raise _Abort(
            error("yaml-syntax", "a mapping key must be a plain string", *_pos(ev.start_mark))
        )
    key = ev.value
    if key in container:
        first = out.keys[(*path, key)]
        out.problems.append(
            error(
                "yaml-duplicate-key",
                f"duplicate key '{key}' (first defined at line "
                f"{first[0]}); the later value would silently replace the first. "
                "Keep one.",
                *_pos(ev.start_mark),
            )
        )
    else:
        out.keys[(*path, key)] = _pos(ev.start_mark)
    return key


def _syntax(exc: yaml.YAMLError) -> _Abort:
    """libyaml's error as a located problem (reader errors, e.g. control characters, carry
    no mark: they are placed at 1:1)."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return _Abort(error("yaml-syntax", f"YAML error: {exc}"))
    mark = exc.problem_mark or exc.context_mark
    where = _pos(mark) if mark is not None else (1, 1)
    what = exc.problem or str(exc)
    if exc.context:
        what = f"{what} ({exc.context})"
    return _Abort(error("yaml-syntax", f"YAML syntax error: {what}", *where))


def _collection(ev: Any, depth: int) -> dict[str, Any] | list[Any]:
    """A new, empty mapping or list for a start event, after checking its tag and depth."""
    is_map = type(ev) is yaml.MappingStartEvent
    if ev.tag not in (None, "!", _STD + ("map" if is_map else "seq")):
        raise _Abort(error("yaml-tags", f"unsupported tag {ev.tag!r}", *_pos(ev.start_mark)))
    if depth >= MAX_DEPTH:
        raise _Abort(
            error("yaml-limits", f"nested deeper than {MAX_DEPTH} levels", *_pos(ev.start_mark))
        )
    return {} if is_map else []


def load(raw: bytes) -> Loaded:
    """Parse one qna.yaml. `data` is None when the file could not be loaded."""
    out = Loaded()
    text = decode(raw, out.problems)
    if text is None:
        return out
    if not text.strip():
        out.problems.append(error("yaml-empty", "file is empty"))
        return out
    hygiene(text, out.problems)
    try:
        _compose(text, out)
    except _Abort as stop:
        out.data = None
        out.problems.append(stop.problem)
    return out
