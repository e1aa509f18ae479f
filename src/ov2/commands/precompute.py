"""``ov2 precompute``: tokenize a training manifest's videos once into tar shards plus index.json."""

from __future__ import annotations

import argparse

from ..options import BACKENDS
from .arguments import add_candidates_argument, codec_config
from .arguments import positive_int as _positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``ov2 precompute``."""
    p = subparsers.add_parser(
        "precompute",
        help="tokenize a training manifest into sharded, streaming-readable files",
        description="Tokenizes every video of MANIFEST once (images are stored as their encoded bytes) into "
        "OUT/shard-*.tar (WebDataset layout) plus OUT/index.json. Resumable: a re-run keeps finished shards. "
        "A broken video is recorded in the index, not fatal.",
    )
    p.add_argument("manifest", help="JSONL manifest (LLaVA conversations or HF messages)")
    p.add_argument("--out", required=True, help="output folder (one parameter set per folder)")
    p.add_argument("--backend", choices=BACKENDS, default="codec", help="tokenizer backend (default codec)")
    p.add_argument("--canvases", type=_positive_int, default=32, help="canvases per video (default 32)")
    p.add_argument("--max-pixels", type=_positive_int, default=None, help="pixel budget per canvas (default 150000)")
    p.add_argument("--min-pixels", type=_positive_int, default=None, help="minimum pixels per canvas")
    p.add_argument("--images-per-group", type=_positive_int, default=None, help="canvases per group (default 4)")
    add_candidates_argument(p)
    p.add_argument("--shard-size", type=_positive_int, default=None, help="samples per shard (default 64)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="local processes (default: up to 2); with --ray local, the CPUs Ray may use")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run the shards as Ray tasks: 'local' starts a local instance, else a cluster address "
                   "(e.g. ray://head:10001 or auto); OUT must be on storage every node reaches")
    p.add_argument("--retry-failed", action="store_true", help="redo finished shards that recorded failures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.precompute import DEFAULT_SHARD_SIZE, precompute

    options = {k: v for k, v in (("max_pixels", args.max_pixels), ("min_pixels", args.min_pixels),
                                 ("images_per_group", args.images_per_group)) if v is not None}
    options.update(codec_config(args))
    result = precompute(args.manifest, args.out, backend=args.backend, canvases=args.canvases,
                        shard_size=args.shard_size or DEFAULT_SHARD_SIZE, workers=args.workers, ray=args.ray,
                        retry_failed=args.retry_failed, progress=not args.quiet, **options)
    print(summary(result))
    return 0


def summary(result) -> str:  # noqa: ANN001 - PrecomputeResult, imported lazily
    """The one-screen report printed at the end of ``ov2 precompute``."""
    idx, rep = result.index, result.manifest
    counts, tok = idx["counts"], idx["params"]["tokenize"]
    skipped = ", ".join(f"{r}={n}" for r, n in sorted(rep.skipped.items())) or "none"
    lines = [
        f"ov2 precompute  {rep.path} -> {result.out}",
        f"manifest   {rep.lines} lines: {len(rep.samples)} usable, skipped {rep.n_skipped} ({skipped})",
        f"params     backend {tok['backend']}, canvases {tok['canvases']}, max_pixels {tok['max_pixels']}, "
        f"shard size {idx['params']['shard_size']}",
        f"work       {result.samples_run} samples in {result.shards_run} shards now, "
        f"{result.shards_total - result.shards_run} shards from an earlier run; engine {result.engine} "
        f"({result.workers} worker{'s' if result.workers != 1 else ''})",
    ]
    if result.samples_run:
        lines.append(f"speed      {result.samples_per_s:.2f} samples/s ({result.seconds:.1f} s)")
    by_source = ", ".join(f"{k} {v['samples']}" + (f" (+{v['failures']} failed)" if v["failures"] else "")
                          for k, v in counts["by_source"].items())
    by_kind = ", ".join(f"{k} {n}" for k, n in counts["by_kind"].items())
    lines += [
        f"samples    {counts['samples']} written ({by_kind or 'none'}); {counts['failures']} failed",
        f"sources    {by_source or 'none'}",
    ]
    for f in idx["failures"][:5]:
        lines.append(f"failure    line {f['line']} {f['id']}: {f['error_type']}: {f['error'][:100]}")
    if len(idx["failures"]) > 5:
        lines.append(f"           ... {len(idx['failures']) - 5} more in index.json")
    state = "complete" if idx["complete"] else f"INCOMPLETE ({counts['shards']}/{counts['shards_planned']} shards)"
    lines.append(f"output     {result.out}/index.json, {counts['shards']} shards, {counts['bytes'] / 1e6:.1f} MB, "
                 f"{state}")
    return "\n".join(lines)
