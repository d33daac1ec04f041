"""Refuse allocations that cannot fit in memory, before making them.

Sizes such as ``sample(10_000_000_000)`` or ``ratio=1e12`` are valid numbers, but the arrays
they ask for do not fit in any machine: numpy or torch would fail with a bare MemoryError
after other work was done (or the system would swap). :func:`check_memory` compares an
estimate with the memory available now and raises a ValueError that names the argument.
"""

from __future__ import annotations

import os

__all__ = ["available_bytes", "check_memory", "format_bytes"]


def available_bytes() -> int | None:
    """Memory available to a new allocation now (bytes), or None when it cannot be told.

    Linux: ``MemAvailable`` of ``/proc/meminfo`` (free memory plus reclaimable caches);
    elsewhere the physical memory size.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` in the largest binary unit that keeps the number >= 1, e.g. '74.5 GiB'."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")
    value, unit = float(n_bytes), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.0f} bytes" if unit == 0 else f"{value:.1f} {units[unit]}"


def check_memory(n_bytes: float, what: str, hint: str = "") -> None:
    """Raise ValueError when ``what`` would need more than the memory available now.

    Parameters
    ----------
    n_bytes : float
        Estimated peak size of the arrays ``what`` allocates (bytes); a Python number, so
        that products of large sizes do not overflow.
    what : str
        The request, naming the argument and its value, e.g. ``"sample(n_trials=10000)"``.
    hint : str
        What to do instead (e.g. "sample in batches").
    """
    available = available_bytes()
    if available is not None and n_bytes > available:
        raise ValueError(f"{what} would need about {format_bytes(n_bytes)} of memory, more "
                         f"than the {format_bytes(available)} available"
                         f"{'; ' + hint if hint else ''}")
