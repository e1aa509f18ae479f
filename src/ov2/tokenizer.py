"""``ov2.tokenize``: a video file in, a :class:`~ov2.visual_input.VisualInput` out."""

from __future__ import annotations

import os
import time
from typing import Any, BinaryIO

from .codec.pipeline import run_codec
from .errors import EmptyVideoError
from .io.media import BytesLike, MediaBytes, as_media
from .options import TokenizeOptions
from .sampling.frames import run_frames
from .source import open_source
from .visual_input import VisualInput


def tokenize(path: str | os.PathLike[str] | BytesLike | BinaryIO | MediaBytes, backend: str = "codec",
             canvases: int = 32, **options: Any) -> VisualInput:
    """Tokenize ``path`` into exactly ``canvases`` canvases.

    ``path`` is a file path, or the video itself: its bytes or a binary file object
    (read to the end, not closed), so a server never has to write a request to disk.
    Errors then name the video ``<bytes>`` / ``<file object NAME>``.

    Backends: ``"codec"`` (adaptive groups from packet bit-cost, salient
    blocks packed into P-canvases), ``"fixed"`` (equal-duration groups, same
    packing) and ``"frames"`` (uniformly sampled whole frames).

    Options (all keyword): ``max_pixels`` (150000), ``min_pixels`` (3136),
    ``images_per_group`` (4), ``start``/``end`` (seconds), ``energy``
    ("excess" | "log1p"), ``bin_seconds`` (0.5), ``min_span_factor`` (0.25),
    ``max_span_factor`` (3), ``valley_radius`` (3), ``candidates_per_group``
    (None: follow the budget, ``max(32, candidates_total / groups)``),
    ``candidates_total`` (256), ``w_bits`` (0.5), ``rank_lambda`` (0.35), ``peak_weight`` (0.35),
    ``attenuation`` ("sqrt" | "linear"), ``threads`` (0 = one per core, at
    most 8: the codec backends decode that many keyframe-aligned segments in
    parallel, one single-threaded decoder each, else one decoder with that
    many threads; 1 = one unthreaded pass), ``progress`` (False). Raises :class:`ov2.VideoError` subclasses on bad
    input or options.
    """
    t0 = time.perf_counter()
    opts = TokenizeOptions.build(backend=backend, canvases=canvases, **options)
    src = open_source(as_media(path), opts)
    if backend == "frames":
        canv, tokens, groups, facts = run_frames(src)
    else:
        canv, tokens, groups, facts = run_codec(src, adaptive=backend == "codec")
    if not tokens.valid.any():
        name = path if isinstance(path, (str, os.PathLike)) else src.path  # the caller's spelling of a path
        raise EmptyVideoError(f"{name}: no frame could be decoded in [{src.start:.2f}, {src.end:.2f}) s")
    src.timings["total"] = time.perf_counter() - t0
    meta = {
        "backend": backend,
        "video": {
            "path": str(src.path), "codec": src.info.codec, "width": src.info.width, "height": src.info.height,
            "coded_width": src.info.coded_width, "coded_height": src.info.coded_height,
            "rotation": src.info.rotation, "fps": src.info.fps, "duration": src.info.duration,
            "frame_count": src.info.frame_count, "start_time": src.info.start_time,
            "keyframes": src.info.keyframes, "intra_only": src.info.intra_only,
            "truncated": src.packets.truncated,
        },
        "processed": {"height": src.height, "width": src.width},
        "window": {"start": src.start, "end": src.end, "frames": int(len(src.frames))},
        "params": opts.as_dict(),
        "profile": src.profile.as_dict(),
        "timings": {k: round(v, 4) for k, v in src.timings.items()},
        **facts,
    }
    return VisualInput(canvases=canv, tokens=tokens, groups=groups, meta=meta, patch_size=opts.patch_size, backend=backend)
