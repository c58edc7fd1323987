"""Runs inside .bot/bench-venv: parse files with instructlab-schema's TaxonomyParser.

stdin: {"files": [path, ...]}. stdout: one JSON document with the timings and, per file,
the error/warning counts, the version it was read as and the messages it printed.
cpu_s: CPU from before the import to the end, children included. parse_s starts after the
imports; it covers constructing the parser and parse() of every
file, which includes their yamllint subprocess for version >= 2 files and their message
printing (into a buffer here).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import resource
import sys
import time
from typing import Any


def cpu() -> float:
    """User + system CPU seconds of this process and its waited-for children (yamllint)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


cpu0 = cpu()
t0 = time.perf_counter()
from instructlab.schema.taxonomy import TaxonomyParser  # noqa: E402

import_s = time.perf_counter() - t0
# Without `yq` their parser logs a traceback once ("could not run yq command"); every
# location is then line 1. Keep that noise out of the captured output.
logging.getLogger("instructlab").setLevel(logging.CRITICAL)


def main() -> None:
    files: list[str] = json.load(sys.stdin)["files"]
    results: dict[str, dict[str, Any]] = {}
    t1 = time.perf_counter()
    parser = TaxonomyParser(schema_version=0, message_format="standard")
    for path in files:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                tax = parser.parse(path)
                row: dict[str, Any] = {
                    "errors": tax.errors,
                    "warnings": tax.warnings,
                    "version": tax.version,
                }
            except Exception as exc:  # their checker raises on YAML syntax errors
                cause = exc.__cause__ or exc
                print(f"CRASH: {type(cause).__name__}: {str(cause).splitlines()[0]}")
                row = {"errors": 1, "warnings": 0, "version": 0, "crash": True}
        row["messages"] = buf.getvalue().splitlines()
        results[path] = row
    parse_s = time.perf_counter() - t1
    out = {"import_s": import_s, "parse_s": parse_s, "cpu_s": cpu() - cpu0, "results": results}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
