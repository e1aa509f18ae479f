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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import InvalidOptionError
from ..fileio import atomic_write_text, staged_directory

MARKER = ".ov2-output"


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
def staged_output(target: str | os.PathLike[str], command: str) -> Iterator[Path]:
    """A staged ``--out`` directory (see :func:`ov2.fileio.staged_directory`) that carries the ov2 marker.

    Refuses to replace a directory ov2 did not write.
    """
    target = Path(target).absolute()
    check_replaceable(target)
    with staged_directory(target) as tmp:
        yield tmp
        (tmp / MARKER).write_text(f"written by ov2 {command}\n")
