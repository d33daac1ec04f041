"""Writing output files: the checks made before any work, and atomic replacement.

Every writer of the package (TrialSet .npz, checkpoints, NWB, caches) goes through
:func:`check_output_path` before it computes anything and :func:`atomic_write` to write, so
that a wrong path is reported first and an interrupted write never leaves a partial file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "check_output_path"]


def check_output_path(path, what: str = "path", *, overwrite: bool = True) -> Path:
    """``path`` as a Path after checking that a file can be written there.

    Raises TypeError for a value that is not a path, IsADirectoryError when ``path`` is an
    existing folder, FileExistsError when it is an existing file and ``overwrite`` is False,
    NotADirectoryError when a parent of it is a file. Missing parent folders are fine (the
    writers create them).
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{what} must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__} {path!r}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    path = Path(path).expanduser()
    if not str(path) or path.name in ("", ".", ".."):
        raise ValueError(f"{what} must name a file, got {str(path)!r}")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {str(path)!r} is an existing folder; give a file "
                                "name inside it")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{what} {str(path)!r} exists already; pass overwrite=True (on "
                              "the command line --overwrite) to replace it")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{what} {str(path)!r} lies under {str(parent)!r}, "
                                         "which is a file, not a folder")
            break
    return path


def atomic_write(path: Path, write: Callable[[str], None], suffix: str = ".tmp") -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file onto ``path``.

    The temporary file lies in ``path``'s folder (created when missing) so the rename is
    atomic; it is removed when ``write`` fails or is interrupted. Returns ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); the result gets a new file's usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
