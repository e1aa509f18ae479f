"""``ov2 precompute``: tokenize every video of a manifest once, into tar shards plus an index.

The unit of work and of atomicity is the shard. Usable samples are numbered in manifest order
and shard ``k`` holds positions ``[k*S, (k+1)*S)``, so what a shard contains depends only on the
manifest and the parameters, never on worker count or scheduling. A worker tokenizes its
shard's samples in order into ``.shard-k.tar.*.part``, renames it to ``shard-k.tar`` and then
writes the offset table ``shard-k.json``; the table's presence is the commit mark. A re-run
(after a crash or ``kill -9``) keeps every committed shard and redoes the others, so nothing is
duplicated or lost. A sample that fails (undecodable or missing video, unreadable image) is
recorded in its shard's table with its error and the run goes on.

Runs locally on a process pool (``workers``) or on Ray (``ray="local"`` or a cluster address):
Ray tasks write their shards themselves, so ``out`` must be on storage every node can reach.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InvalidOptionError, VideoError, VideoNotFoundError
from ..fileio import atomic_write_json
from .manifest import MISSING_MEDIA, ManifestError, ManifestReport, Sample, read_manifest
from .shards import (
    FORMAT,
    INDEX_NAME,
    PARAMS_NAME,
    VOLATILE_PARAMS,
    ShardWriter,
    decode_image,
    encode_visual_input,
    sample_document,
    sample_key,
    shard_name,
    table_name,
)

DEFAULT_SHARD_SIZE = 64
# index.json is rewritten while running so readers of an unfinished run see its committed shards: after
# every shard for small plans, at most every INDEX_EVERY_S for large ones (the write is O(shards)); always at the end.
INDEX_EVERY_S = 10.0
INDEX_EVERY_SHARD_UP_TO = 1000
MAX_INDEX_PROBLEMS = 20


class PrecomputeParamsError(InvalidOptionError):
    """The output directory holds a precompute made with other parameters (or something else)."""


@dataclass
class PrecomputeResult:
    """What a run did: counts, timings and where the index is."""

    out: Path
    index: dict[str, Any]
    manifest: ManifestReport
    shards_total: int
    shards_run: int
    samples_run: int  # samples processed by this run (written or failed)
    seconds: float
    workers: int
    engine: str  # "serial", "pool" or "ray"
    new_failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def samples_per_s(self) -> float:
        return self.samples_run / self.seconds if self.seconds > 0 else 0.0


# ----------------------------------------------------------------------------- parameters


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_params(manifest: str | os.PathLike[str], backend: str, canvases: int, shard_size: int,
                 options: dict[str, Any]) -> dict[str, Any]:
    """Everything that determines the shards' bytes; validated here, before any work."""
    from ..options import TokenizeOptions

    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidOptionError(f"shard_size must be a positive integer, got {shard_size!r}")
    opts = TokenizeOptions.build(backend=backend, canvases=canvases, **options)
    tokenize = {k: v for k, v in opts.as_dict().items() if k not in VOLATILE_PARAMS}
    return {"format": FORMAT, "manifest_sha256": file_sha256(manifest), "shard_size": shard_size,
            "tokenize": tokenize}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_output_dir(out: Path, params: dict[str, Any]) -> None:
    """Refuse a directory made with other parameters, or one that is not a precompute output."""
    stored_path = out / PARAMS_NAME
    if stored_path.is_file():
        stored = json.loads(stored_path.read_text())
        a, b = _flatten(stored), _flatten(params)
        diffs = [f"{k}: existing {a.get(k)!r}, requested {b.get(k)!r}" for k in sorted(set(a) | set(b))
                 if a.get(k) != b.get(k)]
        if diffs:
            what = "; ".join(d.replace("manifest_sha256", "manifest content (sha256)") for d in diffs)
            raise PrecomputeParamsError(
                f"{out} was precomputed with other parameters ({what}). One directory holds one "
                "parameter set: pass a new --out, or the same manifest and parameters to resume.")
    elif out.exists() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise PrecomputeParamsError(f"{out} is not empty and holds no {PARAMS_NAME}: not an ov2 precompute "
                                    "output; pass an empty or new --out")


# ----------------------------------------------------------------------------- one shard (runs in a worker)


def _image_ext(path: str) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    ext = {"jpeg": "jpg", "tif": "tiff"}.get(ext, ext)
    return ext if ext.isalnum() else "img"


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return MISSING_MEDIA
    return "undecodable" if isinstance(exc, (VideoError, ValueError)) else "error"


def encode_media(sample: Sample, tokenize: dict[str, Any], threads: int) -> tuple[dict[str, bytes], list[dict]]:
    """Tokenize the videos / check the images of one sample: (tar members, media descriptions)."""
    from ..tokenizer import tokenize as run_tokenize

    members: dict[str, bytes] = {}
    docs: list[dict[str, Any]] = []
    for k, m in enumerate(sample.media):
        if m.kind == "video":
            vi = run_tokenize(m.path, **tokenize, threads=threads)
            data, doc = encode_visual_input(vi)
            member = f"m{k}.npz"
            docs.append({"kind": "video", "path": m.path, "member": member, **doc})
        else:
            if not Path(m.path).is_file():
                raise VideoNotFoundError(f"{m.path}: no such file")
            data = Path(m.path).read_bytes()
            try:
                h, w = decode_image(data).shape[:2]
            except ValueError:
                raise ValueError(f"{m.path}: not a decodable image") from None
            member = f"m{k}.{_image_ext(m.path)}"
            docs.append({"kind": "image", "path": m.path, "member": member, "height": h, "width": w})
        members[member] = data
    return members, docs


_TICK: Callable[[int], None] | None = None  # per-sample progress hook inside pool workers


def _set_tick_queue(queue: Any) -> None:
    global _TICK
    _TICK = queue.put


def build_shard(job: dict[str, Any], threads: int = 1, tick: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write one shard (tar, then offset table) for ``job``; return the table without per-sample rows.

    ``job``: ``{"out", "shard", "samples": [[position, sample json], ...], "tokenize", "params_sha"}``.
    """
    tick = tick or _TICK
    out = Path(job["out"])
    number = job["shard"]
    rows, failures = [], []
    writer = ShardWriter(out / shard_name(number))
    try:
        for position, sample_json in job["samples"]:
            sample = Sample.from_json(sample_json)
            key = sample_key(position)
            try:
                members, docs = encode_media(sample, job["tokenize"], threads)
            except Exception as exc:  # a bad file must not stop the run: record it and go on
                failures.append({"key": key, "id": sample.id, "line": sample.line, "source": sample.source,
                                 "kind": sample.kind, "reason": _failure_reason(exc),
                                 "error_type": type(exc).__name__, "error": str(exc)})
            else:
                doc = sample_document(key, sample, docs, job["tokenize"])
                writer.add(key, {"json": doc, **members})
                rows.append({"key": key, "id": sample.id, "source": sample.source, "kind": sample.kind})
            if tick:
                tick(1)
        offsets, size = writer.commit()
    except BaseException:
        writer.abort()
        raise
    for row in rows:
        row["members"] = offsets[row["key"]]
    table = {"format": FORMAT, "shard": number, "tar": shard_name(number), "bytes": size,
             "params_sha": job["params_sha"], "positions": len(job["samples"]), "samples": rows, "failures": failures}
    atomic_write_json(out / table_name(number), table, indent=None)  # the commit mark: written last
    return summarize_table(table)


def summarize_table(table: dict[str, Any]) -> dict[str, Any]:
    """A shard table without its per-sample rows: counts per source and kind, failures, bytes."""
    by_source: Counter = Counter(r["source"] for r in table["samples"])
    by_kind: Counter = Counter(r["kind"] for r in table["samples"])
    return {"shard": table["shard"], "tar": table["tar"], "bytes": table["bytes"], "samples": len(table["samples"]),
            "by_source": dict(by_source), "by_kind": dict(by_kind), "failures": table["failures"]}


def read_committed(out: Path, number: int, params_sha: str, n_positions: int) -> dict[str, Any] | None:
    """The summary of shard ``number`` if it is committed for these parameters, else None."""
    table_path, tar_path = out / table_name(number), out / shard_name(number)
    try:
        table = json.loads(table_path.read_text())
    except (OSError, ValueError):
        return None
    if (table.get("params_sha") != params_sha or table.get("positions") != n_positions
            or not tar_path.is_file() or tar_path.stat().st_size != table.get("bytes")):
        return None
    return summarize_table(table)


# ----------------------------------------------------------------------------- index


def build_index(params: dict[str, Any], report: ManifestReport, summaries: dict[int, dict[str, Any]],
                n_shards: int) -> dict[str, Any]:
    """index.json: parameters, manifest facts, counts per source/kind, failures, committed shards in order."""
    shards, failures, first = [], [], 0
    by_source: dict[str, Counter] = {}
    by_kind: Counter = Counter()
    for number in sorted(summaries):
        s = summaries[number]
        shards.append({"name": s["tar"], "table": table_name(number), "samples": s["samples"], "bytes": s["bytes"],
                       "first": first})
        first += s["samples"]
        by_kind.update(s["by_kind"])
        for src, n in s["by_source"].items():
            by_source.setdefault(src, Counter())["samples"] += n
        for f in s["failures"]:
            by_source.setdefault(f["source"], Counter())["failures"] += 1
            failures.append(f)
    return {
        "format": FORMAT,
        "complete": len(summaries) == n_shards,
        "written_by": f"ov2 {__version__}",
        "params": params,
        "manifest": {"path": str(report.path.resolve()), "sha256": params["manifest_sha256"], "lines": report.lines,
                     "usable": len(report.samples), "skipped": dict(report.skipped),
                     "problems": [vars(p) for p in report.problems[:MAX_INDEX_PROBLEMS]]},
        "counts": {"samples": first, "failures": len(failures), "shards": len(shards), "shards_planned": n_shards,
                   "bytes": sum(s["bytes"] for s in shards),
                   "by_source": {k: {"samples": v["samples"], "failures": v["failures"]}
                                 for k, v in sorted(by_source.items())},
                   "by_kind": dict(sorted(by_kind.items()))},
        "failures": failures,
        "shards": shards,
    }


# ----------------------------------------------------------------------------- engines


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _threads_for(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _run_serial(jobs: list[dict], on_done: Callable[[dict], None], bar: Any) -> None:
    for job in jobs:
        on_done(build_shard(job, threads=_threads_for(1), tick=bar.update))


def _run_pool(jobs: list[dict], workers: int, on_done: Callable[[dict], None], bar: Any) -> None:
    # fork, as the data generators do: spawn would re-import the caller's __main__ (plain scripts break).
    ctx = multiprocessing.get_context("fork")
    ticks = ctx.SimpleQueue()
    threads = _threads_for(workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_set_tick_queue,
                             initargs=(ticks,)) as pool:
        pending = {pool.submit(build_shard, job, threads) for job in jobs}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                while not ticks.empty():
                    bar.update(ticks.get())
                for fut in done:
                    on_done(fut.result())
        except BaseException:
            for fut in pending:  # stop queued shards; committed ones stay for a re-run
                fut.cancel()
            raise


def _run_ray(jobs: list[dict], address: str, workers: int | None, on_done: Callable[[dict], None], bar: Any) -> None:
    try:
        import ray
    except ImportError:
        raise InvalidOptionError("--ray needs Ray: pip install 'ov2[ray]'") from None
    own = not ray.is_initialized()
    if own:
        if address == "local":
            ray.init(num_cpus=workers or None, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(build_shard)
        refs = {task.remote(job, 1): len(job["samples"]) for job in jobs}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for ref in done:
                    on_done(ray.get(ref))
                    bar.update(refs[ref])  # Ray reports per shard
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
    finally:
        if own:
            ray.shutdown()


# ----------------------------------------------------------------------------- the job


def plan_shards(samples: list[Sample], shard_size: int) -> list[list[tuple[int, Sample]]]:
    """Shard k = usable samples at positions [k*S, (k+1)*S) in manifest order."""
    numbered = list(enumerate(samples))
    return [numbered[i:i + shard_size] for i in range(0, len(numbered), shard_size)]


def remove_stale_parts(out: Path) -> int:
    """Delete temp files a killed run left (never visible to readers, but they take space)."""
    n = 0
    for part in out.glob(".*.part"):  # shard tars, offset tables, index.json and params.json temp files
        part.unlink(missing_ok=True)
        n += 1
    return n


def precompute(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    backend: str = "codec",
    canvases: int = 32,
    shard_size: int = DEFAULT_SHARD_SIZE,
    workers: int | None = None,
    ray: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    **options: Any,
) -> PrecomputeResult:
    """Tokenize every video of ``manifest`` once into shards under ``out``; return what was done.

    ``options`` are further :func:`ov2.tokenize` options (``max_pixels``, ``min_pixels``,
    ``images_per_group``, ...). ``workers``: processes (default up to 2; 1 runs in this process).
    ``ray``: ``"local"`` or a Ray cluster address to run the shards as Ray tasks instead.
    ``retry_failed``: redo committed shards that recorded failures (e.g. after fixing files).
    Raises :class:`PrecomputeParamsError` (before any work) if ``out`` holds another parameter set,
    :class:`ManifestError` if the manifest has no usable sample.
    """
    from tqdm import tqdm

    out = Path(out)
    manifest = Path(manifest)
    if not manifest.is_file():
        raise VideoNotFoundError(f"manifest not found: {manifest}")
    params = build_params(manifest, backend, canvases, shard_size, options)
    check_output_dir(out, params)  # before any work, and before the manifest's own warnings
    report = read_manifest(manifest, check_media=False)  # a missing file becomes a recorded failure
    if not report.samples:
        raise ManifestError(f"{manifest}: no usable sample ({report.summary()})")
    out.mkdir(parents=True, exist_ok=True)
    if not (out / PARAMS_NAME).is_file():
        atomic_write_json(out / PARAMS_NAME, params)
    params_sha = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    remove_stale_parts(out)

    plan = plan_shards(report.samples, shard_size)
    summaries: dict[int, dict[str, Any]] = {}
    todo = []
    for number, members in enumerate(plan):
        done = read_committed(out, number, params_sha, len(members))
        if done is not None and not (retry_failed and done["failures"]):
            summaries[number] = done
        else:
            todo.append({"out": str(out), "shard": number, "params_sha": params_sha, "tokenize": params["tokenize"],
                         "samples": [[pos, s.to_json()] for pos, s in members]})

    ray_cpus = workers  # --ray local: None = every core of this machine
    workers = _default_workers() if workers is None else max(1, int(workers))
    engine = "ray" if ray else "serial" if workers == 1 or len(todo) <= 1 else "pool"
    new_failures: list[dict[str, Any]] = []
    last_index = [time.perf_counter()]

    def on_done(summary: dict[str, Any]) -> None:
        summaries[summary["shard"]] = summary
        new_failures.extend(summary["failures"])
        if len(plan) <= INDEX_EVERY_SHARD_UP_TO or time.perf_counter() - last_index[0] > INDEX_EVERY_S:
            atomic_write_json(out / INDEX_NAME, build_index(params, report, summaries, len(plan)))
            last_index[0] = time.perf_counter()

    n_todo = sum(len(j["samples"]) for j in todo)
    bar = tqdm(total=len(report.samples), initial=len(report.samples) - n_todo, unit="sample", desc="precompute",
               disable=not progress, smoothing=0.1)
    t_work = time.perf_counter()
    try:
        if todo:
            if engine == "ray":
                _run_ray(todo, ray, ray_cpus, on_done, bar)
            elif engine == "pool":
                _run_pool(todo, min(workers, len(todo)), on_done, bar)
            else:
                _run_serial(todo, on_done, bar)
    finally:
        bar.close()
        index = build_index(params, report, summaries, len(plan))
        atomic_write_json(out / INDEX_NAME, index)
    seconds = time.perf_counter() - t_work
    return PrecomputeResult(out=out, index=index, manifest=report, shards_total=len(plan), shards_run=len(todo),
                            samples_run=n_todo, seconds=seconds, workers=workers if engine != "serial" else 1,
                            engine=engine, new_failures=new_failures)
