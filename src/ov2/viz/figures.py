"""Writing matplotlib figures: PNG bytes through ov2's atomic write, figure closed afterwards."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_bytes


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Save ``fig`` as a PNG at ``path`` (never half-written) and release it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
