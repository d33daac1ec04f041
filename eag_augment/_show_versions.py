"""``show_versions()``: the versions of the stack, to paste into a bug report (as sklearn's)."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

__all__ = ["show_versions"]

# Distribution names: the core dependencies, then the optional ones.
_DEPENDENCIES = ("eag_augment", "numpy", "scipy", "pandas", "scikit-learn", "imbalanced-learn",
                 "torch", "pynwb", "hdmf", "h5py", "joblib", "matplotlib", "tqdm",
                 "nlb-tools", "nwbinspector", "dask", "distributed", "ray", "pip", "setuptools")


def _system_info() -> dict[str, str]:
    return {"python": sys.version.replace("\n", " "), "executable": sys.executable,
            "machine": platform.platform()}


def _deps_info() -> dict[str, str | None]:
    """Installed version of each distribution, None when it is not installed."""
    versions = {}
    for name in _DEPENDENCIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _torch_info() -> dict[str, str]:
    """What decides speed and numerics: CUDA, native bfloat16 (sampling precision "auto"),
    threads."""
    try:
        import torch
    except ImportError:
        return {}
    from eag_augment._torch import fast_bf16

    cuda = torch.cuda.is_available()
    info = {"cuda available": str(cuda),
            "cuda devices": ", ".join(torch.cuda.get_device_name(i)
                                      for i in range(torch.cuda.device_count())) if cuda else "-",
            "native bf16 on cpu": str(fast_bf16(torch.device("cpu"))),
            "torch threads": str(torch.get_num_threads())}
    return info


def show_versions() -> None:
    """Print the system, the versions of eag_augment's dependencies and torch's hardware.

    Include the output in bug reports. The same seed can give different synthetic trials on
    different hardware: sampling precision "auto" uses bfloat16 where the CPU or GPU has it
    natively ("native bf16 on cpu").
    """
    sections = {"System": _system_info(), "Python dependencies": _deps_info(),
                "Torch": _torch_info()}
    for title, info in sections.items():
        print(f"\n{title}:")
        for key, value in info.items():
            print(f"{key:>20}: {value}")
