"""Torch helpers shared by generators and decoders: device, threads, precision and seeding."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["PRECISIONS", "autocast_context", "check_precision", "fast_bf16", "resolve_device",
           "seed_from", "threads", "torch_generator", "training_autocast", "uses_bf16"]

#: Arithmetic settings of the neural generators: "fp32" (the same numbers on every machine),
#: "bf16", or "auto" (bfloat16 where it is native and was measured to pay, see uses_bf16).
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else is passed to torch.device."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def seed_from(random_state) -> int:
    """An integer seed from None (fresh entropy), an int, or a numpy Generator/RandomState."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] % (2**63))
    if isinstance(random_state, (int, np.integer)):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    raise TypeError(f"random_state must be None, an int or a numpy Generator, "
                    f"got {type(random_state).__name__}")


def torch_generator(seed: int, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def fast_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matrix products are native (and so faster than float32) on ``device``."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = torch.cpu
        # Private probes, absent from some builds: no probe, no claim of speed.
        return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                    or getattr(cpu, "_is_amx_tile_supported", lambda: False)())
    return False


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def uses_bf16(device: torch.device, precision: str) -> bool:
    """Whether ``precision`` means bfloat16 autocast on ``device`` (training and sampling).

    "auto" is bfloat16 wherever it is native: CPUs with AVX512-BF16 or AMX and CUDA GPUs with
    bf16. Models keep float32 where bf16 was measured not to pay or to lose too much: S4 FFTs
    always, the EAG transformer's attention on CPUs (docs/training.md).
    """
    if check_precision(precision) != "auto":
        return precision == "bf16"
    return fast_bf16(device)


def training_autocast(device: torch.device):
    """bfloat16 autocast of a forward pass on ``device``."""
    return torch.autocast(device.type, dtype=torch.bfloat16)


def autocast_context(device: torch.device, precision: str):
    """Autocast for sampling: "fp32" (none), "bf16", or "auto" (bf16 where it is native)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device, precision))


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (None: leave the setting alone)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
