"""Running the ``ov2`` command in-process for tests."""

from __future__ import annotations

import contextlib
import io

import ov2.cli


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``ov2 ARGV``; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = ov2.cli.main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return int(code or 0), out.getvalue(), err.getvalue()
