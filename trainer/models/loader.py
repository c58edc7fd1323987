"""`load_model(spec)`: from a spec string to a ready `ChatModel`.

Backends are imported here, on demand, so naming a remote model never imports torch and
naming a local one never needs vLLM.
"""

from __future__ import annotations

from pathlib import Path

from trainer.models.base import ChatModel, ModelError
from trainer.models.spec import (
    EmbeddedSpec,
    HFSpec,
    ModelSpec,
    OpenAISpec,
    VLLMSpec,
    parse_spec,
)


def load_model(
    spec: str | Path | ModelSpec,
    *,
    device: str | None = None,
    dtype: str | None = None,
    max_batch_tokens: int | None = None,
    concurrency: int = 16,
    timeout_s: float = 600.0,
) -> ChatModel:
    """Load the model a spec names.

    device/dtype: local backends ("cpu", "cuda", "cuda:1"; "float32", "bfloat16"); default
    GPU in bf16 when there is one, else CPU in fp32. max_batch_tokens: transformers backend,
    padded prompt + new tokens per batch. concurrency/timeout_s: openai backend, requests in
    flight and seconds per request.
    """
    parsed = _parse(spec)
    match parsed:
        case EmbeddedSpec() | HFSpec():
            from trainer.models.hf import HFChatModel

            path, weights_id = _local_dir(parsed)
            return HFChatModel(
                path,
                name=str(parsed),
                device=device,
                dtype=dtype,
                max_batch_tokens=max_batch_tokens,
                weights_id=weights_id,
            )
        case OpenAISpec():
            from trainer.models.openai import OpenAIChatModel

            return OpenAIChatModel(parsed, concurrency=concurrency, timeout_s=timeout_s)
        case VLLMSpec(model=model):
            from trainer.models.vllm import VLLMChatModel

            return VLLMChatModel(model, dtype=dtype)
    raise ModelError(f"unsupported model spec {parsed!r}")


def model_fingerprint(
    spec: str | Path | ModelSpec, *, device: str | None = None, dtype: str | None = None
) -> str:
    """What `load_model(spec, device=, dtype=).fingerprint` reports, loading no weights
    where it can: cache keys can be checked before deciding whether a model is needed.

    Local models: a content hash (memoised) and the resolved dtype, no conversion of the
    embedded model. openai: one GET /v1/models. vllm: starts the engine (its dtype is its own).
    """
    parsed = _parse(spec)
    if isinstance(parsed, EmbeddedSpec):
        from trainer.models.embedded import embedded_weights_id
        from trainer.models.hf import fingerprint, resolve_device, resolve_dtype

        return fingerprint(embedded_weights_id(), resolve_dtype(dtype, resolve_device(device)))
    if isinstance(parsed, HFSpec):
        from trainer.models.hf import dir_weights_id, fingerprint, resolve_device, resolve_dtype

        path, _ = _local_dir(parsed)
        return fingerprint(dir_weights_id(path), resolve_dtype(dtype, resolve_device(device)))
    with load_model(parsed, device=device, dtype=dtype) as model:
        return model.fingerprint


def local_model_dir(spec: str | Path | ModelSpec) -> Path:
    """The Hugging Face directory behind a local spec (training starts from it).

    The embedded model is converted into the cache on first use.
    """
    parsed = _parse(spec)
    if not isinstance(parsed, EmbeddedSpec | HFSpec):
        raise ModelError(
            f"{parsed} is not a local model directory; training needs embedded or hf:DIR"
        )
    return _local_dir(parsed)[0]


def _parse(spec: str | Path | ModelSpec) -> ModelSpec:
    if isinstance(spec, str):
        return parse_spec(spec)
    return HFSpec(spec) if isinstance(spec, Path) else spec


def _local_dir(spec: EmbeddedSpec | HFSpec) -> tuple[Path, str | None]:
    if isinstance(spec, EmbeddedSpec):
        from trainer.models.embedded import embedded_model_dir

        path, weights_id = embedded_model_dir()
        return path, weights_id
    if not spec.path.is_dir():
        raise ModelError(
            f"{spec}: no such directory {spec.path} (hub ids are not downloaded; "
            "pass a local directory)"
        )
    return spec.path, None
