"""Choosing the device: CUDA, then Apple's MPS, then the CPU, unless one is named."""

from __future__ import annotations

import platform

import torch

from tunesmith.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """The device for ``name`` (auto, cpu, cuda, cuda:N, mps); fail clearly if it is absent."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"--device {name!r} is not a device; use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {name}: CUDA is not available on this machine; use auto or cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            msg = f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            raise ConfigError(msg)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: MPS is not available on this machine; use auto or cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {name!r}: only cpu, cuda and mps are supported")
    return device


def cpu_model() -> str:
    """The CPU's "model name" from /proc/cpuinfo, else what platform knows (for reports)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
