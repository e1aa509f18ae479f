"""Writing command outputs atomically: files via temp + ``os.replace``, directories via a staged swap.

A command builds its whole output directory in a hidden sibling temp directory
and only then swaps it into place, so a crash or Ctrl-C never leaves a half
written ``--out`` behind. An existing ``--out`` is replaced only when it is
empty or was itself written by ov2 (it holds the :data:`MARKER` file);
anything else is refused, so a mistyped ``--out ~`` cannot delete user files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import InvalidOptionError

MARKER = ".ov2-output"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same directory and ``os.replace``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON (numpy scalars/arrays converted, NaN written as null)."""
    return atomic_write_text(path, json.dumps(_clean(obj), indent=1, allow_nan=False) + "\n")


def _clean(obj: Any) -> Any:
    """Plain JSON types; non-finite floats become None so the file is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def check_replaceable(target: Path) -> None:
    """Raise :class:`InvalidOptionError` unless ``target`` may be (re)written as an output directory."""
    if not target.exists():
        return
    if not target.is_dir():
        raise InvalidOptionError(f"--out {target}: exists and is not a directory")
    if any(target.iterdir()) and not (target / MARKER).exists():
        raise InvalidOptionError(
            f"--out {target}: directory exists, is not empty and was not written by ov2; "
            "choose a new or empty directory"
        )


@contextmanager
def staged_directory(target: str | os.PathLike[str], command: str) -> Iterator[Path]:
    """Yield a temp directory next to ``target``; on success it replaces ``target`` in one swap.

    On any exception the temp directory is removed and ``target`` is left as it was.
    """
    target = Path(target).absolute()
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
    try:
        yield tmp
        (tmp / MARKER).write_text(f"written by ov2 {command}\n")
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            old.rmdir()
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
