"""Points -> masks with SAM2: turn a point/track answer into one mask per frame (for J&F).

The pipeline is the one behind the release's tracking numbers (the third-party harness
Feilong607/lmms-eval-ov2-tracking ``eval_sam2_tracking.py``; spec section 3):

1. parse ``(t, id, x, y)`` on 0-1000 (:func:`ov2.eval.points.parse_points`);
2. frame = round(t * fps), clamped to [0, T-1]; x_px = x / 1000 * W, y_px = y / 1000 * H, clamped to the
   image;
3. prompt frames in time order: each (frame, object) gets one ``add_new_points_or_box`` call with all its
   points as positive clicks, then SAM2 propagates forward from that frame up to the frame before the
   next prompt frame (the last one to the end);
4. finally backward from the first prompt frame to frame 0;
5. mask = logits > 0, all objects OR-ed into one mask per frame; frames without output stay empty.

Frames come from ov2's own PyAV decoder, and SAM2's video predictor is given them as a preloaded tensor
(resized to the model's square input with PIL and normalised exactly as SAM2's JPEG-folder loader does),
so neither decord, torchvision nor a folder of JPEGs is needed. ``fps=None`` uses every frame of the
video and its average frame rate (DAVIS/MeViS JPEG folders are all frames); ``fps=6`` resamples to
6 frames per second, each output time taking the frame with the nearest pts (as ffmpeg's ``fps``
filter, which the harness uses for mp4 sources).

The random-weight model used in the tests exercises the plumbing only: **real masks and real J&F need
the user's own SAM2.1 checkpoint** (e.g. ``sam2.1_hiera_large.pt`` with ``configs/sam2.1/
sam2.1_hiera_l.yaml``); ov2 downloads nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ov2.eval.points import PointRecord
from ov2.eval.tracking import time_to_frame

__all__ = [
    "SAM2_MISSING",
    "TrackResult",
    "load_frames",
    "prompt_map",
    "build_predictor",
    "segment",
    "track_frames",
    "track_answer",
]

SAM2_MISSING = (
    "SAM2 is not installed; install it without its torchvision pin: "
    "pip install --no-deps sam2==1.1.0 && pip install -e '.[sam2]'"
)

# SAM2's image normalisation (ImageNet mean/std), as in sam2.utils.misc.load_video_frames.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass
class TrackResult:
    """Masks for every frame used, and a record of how they were made."""

    masks: np.ndarray  # bool [T, H, W], objects OR-ed
    times: np.ndarray  # float64 [T], seconds of each frame
    fps: float  # the rate used for frame = round(t * fps)
    prompts: list[dict[str, Any]] = field(default_factory=list)  # one per (frame, object) click call
    meta: dict[str, Any] = field(default_factory=dict)


def load_frames(video: str | os.PathLike[str], fps: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Decode ``video`` to RGB uint8 ``[T, H, W, 3]`` with frame times ``[T]`` and the fps that maps
    times to these frames (the stream's average rate when ``fps`` is None)."""
    from ov2.io.decode import iter_frames
    from ov2.io.frames import to_rgb
    from ov2.io.probe import inspect

    info, packets = inspect(video)
    frames: list[np.ndarray] = []
    times: list[float] = []
    for df in iter_frames(video, packets):
        frames.append(to_rgb(df.frame, info.height, info.width, info.rotation))
        times.append(df.pts)
    arr = np.stack(frames)
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    arr, t = arr[order], t[order]
    if fps is None:
        return arr, t - t[0], float(info.fps)
    rel = t - t[0]
    n_out = int(np.floor(rel[-1] * fps + 1e-9)) + 1
    want = np.arange(n_out) / fps
    idx = np.abs(rel[None, :] - want[:, None]).argmin(axis=1)
    return arr[idx], want, float(fps)


def prompt_map(
    records: Iterable[PointRecord], *, fps: float, width: int, height: int, n_frames: int
) -> dict[int, dict[int, list[tuple[float, float]]]]:
    """``{frame: {object id: [(x_px, y_px), ...]}}``: the clicks of step 2, all points kept (several
    times that round to one frame give several clicks on it)."""
    out: dict[int, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        f = time_to_frame(r.t, fps, n_frames)
        x = min(max(r.x / 1000.0 * width, 0.0), width - 1.0)
        y = min(max(r.y / 1000.0 * height, 0.0), height - 1.0)
        out[f][int(r.id)].append((x, y))
    return {f: dict(objs) for f, objs in sorted(out.items())}


def _import_sam2() -> None:
    try:
        import sam2  # noqa: F401
        from sam2 import sam2_video_predictor  # noqa: F401
    except ImportError as exc:  # sam2 itself or one of its imports (hydra-core, iopath)
        raise ImportError(f"{SAM2_MISSING} ({exc})") from exc


def build_predictor(
    config: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] | None,
    *,
    device: str = "cpu",
    overrides: Sequence[str] = (),
) -> Any:
    """A ``SAM2VideoPredictor`` from a config and a checkpoint (``None``: random weights, for tests).

    ``config`` is a YAML file path, or a config name inside the sam2 package such as
    ``configs/sam2.1/sam2.1_hiera_l.yaml``. ``overrides`` are extra Hydra overrides
    (``++model.image_size=128``). The release-style post-processing options are applied by SAM2's
    ``build_sam2_video_predictor``.
    """
    _import_sam2()
    from hydra import initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from sam2.build_sam import build_sam2_video_predictor

    ckpt = None if checkpoint is None else str(checkpoint)
    path = Path(config)
    if not path.is_file():
        return build_sam2_video_predictor(str(config), ckpt, device=device, hydra_overrides_extra=list(overrides))
    # A file outside the package: point Hydra at its folder, then give sam2 its own search path back.
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(path.parent.resolve()), version_base="1.2"):
            return build_sam2_video_predictor(path.name, ckpt, device=device, hydra_overrides_extra=list(overrides))
    finally:
        GlobalHydra.instance().clear()
        initialize_config_module("sam2", version_base="1.2")


def _frames_tensor(frames: np.ndarray, image_size: int) -> Any:
    """SAM2's input: each frame resized to ``image_size`` square with PIL (as its JPEG loader), /255,
    normalised; float32 ``[T, 3, S, S]``."""
    import torch
    from PIL import Image

    out = np.empty((len(frames), 3, image_size, image_size), dtype=np.float32)
    mean = np.asarray(_MEAN, dtype=np.float32)[:, None, None]
    std = np.asarray(_STD, dtype=np.float32)[:, None, None]
    for i, fr in enumerate(frames):
        img = np.asarray(Image.fromarray(fr).resize((image_size, image_size)), dtype=np.float32) / 255.0
        out[i] = (img.transpose(2, 0, 1) - mean) / std
    return torch.from_numpy(out)


@contextlib.contextmanager
def _preloaded(images: Any, height: int, width: int) -> Iterator[None]:
    """Make ``SAM2VideoPredictor.init_state`` take our tensor instead of reading a path (its loader
    needs decord for mp4 or a JPEG folder). Scoped: the module's loader is restored on exit."""
    import sam2.sam2_video_predictor as svp

    original = svp.load_video_frames

    def loader(video_path: Any, image_size: int, offload_video_to_cpu: bool, **kwargs: Any):
        device = kwargs.get("compute_device")
        imgs = images if (offload_video_to_cpu or device is None) else images.to(device)
        return imgs, height, width

    svp.load_video_frames = loader
    try:
        yield
    finally:
        svp.load_video_frames = original


def segment(predictor: Any, frames: np.ndarray, prompts: dict[int, dict[int, list[tuple[float, float]]]]) -> np.ndarray:
    """Steps 3-5 on decoded RGB ``frames`` ``[T, H, W, 3]``: bool masks ``[T, H, W]``."""
    import torch

    t, h, w = frames.shape[:3]
    masks = np.zeros((t, h, w), dtype=bool)
    if not prompts:
        return masks
    images = _frames_tensor(frames, int(predictor.image_size))
    with torch.inference_mode():
        with _preloaded(images, h, w):
            state = predictor.init_state(video_path="<ov2 frames>", offload_video_to_cpu=True)

        def take(gen: Iterable[tuple[int, Any, Any]]) -> None:
            for fidx, _, logits in gen:
                masks[int(fidx)] = (logits > 0).reshape(-1, h, w).any(0).cpu().numpy()

        order = sorted(prompts)
        for k, f in enumerate(order):
            for oid, clicks in sorted(prompts[f].items()):
                predictor.add_new_points_or_box(
                    inference_state=state,
                    frame_idx=f,
                    obj_id=oid,
                    points=torch.tensor(clicks, dtype=torch.float32),
                    labels=torch.ones(len(clicks), dtype=torch.int32),
                    clear_old_points=True,
                    normalize_coords=True,
                )
            nxt = order[k + 1] if k + 1 < len(order) else t
            take(predictor.propagate_in_video(state, start_frame_idx=f, max_frame_num_to_track=max(nxt - f - 1, 0)))
        if order[0] > 0:
            take(predictor.propagate_in_video(state, start_frame_idx=order[0], max_frame_num_to_track=order[0], reverse=True))
    return masks


def track_frames(
    frames: np.ndarray,
    times: np.ndarray,
    fps: float,
    records: Sequence[PointRecord],
    predictor: Any,
    *,
    resampled: bool = False,
) -> TrackResult:
    """The whole pipeline for one answer's parsed records on decoded frames (from :func:`load_frames`)."""
    t, h, w = frames.shape[:3]
    prompts = prompt_map(records, fps=fps, width=w, height=h, n_frames=t)
    masks = segment(predictor, frames, prompts)
    calls = [
        {"frame": f, "time": float(times[f]), "object": oid, "clicks_px": [[round(x, 2), round(y, 2)] for x, y in c]}
        for f, objs in prompts.items()
        for oid, c in sorted(objs.items())
    ]
    meta = {
        "frames": int(t),
        "width": int(w),
        "height": int(h),
        "fps": float(fps),
        "resampled": bool(resampled),
        "prompt_frames": sorted(prompts),
        "objects": sorted({oid for objs in prompts.values() for oid in objs}),
        "image_size": int(predictor.image_size),
        "nonempty_frames": int(masks.any(axis=(1, 2)).sum()),
    }
    return TrackResult(masks=masks, times=np.asarray(times, dtype=np.float64), fps=float(fps), prompts=calls, meta=meta)


def track_answer(
    video: str | os.PathLike[str],
    records: Sequence[PointRecord],
    predictor: Any,
    *,
    fps: float | None = None,
) -> TrackResult:
    """Decode ``video`` (:func:`load_frames`) and run :func:`track_frames`."""
    frames, times, used_fps = load_frames(video, fps)
    return track_frames(frames, times, used_fps, records, predictor, resampled=fps is not None)
