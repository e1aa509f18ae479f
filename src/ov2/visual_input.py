"""The object every backend returns: canvases plus where each patch came from.

A :class:`VisualInput` is the contract between the tokenizer and everything
downstream (model processor, evaluation, plots). Its layout:

* ``canvases``: uint8 ``[C, H, W, 3]``, each exactly one processed frame in size.
* ``tokens``: one row per patch of every canvas (padding included), in the
  canvas's 2x2-block order: blocks in raster order, inside a block
  (r, c), (r, c+1), (r+1, c), (r+1, c+1).
* ``positions``: int64 ``[N, 3]`` = (source frame, source patch row, source
  patch col) for the non-padding tokens, in token order (3D RoPE input).
* ``groups``: the time spans the canvases were drawn from.
* ``meta``: video facts, every parameter used, motion source, timings.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .fileio import json_default, staged_directory

TOKEN_FIELDS: dict[str, str] = {
    "canvas": "int32",
    "canvas_row": "int32",
    "canvas_col": "int32",
    "frame": "int64",
    "time": "float64",
    "src_row": "int32",
    "src_col": "int32",
    "group": "int32",
    "kind": "<U1",
}
PADDING_FRAME = -1


@dataclass
class Tokens:
    """Per-patch columns, all the same length (one row per canvas patch).

    ``frame`` is the source frame index in presentation order (-1 marks
    padding), ``time`` its own pts in seconds, ``kind`` "I"/"P" (codec, fixed)
    or "F" (frames).
    """

    canvas: np.ndarray
    canvas_row: np.ndarray
    canvas_col: np.ndarray
    frame: np.ndarray
    time: np.ndarray
    src_row: np.ndarray
    src_col: np.ndarray
    group: np.ndarray
    kind: np.ndarray

    def __post_init__(self) -> None:
        n = None
        for name, dtype in TOKEN_FIELDS.items():
            arr = np.asarray(getattr(self, name)).astype(dtype, copy=False)
            setattr(self, name, arr)
            if n is None:
                n = len(arr)
            elif len(arr) != n:
                raise ValueError(f"token column {name!r} has {len(arr)} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.canvas)

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of real (non-padding) tokens."""
        return self.frame != PADDING_FRAME

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in TOKEN_FIELDS}

    @classmethod
    def concat(cls, parts: list["Tokens"]) -> "Tokens":
        if not parts:
            return cls(**{name: np.zeros(0, dtype=dt) for name, dt in TOKEN_FIELDS.items()})
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in TOKEN_FIELDS})


@dataclass
class Group:
    """One group: a contiguous time span [start, end) and the canvases drawn from it."""

    index: int
    start: float
    end: float
    canvases: list[int]
    anchor_frame: int = -1
    candidate_frames: list[int] = field(default_factory=list)
    energy: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class VisualInput:
    """Canvases and per-patch provenance produced by :func:`ov2.tokenize`."""

    canvases: np.ndarray
    tokens: Tokens
    groups: list[Group]
    meta: dict[str, Any]
    patch_size: int = 14
    backend: str = "codec"

    @property
    def positions(self) -> np.ndarray:
        """int64 [N, 3] (t, h, w) = (source frame, source patch row, col), padding excluded."""
        v = self.tokens.valid
        return np.stack(
            [self.tokens.frame[v], self.tokens.src_row[v].astype(np.int64), self.tokens.src_col[v].astype(np.int64)],
            axis=1,
        ).astype(np.int64)

    @property
    def grid_hw(self) -> tuple[int, int]:
        """Canvas size in patches (rows, cols)."""
        return self.canvases.shape[1] // self.patch_size, self.canvases.shape[2] // self.patch_size

    @property
    def num_canvases(self) -> int:
        return int(self.canvases.shape[0])

    def patch_pixels(self) -> np.ndarray:
        """uint8 [N, p, p, 3]: the pixels of every non-padding token, in token order."""
        p = self.patch_size
        v = self.tokens.valid
        c, r, col = self.tokens.canvas[v], self.tokens.canvas_row[v], self.tokens.canvas_col[v]
        n, h, w, _ = self.canvases.shape
        tiles = self.canvases.reshape(n, h // p, p, w // p, p, 3).transpose(0, 1, 3, 2, 4, 5)
        return tiles[c, r, col]

    def selected_times(self) -> np.ndarray:
        """Sorted unique source times (seconds) of the frames any token came from."""
        return np.unique(self.tokens.time[self.tokens.valid])

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write canvases, tokens and metadata to ``directory`` atomically (all or nothing)."""
        with staged_directory(directory) as tmp:
            np.save(tmp / "canvases.npy", self.canvases)
            np.savez(tmp / "tokens.npz", **self.tokens.as_dict())
            doc = {
                "format": "ov2.VisualInput/1",
                "backend": self.backend,
                "patch_size": self.patch_size,
                "groups": [asdict(g) for g in self.groups],
                "meta": self.meta,
            }
            (tmp / "visual_input.json").write_text(json.dumps(doc, indent=1, default=json_default))
        return Path(directory)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> "VisualInput":
        """Read a directory written by :meth:`save`."""
        d = Path(directory)
        doc = json.loads((d / "visual_input.json").read_text())
        with np.load(d / "tokens.npz") as z:
            tokens = Tokens(**{name: z[name] for name in TOKEN_FIELDS})
        return cls(
            canvases=np.load(d / "canvases.npy"),
            tokens=tokens,
            groups=[Group(**g) for g in doc["groups"]],
            meta=doc["meta"],
            patch_size=int(doc["patch_size"]),
            backend=doc["backend"],
        )

