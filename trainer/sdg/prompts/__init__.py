"""The teacher's prompt templates: one `.txt` file per prompt, `string.Template` syntax.

Each file starts with a header line `# NAME vN: what it asks`, which is not sent to the
model; the rest is the template. Fields are `$name`; every field must be given when
rendering and no other, so a renamed field fails loudly instead of sending `$name` to the
teacher. `prompts_hash` covers every file's bytes: editing any prompt changes the pipeline
version and so the store's keys.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

PROMPT_DIR = Path(__file__).parent
_HEADER = re.compile(r"# (?P<name>[a-z_]+) v(?P<version>\d+): .+")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    template: Template
    fields: frozenset[str]

    def render(self, **values: str) -> str:
        if set(values) != self.fields:
            missing, extra = self.fields - set(values), set(values) - self.fields
            raise KeyError(
                f"prompt {self.name}: missing fields {sorted(missing)}, unexpected {sorted(extra)}"
            )
        return self.template.substitute(values).strip()


def parse_prompt(name: str, text: str) -> Prompt:
    header, _, body = text.partition("\n")
    m = _HEADER.fullmatch(header.strip())
    if m is None or m["name"] != name:
        raise ValueError(f"prompt {name}: first line must be '# {name} vN: description'")
    template = Template(body)
    if not template.is_valid():
        raise ValueError(f"prompt {name}: invalid $-placeholder")
    return Prompt(name, int(m["version"]), template, frozenset(template.get_identifiers()))


@cache
def load(name: str, directory: Path = PROMPT_DIR) -> Prompt:
    return parse_prompt(name, (directory / f"{name}.txt").read_text("utf-8"))


def render(name: str, **values: str) -> str:
    return load(name).render(**values)


def prompts_hash(directory: Path = PROMPT_DIR) -> str:
    """sha256 over every template's name and bytes, in name order."""
    h = hashlib.sha256()
    for path in sorted(directory.glob("*.txt")):
        for part in (path.name.encode(), path.read_bytes()):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
    return h.hexdigest()
