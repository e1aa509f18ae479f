"""Render a list of planned clips over worker processes, skipping the ones already on disk."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any


def default_workers() -> int:
    """Two processes where there are two cores (the generators' target machine), fewer if not."""
    return max(1, min(2, os.cpu_count() or 1))


def encoder_threads(workers: int) -> int:
    """Encoder threads per worker so that workers x threads roughly matches the core count."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def run_jobs(
    jobs: Sequence[Any],
    work: Callable[[Any, int], Any],
    done: Callable[[Any], bool],
    *,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "clips",
) -> int:
    """Call ``work(job, threads)`` for every job for which ``done(job)`` is false.

    ``work`` must be a picklable top-level function. Jobs are independent and
    each writes its own files atomically, so an interrupted run can simply be
    started again (resumable). Returns the number of jobs actually run.
    """
    from tqdm import tqdm

    todo = [job for job in jobs if not done(job)]
    workers = default_workers() if workers is None else max(1, int(workers))
    workers = min(workers, max(1, len(todo)))
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc, unit="clip", disable=not progress)
    try:
        if workers == 1:
            for job in todo:
                work(job, encoder_threads(1))
                bar.update(1)
        else:
            # fork, not spawn: spawn re-imports the caller's __main__, which breaks plain scripts without
            # an `if __name__ == "__main__"` guard. Workers only use numpy/OpenCV/PyAV, no parent threads.
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = [pool.submit(work, job, encoder_threads(workers)) for job in todo]
                try:
                    for fut in as_completed(futures):
                        fut.result()
                        bar.update(1)
                except BaseException:
                    for fut in futures:  # stop queued clips; finished ones stay on disk for a rerun
                        fut.cancel()
                    raise
    finally:
        bar.close()
    return len(todo)


def clip_complete(mp4: Path, boxes: Path, signature: str, n_frames: int) -> bool:
    """True if a clip's mp4 and boxes.json exist and the boxes file belongs to this exact plan.

    Both files are written atomically and the boxes file last, so a boxes
    file with the plan's signature implies a complete mp4.
    """
    if not (mp4.is_file() and mp4.stat().st_size > 0 and boxes.is_file()):
        return False
    try:
        meta = json.loads(boxes.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("signature") == signature and len(meta.get("boxes", [])) == n_frames


def remove_stale_temp_files(clips_dir: Path, clip_id: str) -> None:
    """Drop temporary files an interrupted earlier run left behind for this clip."""
    for stale in clips_dir.glob(f".{clip_id}.*.tmp*"):
        stale.unlink(missing_ok=True)


def clip_paths(clips_dir: Path, clip_id: str) -> tuple[Path, Path]:
    """(mp4 path, boxes.json path) of a clip."""
    return clips_dir / f"{clip_id}.mp4", clips_dir / f"{clip_id}.boxes.json"


def is_clip_done(plan: Any, clips_dir: Path) -> bool:
    """True if ``plan``'s clip is complete on disk (see :func:`clip_complete`)."""
    mp4, boxes = clip_paths(clips_dir, plan.id)
    return clip_complete(mp4, boxes, plan.signature(), plan.n_frames)


def write_clip(plan: Any, scene: Any, clips_dir: Path, threads: int = 1, extra: dict[str, Any] | None = None) -> str:
    """Render every frame of ``scene``, encode the mp4, then write boxes.json last; return the clip id.

    ``plan`` has id, fps, width, height, codec, n_frames, signature(), to_json();
    ``scene.render(i)`` returns (RGB frame, box) and ``scene.times`` the frame times; an optional
    ``scene.finish(clips_dir)`` writes the scene's own files after the last frame.
    """
    from ..fileio import atomic_write_json
    from .encode import ClipWriter

    mp4, boxes_path = clip_paths(clips_dir, plan.id)
    remove_stale_temp_files(clips_dir, plan.id)
    boxes = []
    with ClipWriter(mp4, plan.fps, plan.width, plan.height, plan.codec, threads=threads) as writer:
        for i in range(plan.n_frames):
            frame, box = scene.render(i)
            writer.write(frame)
            boxes.append(box)
    if hasattr(scene, "finish"):  # side files (per-frame masks) land before the boxes file marks the clip done
        scene.finish(clips_dir)
    doc = {"width": plan.width, "height": plan.height, "fps": plan.fps,
           "times": [round(float(t), 6) for t in scene.times], "boxes": boxes, **(extra or {}),
           "signature": plan.signature(), "plan": plan.to_json()}
    atomic_write_json(boxes_path, doc, indent=None)  # one compact line: a box per frame adds up
    return plan.id


def generate_clips(
    out_dir: Path,
    plans: Sequence[Any],
    render: Callable[[tuple[dict[str, Any], str], int], str],
    done: Callable[[tuple[dict[str, Any], str]], bool],
    record: Callable[[Any], dict[str, Any]],
    jsonl_name: str,
    workers: int | None,
    progress: bool,
    desc: str,
) -> Path:
    """Render the missing clips of ``plans`` under ``out_dir/clips`` and write the jsonl; return its path."""
    from ..fileio import atomic_write_jsonl

    clips_dir = Path(out_dir) / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(p.to_json(), str(clips_dir)) for p in plans]
    run_jobs(jobs, render, done, workers=workers, progress=progress, desc=desc)
    path = Path(out_dir) / jsonl_name
    atomic_write_jsonl(path, [record(p) for p in plans])
    return path
