"""A small JSON Schema evaluator for exactly the keywords our schemas use.

Why not the `jsonschema` library at run time: importing it costs ~110 ms, half
the 0.25 s budget of a pre-commit run on one leaf. The schemas stay standard
draft 2020-12 files, and tests check this evaluator against `jsonschema` (the
oracle) on every leaf of the real corpora and on thousands of mutated leaves.
Any keyword outside SUPPORTED makes schema loading fail loudly, never silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

SUPPORTED = frozenset(
    {
        "$schema",
        "$id",
        "title",
        "description",
        "examples",  # annotations
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "uniqueItems",
        "minLength",
        "const",
        "dependentRequired",
    }
)


class SchemaError(NamedTuple):
    """One failed keyword at one place in the instance."""

    path: tuple[str | int, ...]
    keyword: str
    expected: Any  # the keyword's value in the schema
    instance: Any
    schema: dict[str, Any]


def check_supported(schema: Any, where: str = "#") -> None:
    if not isinstance(schema, dict):
        return
    if unknown := set(schema) - SUPPORTED:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} at {where} are not supported")
    for key, sub in schema.get("properties", {}).items():
        check_supported(sub, f"{where}/properties/{key}")
    if isinstance(schema.get("items"), dict):
        check_supported(schema["items"], f"{where}/items")


_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}


def _is_type(value: Any, name: str) -> bool:
    return bool(_TYPES[name](value))


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but True != 1, recursively."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is type(b) and a == b) or (
        isinstance(a, int | float) and isinstance(b, int | float) and a == b
    )


def _canon(value: Any) -> str:
    """A hashable form under which JSON-equal values (1 and 1.0) coincide."""

    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True, default=str)


def iter_errors(
    schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[SchemaError]:
    if "type" in schema and not _is_type(value, schema["type"]):
        yield SchemaError(path, "type", schema["type"], value, schema)
        return  # the other keywords only apply to their own type
    if "const" in schema and not _equal(value, schema["const"]):
        yield SchemaError(path, "const", schema["const"], value, schema)
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        yield SchemaError(path, "minLength", schema["minLength"], value, schema)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                yield SchemaError(path, "required", [key], value, schema)
        for key, deps in schema.get("dependentRequired", {}).items():
            if key in value and any(d not in value for d in deps):
                yield SchemaError(path, "dependentRequired", {key: deps}, value, schema)
        if schema.get("additionalProperties") is False and any(k not in props for k in value):
            yield SchemaError(path, "additionalProperties", False, value, schema)
        for key, sub in props.items():
            if key in value:
                yield from iter_errors(sub, value[key], (*path, key))
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            yield SchemaError(path, "minItems", schema["minItems"], value, schema)
        if schema.get("uniqueItems") and len({_canon(v) for v in value}) < len(value):
            yield SchemaError(path, "uniqueItems", True, value, schema)
        if isinstance(items := schema.get("items"), dict):
            for i, item in enumerate(value):
                yield from iter_errors(items, item, (*path, i))
