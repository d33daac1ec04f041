"""How long work reports progress: a bar on a terminal, plain log lines anywhere else.

A tqdm bar redraws itself with carriage returns; written to a file, a CI log or a pipe it
becomes one line megabytes long. :func:`progress` draws a bar only where one can be seen (an
interactive stderr or a Jupyter kernel) and otherwise logs a few plain lines through the
``eag_augment.progress`` logger: one at most every ``_LOG_EVERY_S`` seconds, and one when the
loop ends.

Stage messages and these lines go through module loggers under ``eag_augment``. So that
``verbose=1`` shows them without any logging set-up, the package logger is at INFO and
carries :class:`FallbackHandler`, which writes to stderr only while the application has
configured no logging of its own (no handler on the root logger); once it has, the
application's handlers decide. Estimators log at INFO only when their ``verbose`` > 0.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator

from tqdm.auto import tqdm

__all__ = ["FallbackHandler", "duration", "interactive", "progress"]

_LOG_EVERY_S = 30.0
_log = logging.getLogger("eag_augment.progress")


class FallbackHandler(logging.StreamHandler):
    """stderr, as ``logging.lastResort`` but from INFO, until the application sets up logging."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("[%(name)s] %(message)s"))

    @property
    def stream(self):
        # The current stderr, not the one at import (pytest and notebooks swap it).
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            super().emit(record)


def duration(seconds: float) -> str:
    """A time span as logs and result pages give it: hours from 1.5 h on, minutes below."""
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.1f} min"


def interactive() -> bool:
    """Whether a progress bar on stderr would be seen: a terminal or a Jupyter kernel."""
    isatty = getattr(sys.stderr, "isatty", None)
    if isatty is not None and isatty():
        return True
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class _LoggedProgress:
    """tqdm's loop interface (iteration, ``set_postfix``, ``close``) as occasional log lines."""

    def __init__(self, iterable: Iterable, desc: str, total: int | None, unit: str) -> None:
        self.iterable = iterable
        self.desc = desc
        self.unit = unit
        self.total = total if total is not None else (
            len(iterable) if hasattr(iterable, "__len__") else None)
        self.n = 0
        self.postfix = ""
        self._start = self._last = time.perf_counter()
        self._closed = False

    def _line(self, prefix: str) -> str:
        of = f"/{self.total}" if self.total is not None else ""
        extra = f" ({self.postfix})" if self.postfix else ""
        return (f"{self.desc}: {prefix}{self.n}{of} {self.unit} in "
                f"{time.perf_counter() - self._start:.1f} s{extra}")

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.n += 1
            now = time.perf_counter()
            if now - self._last >= _LOG_EVERY_S:
                self._last = now
                _log.info(self._line(""))
        self.close()

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _log.info(self._line("done, "))


def progress(iterable: Iterable, *, desc: str, disable: bool = False, leave: bool = False,
             unit: str = "it", total: int | None = None):
    """``tqdm(iterable, ...)`` on a terminal; elsewhere the same loop with log lines.

    Parameters
    ----------
    iterable : the loop's iterable.
    desc : what the loop does, e.g. "GRUDecoder" or "diffusion sampling (ddim)".
    disable : no bar and no lines (``verbose=0``).
    leave : keep the finished bar on the terminal.
    unit, total : as in tqdm (total defaults to ``len(iterable)``).

    Returns
    -------
    An iterable with ``set_postfix(dict or **kwargs)`` and ``close()``.
    """
    if disable or interactive():
        return tqdm(iterable, desc=desc, disable=disable, leave=leave, unit=unit, total=total)
    return _LoggedProgress(iterable, desc, total, unit)
