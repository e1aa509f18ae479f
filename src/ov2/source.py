"""What every backend needs to know about the video being tokenized."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from .codec.bitcost import Profile, bitcost_profile, packet_energy
from .errors import EmptyVideoError, InvalidOptionError
from .io.media import MediaBytes
from .io.packets import PacketTable
from .io.probe import VideoInfo, inspect
from .io.resize import smart_resize
from .options import TokenizeOptions

T = TypeVar("T")


@dataclass
class Source:
    """A probed video plus the window, sizes and bit-cost profile of one tokenize call."""

    path: Path | MediaBytes  # MediaBytes: a video given as bytes or a file object
    info: VideoInfo
    packets: PacketTable
    opts: TokenizeOptions
    start: float
    end: float
    frames: np.ndarray  # global indices of the window's frames
    height: int  # processed frame size (upright)
    width: int
    energy: np.ndarray  # per-frame packet energy, whole video
    profile: Profile
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def block(self) -> int:
        return 2 * self.opts.patch_size

    @property
    def grid_blocks(self) -> tuple[int, int]:
        """Canvas size in 2x2-patch blocks (rows, cols)."""
        return self.height // self.block, self.width // self.block

    @property
    def analysis_size(self) -> tuple[int, int]:
        """(h, w) of the saliency maps: half the processed size, in coded orientation."""
        h, w = self.height // 2, self.width // 2
        return (w, h) if self.info.rotation in (90, 270) else (h, w)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0


def open_source(path: str | Path | MediaBytes, opts: TokenizeOptions) -> Source:
    """Probe ``path``, run the packet pass, resolve the time window and the processed size."""
    t0 = time.perf_counter()
    info, packets = inspect(path)
    start = packets.start if opts.start is None else max(packets.start, float(opts.start))
    end = packets.end if opts.end is None else min(packets.end, float(opts.end))
    if end <= start:
        raise InvalidOptionError(
            f"the window [{opts.start}, {opts.end}] s does not overlap the video ({packets.start:.2f}-{packets.end:.2f} s)"
        )
    frames = packets.select(start, end)
    if len(frames) == 0:
        raise EmptyVideoError(f"{path}: no frame in the window [{start:.2f}, {end:.2f}) s")
    if opts.backend != "frames" and len(frames) < opts.groups:
        raise InvalidOptionError(
            f"{path}: {len(frames)} frames in the window but {opts.groups} groups requested "
            f"(canvases={opts.canvases}, images_per_group={opts.images_per_group}); every group needs a frame, "
            f"so ask for at most {len(frames) // opts.images_per_group * opts.images_per_group or opts.images_per_group} "
            "canvases or use backend='frames'"
        )
    h, w = smart_resize(info.height, info.width, factor=2 * opts.patch_size,
                        min_pixels=opts.min_pixels, max_pixels=opts.max_pixels)
    energy = packet_energy(packets, opts.energy)
    profile = bitcost_profile(packets, start, end, opts.bin_seconds, frame_energy=energy)
    media = path if isinstance(path, MediaBytes) else Path(path)
    src = Source(media, info, packets, opts, start, end, frames, h, w, energy, profile)
    src.timings["packet_pass"] = time.perf_counter() - t0
    return src


@contextmanager
def frame_progress(src: Source) -> Iterator[Callable[[int], None]]:
    """A thread-safe ``advance(n)`` for a tqdm bar of the window's frames (a no-op unless ``progress=True``).

    Callers advance by the frames they have passed, skipped ones included; the
    bar is filled when the block ends without error.
    """
    if not src.opts.progress:
        yield lambda n: None
        return
    from tqdm import tqdm

    lock = threading.Lock()
    total = len(src.frames)
    with tqdm(total=total, unit="frame", desc=f"tokenize {src.path.name}", leave=False) as bar:
        def advance(n: int) -> None:
            with lock:
                bar.update(max(0, min(n, total - bar.n)))

        yield advance
        advance(total)


def with_progress(items: Iterable[T], src: Source) -> Iterator[T]:
    """Iterate ``items`` (decoded frames), advancing :func:`frame_progress` by one per item."""
    with frame_progress(src) as advance:
        for item in items:
            advance(1)
            yield item
