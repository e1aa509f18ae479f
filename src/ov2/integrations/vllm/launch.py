"""Run ``ov2 serve`` on a free loopback port for a script or a test, and stop it afterwards.

The throughput benchmark and the server tests start the same server the same way; this is that
one way: pick a free 127.0.0.1 port, start ``python -m ov2 serve CKPT --host 127.0.0.1 --port P
FLAGS...`` with its output in a log file, wait until ``/health`` answers (failing at once if the
process exits), and terminate it (then kill it) on the way out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


class ServerStartError(RuntimeError):
    """``ov2 serve`` exited or did not answer ``/health`` in time (the message names its log)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def loopback_server(checkpoint: str | os.PathLike[str], flags: Sequence[str], *, log_path: str | os.PathLike[str],
                    env: Mapping[str, str] | None = None, start_timeout: float = 600.0,
                    ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield ``(base_url, process)`` of a healthy ``ov2 serve CHECKPOINT`` on loopback; stop it on exit."""
    import requests

    port = free_port()
    cmd = [sys.executable, "-m", "ov2", "serve", str(checkpoint), "--host", "127.0.0.1", "--port", str(port),
           *flags]
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        try:
            _wait_healthy(proc, base, start_timeout, Path(log_path), requests)
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(proc: subprocess.Popen, base: str, timeout: float, log_path: Path, requests) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(f"ov2 serve exited with {proc.returncode}; see {log_path}")
        try:
            if requests.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(2)
    raise ServerStartError(f"ov2 serve did not answer /health in {timeout:.0f} s; see {log_path}")
