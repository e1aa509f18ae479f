"""The ``ov2`` command. Each subcommand lives in its own module under ``ov2.commands``.

A command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (called with the parsed namespace, returning an exit code).
Modules import their heavy dependencies inside ``func`` so ``ov2 --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import VideoError

COMMAND_MODULES = ("tokenize", "info", "demo", "chat", "data", "eval", "lmms_tasks", "precompute", "train",
                   "experiment", "track", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ov2", description="LLaVA-OneVision-2 with codec-stream tokenization")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"ov2.commands.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VideoError as exc:
        print(f"ov2 {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ov2 info clip.mp4 | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
