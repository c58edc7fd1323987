"""Rule `schema` (plus `version`, `knowledge-version`): JSON Schema checks with located messages.

The schemas are ours (schema/ at the repository root, copied into the wheel)
and accept every valid InstructLab leaf unchanged. They are evaluated by
schemalite (see there why not the jsonschema library); each failed keyword
becomes a message that names the key and says what to do.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

from bot.taxonomy.yamlload import Loaded
from bot.taxonomy.yamlload import Path as YPath
from bot.validation.problems import Problem, error
from bot.validation.rules.schemalite import SchemaError, check_supported, iter_errors

_TYPES = {
    "string": "a string",
    "object": "a mapping (key: value)",
    "array": "a list",
    "integer": "an integer",
}


def schema_dir() -> Path:
    """The wheel's copy (bot/_schema), else the repository's schema/ folder."""
    package = Path(__file__).resolve().parents[2]  # bot/
    packaged = package / "_schema"
    return packaged if packaged.is_dir() else package.parent / "schema"


@cache
def load_schema(kind: str, version: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (schema_dir() / f"v{version}" / f"{kind}.json").read_text("utf-8")
    )
    check_supported(data)
    return data


def dotted(path: YPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the top level"


def _type_name(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
    }.get(type(value), type(value).__name__)


def declared_version(doc: Loaded) -> tuple[int | None, list[Problem]]:
    data = doc.data
    if not isinstance(data, dict) or "version" not in data:
        return 1, []
    v = data["version"]
    if isinstance(v, int) and not isinstance(v, bool) and v in (1, 2, 3):
        return v, []
    line, col = doc.where(("version",))
    return None, [
        error(
            "version",
            f"version must be 1, 2 or 3 (found {v!r}); new leaves should declare `version: 3`",
            line,
            col,
        )
    ]


def _messages(err: SchemaError, doc: Loaded) -> list[Problem]:
    path: YPath = err.path
    inst, kw, val = err.instance, err.keyword, err.expected
    where = dotted(path)
    if kw == "additionalProperties" and isinstance(inst, dict):
        allowed = list(err.schema.get("properties", {}))
        out = []
        for key in (k for k in inst if k not in allowed):
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            msg = f"unknown key '{key}' in {where}"
            if key == "task_description" and "domain" in allowed:
                msg += "; knowledge leaves (version 3) do not use task_description: remove it"
            elif hint:
                msg += f"; did you mean '{hint[0]}'?"
            else:
                msg += f"; allowed keys: {', '.join(allowed)}"
            out.append(error("schema", msg, *doc.where((*path, key), key=True)))
        return out
    if kw == "required" and isinstance(inst, dict):
        return [
            error("schema", f"missing required key '{k}' in {where}", *doc.where(path))
            for k in val
            if k not in inst
        ]
    pos = doc.where(path)
    if kw == "type":
        want = _TYPES.get(str(val), str(val))
        return [error("schema", f"{where} must be {want}, not {_type_name(inst)}", *pos)]
    if kw == "minLength":
        return [error("schema", f"{where} must not be empty", *pos)]
    if kw == "minItems":
        return [error("schema", f"{where} needs at least {val} items (it has {len(inst)})", *pos)]
    if kw == "uniqueItems":
        for i, item in enumerate(inst):
            if item in inst[:i]:
                j = inst.index(item)
                return [
                    error(
                        "schema",
                        f"{dotted((*path, i))} repeats {dotted((*path, j))}; items must be unique",
                        *doc.where((*path, i)),
                    )
                ]
    if kw == "const":
        return [error("schema", f"{where} must be {val!r} (found {inst!r})", *pos)]
    if kw == "dependentRequired":
        return [
            error(
                "schema",
                "document.repo and document.commit go together; give both, or "
                "neither to use markdown files stored beside qna.yaml",
                *pos,
            )
        ]
    return [error("schema", f"{where} fails the schema's {kw} = {val!r}", *pos)]


def check(doc: Loaded, kind: str, version: int) -> list[Problem]:
    """Schema problems, sorted by position. `doc.data` must not be None."""
    out: list[Problem] = []
    for err in iter_errors(load_schema(kind, version), doc.data):
        out.extend(_messages(err, doc))
    return out
