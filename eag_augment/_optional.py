"""Optional dependencies: imported where needed, with an error that says how to install them."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["NLB_TOOLS_INSTALL", "import_nlb_tools"]

NLB_TOOLS_INSTALL = "pip install --no-deps nlb-tools==0.0.4"


def import_nlb_tools(module: str, needed_by: str) -> ModuleType:
    """Import ``module`` (``nlb_tools`` or one of its submodules) for ``needed_by``.

    nlb-tools is not a dependency of the package: its metadata pins pandas<=1.3.4, which
    cannot install on Python >= 3.11, so pip could never resolve it. It works with the
    pandas the package needs once installed without its pins.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is None or err.name.split(".")[0] != "nlb_tools":
            raise
        raise ImportError(
            f"{needed_by} needs nlb_tools (Neural Latents Benchmark tools), which is not "
            f"installed. Its pins (pandas<=1.3.4) cannot install on Python >= 3.11, so install "
            f"it without them: {NLB_TOOLS_INSTALL}"
        ) from err
