"""Argument types and tokenizer options shared by several ``ov2`` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_candidates_argument(parser: argparse.ArgumentParser, inherits: str = "") -> None:
    """``--candidates-per-group N``: the codec / fixed backends' candidate frames per group."""
    parser.add_argument(
        "--candidates-per-group", metavar="N", type=positive_int, default=None,
        help="codec and fixed backends: candidate frames per group, i.e. at most N timestamp runs per group "
        "(default: follow the budget, max(32, 256 / groups)" + (f"; {inherits}" if inherits else "") + ")")


def codec_config(args: argparse.Namespace) -> dict[str, Any]:
    """The tokenizer options given on the command line beyond backend and budget (for ``codec_config``)."""
    value = getattr(args, "candidates_per_group", None)
    return {"candidates_per_group": value} if value is not None else {}
