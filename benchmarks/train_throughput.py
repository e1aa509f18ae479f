"""Training throughput: packed vs padded batches of the same samples, with and without activation checkpointing.

Five variants train on the same real precomputed samples (codec-stream video, uniformly
sampled video and images drawn by the recipe's 50 / 37.5 / 12.5 mixture), side by side in
one run:

    packed  / padded   : ``Ov2DataCollator(packing=True)`` (samples packed into rows of at most
                         ``max_length`` tokens, per-sample position ids) vs ``packing=False``
                         (one sample per row, right-padded to the longest, no attention mask:
                         causal attention alone is exact for the real tokens);
    padded+mask        : the padded batches with an explicit 2-D attention mask (what padded batches
                         carried before): SDPA then cannot take its ``is_causal`` kernel;
    ckpt off / ckpt on : the config's ``activation_checkpointing`` (every ViT block and decoder layer).

Each variant runs in a fresh child process: it builds the model and the batches, then trains
them through ``Ov2Trainer.train()`` (the real loop: forward, backward, gradient clipping,
AdamW step, scheduler) for one warm-up pass over the batches and ``repeats`` timed passes.
One optimiser step = one batch of ``batch`` samples. Reported per variant: real (non-padding)
tokens/s from the median pass (clock: wall time on CUDA; on CPU the child's process CPU time with
one torch thread, because on a shared machine other jobs inflate wall time at random, up to 2x
between runs here; the wall time is printed beside it), the tokens the model actually computed
(padding included), the attention scores computed (sum of width^2 over rows) against what a
varlen kernel would compute (sum of len^2 over samples),
and peak memory (CPU: peak RSS growth of the child over its state before training, read from
/proc VmHWM after a reset; CUDA: ``torch.cuda.max_memory_allocated`` over the allocated
memory before training). The first step's loss must agree across variants (packing and
checkpointing change the arithmetic order, not the result), and the script says whether it does.

    .venv/bin/python benchmarks/train_throughput.py                          # CPU: tiny model, ~2 min
    python benchmarks/train_throughput.py --device cuda --json cuda.json     # GPU: ~0.35 B model, bf16

Data: made under ``--data DIR`` (kept, reused by later runs) or a temporary folder, with
``ov2 data`` generators and ``ov2 precompute`` (this needs PyAV); a ``--data DIR`` that
already holds ``codec_N``, ``frames_N`` and ``images`` precomputed folders is used as is
(no PyAV needed), e.g. ``DATA_DIR/precomputed`` of ``examples/train_tiny.sh`` for the CPU preset.
``--prepare-only --preset cuda --data DIR`` makes the GPU preset's data on a machine with PyAV.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

import torch

PRESETS: dict[str, dict[str, Any]] = {
    # 2 busy CPU cores: the tiny model (2-layer towers, width 64), 8-canvas budgets, the stage4_tiny
    # preset's optimiser and max_length (2048), one torch thread (see the clock).
    "cpu": dict(preset="stage4_tiny", width=64, batch=8, batches=2, repeats=2, max_length=2048, threads=1,
                canvases=8, clip=(256, 144), duration=(6.0, 9.0), image_size=112, clips=(4, 2), images=8),
    # A lent GPU: a ~0.35 B random model (12-layer 768-wide ViT, 12-layer 1024-wide Qwen3, 32k vocab so
    # the logits do not dominate memory), bf16 autocast through the Trainer, 16-canvas budgets (2.9-4.7k
    # tokens and ~9k ViT patches per video with the byte-level tiny tokenizer, ~400 tokens per image),
    # the stage4 preset's optimiser, rows of up to 8192 tokens. Sized so that padded batches without
    # checkpointing should still fit in 80 GB (a variant that does not is reported as out of memory).
    "cuda": dict(preset="stage4", width=None, batch=8, batches=3, repeats=3, max_length=8192,
                 canvases=16, clip=(448, 252), duration=(8.0, 10.0), image_size=336, clips=(3, 1), images=8,
                 vision=dict(hidden=768, layers=12, heads=12), text=dict(hidden=1024, layers=12, heads=16, kv=8),
                 vocab=32768),
}
# (name, packing, activation checkpointing, explicit padding mask), run in this order.
VARIANTS = (("packed", True, False, False), ("padded", False, False, False), ("packed+ckpt", True, True, False),
            ("padded+ckpt", False, True, False), ("padded+mask", False, False, True))


# ----------------------------------------------------------------------------------- data
def source_dirs(canvases: int) -> dict[str, tuple[str, str | None, float]]:
    """Mixture source -> (folder, backend, weight): the recipe's 50 / 37.5 / 12.5."""
    return {"codec": (f"codec_{canvases}", "codec", 0.5), "frames": (f"frames_{canvases}", "frames", 0.375),
            "images": ("images", None, 0.125)}


def ensure_data(root: Path, cfg: dict[str, Any]) -> Path:
    """Precomputed codec / frames / image folders under ``root`` (made with PyAV if missing)."""
    dirs = source_dirs(cfg["canvases"])
    if all((root / folder / "index.json").is_file() for folder, _, _ in dirs.values()):
        return root
    from ov2.data import grounding, images, jumprope
    from ov2.data.conversations import benchmark_records, to_conversation, write_manifest
    from ov2.train.precompute import precompute

    print(f"   making data under {root} (clips {cfg['clip'][0]}x{cfg['clip'][1]}, {cfg['canvases']} canvases)")
    width, height = cfg["clip"]
    n_jump, n_ground = cfg["clips"]
    clips = root / "clips"
    jumprope.generate(clips, n_jump, seed=0, width=width, height=height, duration=cfg["duration"], progress=False)
    grounding.generate(clips, n_ground, seed=0, width=width, height=height, duration=cfg["duration"], progress=False)
    videos = write_manifest([to_conversation(t, r) for t, r in benchmark_records(clips)], root / "videos.jsonl")
    images.generate(root / "image_data", cfg["images"], seed=0, size=cfg["image_size"], progress=False)
    for folder, backend, _ in dirs.values():
        if backend is None:
            precompute(root / "image_data" / "images.jsonl", root / folder, backend="frames", canvases=4,
                       progress=False)
        else:
            precompute(videos, root / folder, backend=backend, canvases=cfg["canvases"], progress=False)
    return root


def draw_samples(root: Path, cfg: dict[str, Any]) -> tuple[list[Any], dict[str, int]]:
    """The first ``batches x batch`` draws of the mixture (seed 0): the same samples for every variant."""
    from ov2.train.config import SourceConfig
    from ov2.train.dataset import MixtureTrainDataset

    sources = [SourceConfig(name, str(root / folder), weight, backend, None if backend is None else cfg["canvases"])
               for name, (folder, backend, weight) in source_dirs(cfg["canvases"]).items()]
    n = cfg["batches"] * cfg["batch"]
    dataset = MixtureTrainDataset(sources, n, seed=0)
    return [dataset[p] for p in range(n)], dataset.counts(0, n)


# ---------------------------------------------------------------------------------- model
def build_model(cfg: dict[str, Any], device: str, attn: str | None) -> tuple[Any, Any]:
    """``(model, processor)``: ov2's tiny model (CPU preset) or a larger random model (CUDA preset)."""
    from transformers import PreTrainedTokenizerFast, Qwen2VLImageProcessorPil

    from ov2.model.config import LlavaOnevision2Config
    from ov2.model.modeling import LlavaOnevision2ForConditionalGeneration
    from ov2.model.tiny import build_byte_tokenizer, make_tiny_model, make_tiny_processor
    from ov2.processing.processor import LlavaOnevision2Processor
    from ov2.processing.text import SPECIAL_TOKENS
    from ov2.processing.video import LlavaOnevision2VideoProcessor

    if cfg["width"] is not None:
        model, tok = make_tiny_model(seed=0, width=cfg["width"])
        if attn:
            model.set_attn_implementation(attn)
        return model.to(device), make_tiny_processor(tok)
    tok = build_byte_tokenizer()
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    v, t = cfg["vision"], cfg["text"]
    config = LlavaOnevision2Config(
        vision_config={"model_type": "onevision_encoder", "hidden_size": v["hidden"],
                       "intermediate_size": 4 * v["hidden"], "num_hidden_layers": v["layers"],
                       "num_attention_heads": v["heads"], "patch_size": 14, "out_hidden_size": t["hidden"],
                       "spatial_merge_size": 2, "frame_windows_size": 4},
        text_config={"model_type": "qwen3", "vocab_size": cfg["vocab"], "hidden_size": t["hidden"],
                     "intermediate_size": 3 * t["hidden"], "num_hidden_layers": t["layers"],
                     "num_attention_heads": t["heads"], "num_key_value_heads": t["kv"], "head_dim": 128,
                     "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
                     "tie_word_embeddings": False, "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"], "bos_token_id": ids["<|endoftext|>"]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with torch.device(device):  # random init on the GPU: seconds instead of a minute on the CPU
        model = LlavaOnevision2ForConditionalGeneration(config)
    if attn:
        model.set_attn_implementation(attn)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   model_max_length=32768)
    images = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=150_000, patch_size=14, merge_size=2,
                                      temporal_patch_size=1)
    return model, LlavaOnevision2Processor(images, fast, LlavaOnevision2VideoProcessor())


# ------------------------------------------------------------------------------ measuring
def _status_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class _StepTimer:
    """Trainer callback: wall time of every optimiser step (CUDA-synchronised) and the logged losses."""

    def __init__(self, device: str) -> None:
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                timer._sync()
                timer.started = (time.perf_counter(), time.process_time())

            def on_step_end(self, args, state, control, **kw):
                timer._sync()
                timer.seconds.append(time.perf_counter() - timer.started[0])
                timer.cpu_seconds.append(time.process_time() - timer.started[1])

            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs:
                    timer.losses.append(float(logs["loss"]))

        self.device = device
        self.started = (0.0, 0.0)
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []
        self.losses: list[float] = []
        self.callback = Callback()

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()


class _Batches(torch.utils.data.Dataset):
    """Pre-collated batches, ``passes`` times over (the data loader then costs nothing)."""

    def __init__(self, batches: list[dict[str, torch.Tensor]], passes: int) -> None:
        self.batches, self.passes = batches, passes

    def __len__(self) -> int:
        return len(self.batches) * self.passes

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return dict(self.batches[i % len(self.batches)])


def _first(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return items[0]


def run_variant(name: str, packing: bool, ckpt: bool, mask: bool, cfg: dict[str, Any], device: str, data: str,
                attn: str | None, queue: Any) -> None:
    """Child-process body: build, collate, train ``(1 + repeats)`` passes, report through ``queue``."""
    try:
        queue.put(_run_variant(name, packing, ckpt, mask, cfg, device, Path(data), attn))
    except torch.OutOfMemoryError as exc:  # a result too: this variant does not fit
        queue.put({"variant": name, "oom": True, "error": f"out of memory: {str(exc).splitlines()[0]}"})
    except BaseException as exc:  # report instead of hanging the parent on queue.get()
        import traceback

        queue.put({"variant": name, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})


def _run_variant(name: str, packing: bool, ckpt: bool, mask: bool, cfg: dict[str, Any], device: str, data: Path,
                 attn: str | None) -> dict[str, Any]:
    import transformers
    from transformers.trainer_callback import PrinterCallback

    from ov2.train.collator import IGNORE, Ov2DataCollator
    from ov2.train.config import build_config
    from ov2.train.trainer import Ov2Trainer

    transformers.logging.set_verbosity_error()
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    samples, _ = draw_samples(data, cfg)
    model, processor = build_model(cfg, device, attn)
    model.config.use_cache = False
    collator = Ov2DataCollator(processor, cfg["max_length"], packing=packing)
    started = time.perf_counter()
    batches = [collator(samples[i * cfg["batch"] : (i + 1) * cfg["batch"]]) for i in range(cfg["batches"])]
    collate_s = (time.perf_counter() - started) / len(batches)
    lengths = [len(e) for e in (collator.encode(s) for s in samples) if e is not None]
    if sum(collator.skipped.counts.values()):
        raise RuntimeError(f"samples skipped ({dict(collator.skipped.counts)}): variants would not see the same data")
    if mask:  # padded rows only (packing is False): row i of batch b holds sample b * batch + i
        for i, b in enumerate(batches):
            rows = torch.tensor(lengths[i * cfg["batch"] : (i + 1) * cfg["batch"]])
            b["attention_mask"] = (torch.arange(b["input_ids"].shape[1]) < rows[:, None]).long()
    passes = 1 + cfg["repeats"]
    with tempfile.TemporaryDirectory() as out:
        args = build_config(cfg["preset"], {
            "output_dir": out, "max_steps": len(batches) * passes, "activation_checkpointing": ckpt,
            "per_device_train_batch_size": 1, "global_batch_size": 1, "gradient_accumulation_steps": 1,
            "max_length": cfg["max_length"], "packing": packing, "save_strategy": "no", "logging_steps": 1,
            "report_to": "none", "disable_tqdm": True, "dataloader_num_workers": 0, "plot": False,
        })
        trainer = Ov2Trainer(model=model, args=args, train_dataset=_Batches(batches, passes), data_collator=_first,
                             processing_class=processor)
        timer = _StepTimer(device)
        trainer.add_callback(timer.callback)
        trainer.remove_callback(PrinterCallback)  # the per-step log dicts; this script prints its own summary
        if device == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            base = _status_kib("VmRSS") * 1024
            hwm_reset = reset_peak_rss()
        trainer.train()
        if device == "cuda":
            peak = torch.cuda.max_memory_allocated() - base
            peak_how = "max_memory_allocated - allocated before training"
        else:
            # Without the reset, fall back to ru_maxrss (may include the data-loading peak).
            import resource

            hwm = _status_kib("VmHWM") * 1024 if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            peak = hwm - base
            peak_how = "VmHWM (reset before training) - VmRSS before training" if hwm_reset else "ru_maxrss - VmRSS"
    k = len(batches)
    pass_seconds = [sum(timer.seconds[p * k : (p + 1) * k]) for p in range(passes)]
    pass_cpu_seconds = [sum(timer.cpu_seconds[p * k : (p + 1) * k]) for p in range(passes)]
    # The clock throughput is reported on: wall time on CUDA; on CPU the child's CPU time (it runs
    # one torch thread), which other jobs on a shared machine do not inflate the way they do wall time.
    clock = pass_seconds if device == "cuda" else pass_cpu_seconds
    timed = statistics.median(clock[1:])
    real = sum(int(b["num_tokens"]) for b in batches)
    computed = sum(int(b["input_ids"].numel()) for b in batches)
    labelled = sum(int((b["labels"] != IGNORE).sum()) for b in batches)
    return {
        "variant": name, "packing": packing, "activation_checkpointing": ckpt,
        "attn_implementation": model.config.text_config._attn_implementation,
        "sample_lengths": lengths,
        # Attention scores per pass: SDPA / eager with a mask compute every row's full width^2
        # (a packed row's block mask included); varlen kernels (cu_seqlens) only each sample's len^2.
        "attention_scores_per_pass": sum(int(b["input_ids"].shape[0]) * int(b["input_ids"].shape[1]) ** 2
                                         for b in batches),
        "varlen_attention_scores_per_pass": sum(n * n for n in lengths),
        "rows_per_batch": [int(b["input_ids"].shape[0]) for b in batches],
        "row_width": [int(b["input_ids"].shape[1]) for b in batches],
        "real_tokens_per_pass": real, "computed_tokens_per_pass": computed, "labelled_tokens_per_pass": labelled,
        "pass_seconds": pass_seconds, "pass_cpu_seconds": pass_cpu_seconds,
        "clock": "wall" if device == "cuda" else f"process CPU time ({torch.get_num_threads()} torch threads)",
        "wall_seconds_per_step": statistics.median(pass_seconds[1:]) / k,
        "seconds_per_step": timed / k, "tokens_per_s": real / timed,
        "collate_seconds_per_batch": collate_s, "peak_bytes": int(max(peak, 0)), "peak_how": peak_how,
        "first_loss": timer.losses[0] if timer.losses else None,
        "params": sum(p.numel() for p in model.parameters()),
    }


# ----------------------------------------------------------------------------------- main
def run_child(name: str, packing: bool, ckpt: bool, mask: bool, cfg: dict[str, Any], device: str, data: Path,
              attn: str | None) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=run_variant, args=(name, packing, ckpt, mask, cfg, device, str(data), attn, queue))
    proc.start()
    result = None
    while result is None:
        try:
            result = queue.get(timeout=5)
        except Empty:
            if not proc.is_alive():  # killed without a word: on Linux, SIGKILL is the OOM killer's
                killed = proc.exitcode == -9
                result = {"variant": name, "oom": killed, "error": f"child exited with code {proc.exitcode}"
                          + (" (killed: out of host memory?)" if killed else "")}
    proc.join()
    if result.get("oom"):
        return result
    if "error" in result:
        sys.stderr.write(result.get("traceback", ""))
        raise SystemExit(f"variant {name} failed: {result['error']}")
    return result


def ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    """``a[key] / b[key]``; NaN where a variant ran out of memory."""
    if a.get("oom") or b.get("oom") or not b[key]:
        return float("nan")
    return a[key] / b[key]


def bench(device: str, cfg: dict[str, Any], data: Path, attn: str | None) -> dict[str, Any]:
    ensure_data(data, cfg)
    _, mixture = draw_samples(data, cfg)
    model_desc = (f"tiny model, width {cfg['width']} (2 + 2 layers)" if cfg["width"] is not None else
                  f"random model: ViT {cfg['vision']['layers']}x{cfg['vision']['hidden']}, Qwen3 "
                  f"{cfg['text']['layers']}x{cfg['text']['hidden']}, vocab {cfg['vocab']}")
    print(f"\n== {device}: {model_desc}; preset {cfg['preset']} optimiser, max_length {cfg['max_length']}")
    print(f"   data {data}: {cfg['batches']} batches x {cfg['batch']} samples, mixture drawn {mixture}; "
          f"1 warm-up + {cfg['repeats']} timed passes (median); time = "
          f"{'wall' if device == 'cuda' else 'child CPU time, %s torch thread(s)' % cfg.get('threads')}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for name, packing, ckpt, mask in VARIANTS:
        r = run_child(name, packing, ckpt, mask, cfg, device, data, attn)
        results[name] = r
        if r.get("oom"):
            print(f"   {name:12s} {r['error']}", flush=True)
            continue
        print(f"   {name:12s} rows {r['rows_per_batch']} width {r['row_width']}  "
              f"computed {r['computed_tokens_per_pass']:>7,} tok ({r['real_tokens_per_pass']:,} real)  "
              f"{r['seconds_per_step'] * 1000:8.1f} ms/step  {r['tokens_per_s']:9.1f} tok/s  "
              f"(wall {r['wall_seconds_per_step'] * 1000:.0f} ms/step)  "
              f"peak +{r['peak_bytes'] / 2**20:8.1f} MiB  loss1 {r['first_loss']:.5f}", flush=True)
    pk, pd, pkc, pdc, pdm = (results[v[0]] for v in VARIANTS)
    ratios = {
        "packed/padded tokens_per_s": ratio(pk, pd, "tokens_per_s"),
        "packed/padded tokens_per_s (ckpt)": ratio(pkc, pdc, "tokens_per_s"),
        "packed/padded peak memory": ratio(pk, pd, "peak_bytes"),
        "packed/padded peak memory (ckpt)": ratio(pkc, pdc, "peak_bytes"),
        "packed/padded computed tokens": ratio(pkc, pdc, "computed_tokens_per_pass"),
        "packed/padded attention scores": ratio(pkc, pdc, "attention_scores_per_pass"),
        "ckpt/no-ckpt peak memory (packed)": ratio(pkc, pk, "peak_bytes"),
        "ckpt/no-ckpt peak memory (padded)": ratio(pdc, pd, "peak_bytes"),
        "ckpt/no-ckpt tokens_per_s (packed)": ratio(pkc, pk, "tokens_per_s"),
        "ckpt/no-ckpt tokens_per_s (padded)": ratio(pdc, pd, "tokens_per_s"),
        "padded/padded+mask tokens_per_s": ratio(pd, pdm, "tokens_per_s"),
    }
    losses = [r["first_loss"] for r in results.values() if not r.get("oom")]
    spread = (max(losses) - min(losses)) / max(abs(losses[0]), 1e-12)
    tolerance = 1e-4 if device == "cpu" else 2e-2  # bf16 autocast on GPU: rounding depends on the layout
    # The checkpointed variants see the same batches as the plain ones and run out of memory last.
    if pkc.get("oom") or pdc.get("oom"):
        raise SystemExit("even the checkpointed variants ran out of memory: pass a smaller --batch")
    print(f"   padding: packed batches compute {pkc['computed_tokens_per_pass']:,} tokens, padded "
          f"{pdc['computed_tokens_per_pass']:,}, for {pkc['real_tokens_per_pass']:,} real tokens")
    print(f"   attention scores (width^2 per row, summed): packed {pkc['attention_scores_per_pass'] / 1e6:.1f} M, "
          f"padded {pdc['attention_scores_per_pass'] / 1e6:.1f} M; a varlen kernel on either: "
          f"{pkc['varlen_attention_scores_per_pass'] / 1e6:.1f} M")
    for key, value in ratios.items():
        print(f"   ratio {key:38s} {value:6.3f}")
    print(f"   first-step losses agree across the {len(losses)} variants that fit: {spread < tolerance} "
          f"(relative spread {spread:.2e}); LM attention: {pkc['attn_implementation']}")
    return {"device": device, "config": cfg, "data": str(data), "mixture": mixture, "variants": results,
            "ratios": ratios, "first_loss_relative_spread": spread, "torch": torch.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: cuda if available")
    ap.add_argument("--preset", choices=tuple(PRESETS), help="model / data sizes (default: the device's)")
    ap.add_argument("--data", type=Path, help="precomputed data folder (made there if missing, kept); default: temporary")
    for key in ("width", "batch", "batches", "repeats", "max_length", "threads"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    ap.add_argument("--attn", help="attention implementation of the language model (e.g. flash_attention_2); "
                                   "default: the model's (sdpa)")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ap.add_argument("--prepare-only", action="store_true",
                    help="make the preset's data under --data and stop (e.g. here, for a GPU machine without PyAV)")
    args = ap.parse_args()
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    cfg = dict(PRESETS[args.preset or device])
    for key in ("width", "batch", "batches", "repeats", "max_length", "threads"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU threads, CUDA: "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    if args.prepare_only:
        if args.data is None:
            raise SystemExit("--prepare-only needs --data DIR")
        ensure_data(args.data.absolute(), cfg)
        print(f"data ready: {args.data}")
        return 0
    tmp = None
    data = args.data
    if data is None:
        tmp = data = Path(tempfile.mkdtemp(prefix="ov2_train_bench_"))
    try:
        started = time.perf_counter()
        result = bench(device, cfg, data.absolute(), args.attn)
        result["seconds"] = round(time.perf_counter() - started, 1)
        print(f"   total {result['seconds']:.0f} s")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
