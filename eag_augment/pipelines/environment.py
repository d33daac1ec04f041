"""What a result was measured on: recorded with every run, since numbers move between CPUs."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["machine_info", "source_revision"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(folder: Path, *args: str) -> str | None:
    """Stripped stdout of ``git ARGS`` run in ``folder``, or None when git is missing or fails."""
    try:
        out = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                             check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def source_revision(folder: Path | str | None = None) -> str | None:
    """Short git commit of the checkout whose tracked files include ``folder`` (default: this
    package's source), or None: no git, no checkout, or ``folder`` untracked there (an
    installed copy inside some other project's repository is not that project's code). A
    sweep resumed over several commits then says which commit computed each saved job."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent
    if _git(folder, "ls-files", "--error-unmatch", ".") is None:
        return None
    return _git(folder, "rev-parse", "--short", "HEAD") or None


# Read once, when the package is imported: the commit of the code this process runs, even if
# the checkout moves on while a long sweep is still saving jobs.
_PACKAGE_REVISION = source_revision()


def machine_info() -> dict:
    """CPU model and cores, torch threads, versions, GPU if any, native bf16 support, and the
    package's git commit when it runs from a checkout (None otherwise).

    Native bf16 matters: generators sampling with ``precision="auto"`` use it where it is
    native, so the same seed gives other trials on such CPUs.
    """
    import torch

    import eag_augment
    from eag_augment._torch import fast_bf16

    cuda = torch.cuda.is_available()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "native_bf16": fast_bf16(torch.device("cuda" if cuda else "cpu")),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "eag_augment": eag_augment.__version__,
        "commit": _PACKAGE_REVISION,
        "platform": platform.platform(),
    }
