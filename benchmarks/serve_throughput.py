"""Serving throughput on the tiny model: vLLM (offline LLM and the OpenAI server at concurrency 8) vs ov2's generate().

    .venv-vllm/bin/python benchmarks/serve_throughput.py [--requests 32] [--canvases 8] [--out DIR]

Workloads: ``--requests`` codec-video requests (distinct clips, ``--canvases`` canvases) and as
many text-only requests. For each engine: requests/s and output tokens/s; for video, the
time spent tokenizing (ov2.tokenize, run in parallel on a thread pool: 4 at a time) against
generating. Greedy, ``--max-tokens`` new tokens, float32, CPU. Prints a Markdown table
(copied into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
MESSAGES_VIDEO = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}]}]
MESSAGES_TEXT = [{"role": "user", "content": [{"type": "text", "text": "Describe a jump rope session."}]}]


def make_inputs(root: Path, n: int) -> tuple[Path, list[Path]]:
    from ov2.model.tiny import make_tiny_checkpoint
    from ov2.samples import make_bursts_clip

    ckpt = root / "tiny"
    if not (ckpt / "config.json").exists():
        make_tiny_checkpoint(ckpt, seed=3, text_head_dim=32)
    clips = []
    for i in range(n):
        clip = root / f"clip{i:02d}.mp4"
        if not clip.exists():
            make_bursts_clip(clip, duration=6.0, width=320, height=180, seed=i)
        clips.append(clip)
    return ckpt, clips


def bench_hf(ckpt: Path, clips: list[Path], canvases: int, max_tokens: int) -> dict:
    """ov2's own path: tokenize in parallel, then generate() one request at a time (float32)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import ov2

    ov2.register_auto_classes()
    model = AutoModelForImageTextToText.from_pretrained(ckpt, dtype="float32").eval()
    proc = AutoProcessor.from_pretrained(ckpt)
    res = {}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        vis = list(pool.map(lambda c: ov2.tokenize(str(c), canvases=canvases,
                                                   max_pixels=proc.video_processor.max_pixels), clips))
    t_tok = time.perf_counter() - t0
    for name, items in (("video", vis), ("text", [None] * len(clips))):
        t1 = time.perf_counter()
        out_tokens = 0
        for vi in items:
            msgs = MESSAGES_VIDEO if vi is not None else MESSAGES_TEXT
            batch = proc(text=proc.apply_chat_template(msgs, add_generation_prompt=True),
                         videos=[vi] if vi is not None else None)
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_tokens, min_new_tokens=max_tokens, do_sample=False)
            out_tokens += out.shape[1] - batch["input_ids"].shape[1]
        t_gen = time.perf_counter() - t1
        total = t_gen + (t_tok if name == "video" else 0.0)
        res[name] = {"seconds": total, "req_s": len(items) / total, "tok_s": out_tokens / total,
                     "tokenize_s": t_tok if name == "video" else 0.0, "generate_s": t_gen}
    return res


def bench_offline(ckpt: Path, clips: list[Path], canvases: int, max_tokens: int) -> dict:
    """vLLM's LLM API: videos tokenized in parallel up front (video_input(VisualInput)), one generate call."""
    from vllm import LLM, SamplingParams

    import ov2
    from ov2.integrations.vllm import video_input

    llm = LLM(model=str(ckpt), dtype="float32", max_model_len=8192, gpu_memory_utilization=0.15,
              enforce_eager=True, limit_mm_per_prompt={"video": 1}, mm_processor_kwargs={"canvases": canvases})
    tok = llm.get_tokenizer()
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, min_tokens=max_tokens)
    max_pixels = 56 * 56 * 16  # the tiny checkpoint's video processor
    res = {}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        vis = list(pool.map(lambda c: ov2.tokenize(str(c), canvases=canvases, max_pixels=max_pixels), clips))
    t_tok = time.perf_counter() - t0
    for name, msgs, mm in (("video", MESSAGES_VIDEO, vis), ("text", MESSAGES_TEXT, [None] * len(clips))):
        prompt = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        reqs = [{"prompt": prompt, **({"multi_modal_data": {"video": video_input(v)}} if v is not None else {})}
                for v in mm]
        t1 = time.perf_counter()
        outs = llm.generate(reqs, params, use_tqdm=False)
        t_gen = time.perf_counter() - t1
        n_tok = sum(len(o.outputs[0].token_ids) for o in outs)
        total = t_gen + (t_tok if name == "video" else 0.0)
        res[name] = {"seconds": total, "req_s": len(reqs) / total, "tok_s": n_tok / total,
                     "tokenize_s": t_tok if name == "video" else 0.0, "generate_s": t_gen}
    return res


def bench_server(ckpt: Path, clips: list[Path], canvases: int, max_tokens: int, concurrency: int) -> dict:
    """``ov2 serve`` on loopback; videos sent as base64 data URLs (tokenized in the server, prefetched in parallel)."""
    import requests

    from ov2.integrations.vllm.launch import loopback_server

    flags = ["--gpu-memory-utilization", "0.15", "--max-model-len", "8192", "--dtype", "float32", "--enforce-eager",
             "--mm-processor-kwargs", json.dumps({"canvases": canvases}), "--max-num-seqs", str(concurrency)]
    with loopback_server(ckpt, flags, log_path=ckpt.parent / "server.log", env=ENV) as (base, _):
        urls = [f"data:video/mp4;base64,{base64.b64encode(c.read_bytes()).decode()}" for c in clips]

        def one(url: str | None) -> int:
            content = ([{"type": "video_url", "video_url": {"url": url}}] if url else []) + [
                {"type": "text", "text": "What happens?" if url else "Describe a jump rope session."}]
            body = {"model": ckpt.name, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens,
                    "min_tokens": max_tokens, "temperature": 0.0}
            r = requests.post(f"{base}/v1/chat/completions", json=body, timeout=600)
            r.raise_for_status()
            return int(r.json()["usage"]["completion_tokens"])

        res = {}
        for name, items in (("video", urls), ("text", [None] * len(clips))):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                n_tok = sum(pool.map(one, items))
            total = time.perf_counter() - t0
            res[name] = {"seconds": total, "req_s": len(items) / total, "tok_s": n_tok / total}
        return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--canvases", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("bench_out/serve"))
    ap.add_argument("--only", choices=("hf", "offline", "server"), action="append")
    args = ap.parse_args()
    os.environ.update({k: v for k, v in ENV.items() if k not in os.environ})
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt, clips = make_inputs(args.out, args.requests)
    runs = {"hf": lambda: bench_hf(ckpt, clips, args.canvases, args.max_tokens),
            "offline": lambda: bench_offline(ckpt, clips, args.canvases, args.max_tokens),
            "server": lambda: bench_server(ckpt, clips, args.canvases, args.max_tokens, args.concurrency)}
    results = {name: fn() for name, fn in runs.items() if not args.only or name in args.only}
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"| engine | workload | requests/s | output tokens/s | tokenize s | generate s |\n|---|---|---|---|---|---|")
    for name, res in results.items():
        for work, r in res.items():
            print(f"| {name} | {work} | {r['req_s']:.2f} | {r['tok_s']:.1f} | "
                  f"{r.get('tokenize_s', float('nan')):.1f} | {r.get('generate_s', r['seconds']):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
