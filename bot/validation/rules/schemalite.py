"""A small JSON Schema evaluator for exactly the keywords our schemas use.

Why not the `jsonschema` library at run time: importing it costs ~110 ms, half
the 0.25 s budget of a pre-commit run on one leaf. The schemas stay standard
draft 2020-12 files, and tests check this evaluator against `jsonschema` (the
oracle) on every leaf of the real corpora and on thousands of mutated leaves.
Any keyword outside SUPPORTED makes schema loading fail loudly, never silently.
"""

from __future__ import annotations

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


def _canon(value: Any) -> Any:
    """A hashable form under which exactly the JSON-equal values coincide: 1 and 1.0 do,
    True and 1 do not (Python's own == and hash would merge those)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return ("object", frozenset((str(k), _canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", tuple(map(_canon, value)))
    return value


def iter_errors(
    schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[SchemaError]:
    out: list[SchemaError] = []
    _collect(schema, value, path, out)
    return iter(out)


def _collect(
    schema: dict[str, Any], value: Any, path: tuple[str | int, ...], out: list[SchemaError]
) -> None:
    """Append the failed keywords for `value`, depth first in schema property order.

    Runs for every node of every leaf: plain recursion into a list, not generators."""
    if "type" in schema and not _TYPES[schema["type"]](value):
        out.append(SchemaError(path, "type", schema["type"], value, schema))
        return  # the other keywords only apply to their own type
    if "const" in schema and not _equal(value, schema["const"]):
        out.append(SchemaError(path, "const", schema["const"], value, schema))
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            out.append(SchemaError(path, "minLength", schema["minLength"], value, schema))
    elif isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                out.append(SchemaError(path, "required", [key], value, schema))
        for key, deps in schema.get("dependentRequired", {}).items():
            if key in value and any(d not in value for d in deps):
                out.append(SchemaError(path, "dependentRequired", {key: deps}, value, schema))
        if schema.get("additionalProperties") is False and any(k not in props for k in value):
            out.append(SchemaError(path, "additionalProperties", False, value, schema))
        for key, sub in props.items():
            if key in value:
                _collect(sub, value[key], (*path, key), out)
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(SchemaError(path, "minItems", schema["minItems"], value, schema))
        if schema.get("uniqueItems") and len(set(map(_canon, value))) < len(value):
            out.append(SchemaError(path, "uniqueItems", True, value, schema))
        if isinstance(items := schema.get("items"), dict):
            for i, item in enumerate(value):
                _collect(items, item, (*path, i), out)
