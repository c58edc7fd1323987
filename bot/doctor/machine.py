"""Checks of the machine itself: Python, installed packages, GPUs, free disk.

Heavy packages are located with importlib (no import) except torch, which the
GPU check must import; every import is guarded so a runner without torch still
gets a report that says so.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import shutil
import sys
from pathlib import Path

from bot.doctor.result import Result, missing

GIB = 1024**3

# module -> (distribution, extra that brings it, required on a runner)
PACKAGES: dict[str, tuple[str, str, bool]] = {
    "bot": ("taxonomy-bot", "", True),
    "torch": ("torch", "train", True),
    "transformers": ("transformers", "train", True),
    "accelerate": ("accelerate", "train", True),
    "vllm": ("vllm", "gpu", False),
}


def python_version(minimum: tuple[int, int] = (3, 11)) -> Result:
    found = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= minimum:
        return Result("python", "pass", f"{found} at {sys.executable}")
    want = ".".join(map(str, minimum))
    return Result("python", "fail", f"{found} is older than {want}", f"use Python {want} or newer")


def package(module: str, distribution: str = "", extra: str = "", required: bool = True) -> Result:
    """Is `module` installed? Located without importing it (vllm alone takes seconds)."""
    name = f"package {module}"
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:  # a broken parent package
        spec, broken = None, f"{type(exc).__name__}: {exc}"
    else:
        broken = ""
    if spec is None:
        hint = f'pip install ".[{extra}]"' if extra else "pip install ."
        return missing(name, required, broken or "not installed", hint)
    try:
        version = importlib.metadata.version(distribution or module)
    except importlib.metadata.PackageNotFoundError:
        version = "version unknown"
    return Result(name, "pass", version)


def packages() -> list[Result]:
    return [package(m, dist, extra, req) for m, (dist, extra, req) in PACKAGES.items()]


def gpu(required: bool) -> Result:
    try:
        torch = importlib.import_module("torch")
    except ImportError as exc:
        return missing(
            "gpu", required, f"torch cannot be imported ({exc})", 'pip install ".[train]"'
        )
    if not torch.cuda.is_available():
        build = getattr(torch.version, "cuda", None)
        why = "no CUDA device visible" + ("" if build else " (torch is a CPU-only build)")
        return missing(
            "gpu",
            required,
            why,
            "check nvidia-smi, the NVIDIA container toolkit and the pod's nvidia.com/gpu limit",
        )
    names = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        free, _total = torch.cuda.mem_get_info(i)
        names.append(f"{props.name} ({free / GIB:.1f} of {props.total_memory / GIB:.1f} GiB free)")
    return Result("gpu", "pass", f"{len(names)} device(s): " + "; ".join(names))


def _existing(path: Path) -> Path:
    """The path, or its nearest existing parent: a work dir may not exist before the first run."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def free_disk(label: str, path: Path, min_free_gb: float) -> Result:
    name = f"disk {label}"
    where = _existing(path.absolute())
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return Result(name, "fail", f"{path}: {exc.strerror}")
    free = usage.free / GIB
    detail = f"{free:.1f} GiB free of {usage.total / GIB:.1f} GiB at {path}"
    if free < min_free_gb:
        return Result(
            name,
            "fail",
            f"{detail}; needs {min_free_gb:g} GiB",
            f"free space under {where} or point the {label} dir elsewhere",
        )
    return Result(name, "pass", detail)
