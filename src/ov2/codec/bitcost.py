"""Bit-cost: how much the stream spends on each frame, and the binned profile.

Keyframe packets are dropped (they mostly reflect spatial complexity); P/B
packets carry motion and change. Two energy transforms of a packet:

* ``"log1p"``: the release's ``log1p(size)``. It squeezes the range: a quiet
  100-byte frame scores 4.6, a busy 2000-byte one 7.6, so on long, mostly still
  video every bin looks alike.
* ``"excess"`` (default): relative size above the stream's own baseline,
  ``max(0, size - base) / base``, where ``base`` is a low rolling quantile of
  packet sizes of the same kind (reordered B-frames and other frames have
  different typical sizes). Still stretches score ~0, events score many times
  their baseline. Chosen by measurement on minutes-long clips with a few short
  events (see docs/algorithm.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidOptionError
from ..io.packets import PacketTable

ENERGIES = ("excess", "log1p")
BASELINE_WINDOW_S = 15.0  # half-width of the rolling baseline window
BASELINE_QUANTILE = 0.25  # robust to events filling up to ~3/4 of the window
BASELINE_STEP_S = 1.0


@dataclass
class Profile:
    """Energy per bin of ``bin_seconds`` starting at ``t0`` (b_k in the spec)."""

    t0: float
    bin_seconds: float
    raw: np.ndarray  # per-bin sum of packet energy
    energy: np.ndarray  # raw smoothed by a +-1 bin moving average

    @property
    def n_bins(self) -> int:
        return len(self.energy)

    def bin_of(self, times: np.ndarray) -> np.ndarray:
        return np.clip(((np.asarray(times) - self.t0) / self.bin_seconds).astype(np.int64), 0, self.n_bins - 1)

    def as_dict(self) -> dict[str, object]:
        return {"t0": self.t0, "bin_seconds": self.bin_seconds, "raw": self.raw.tolist(),
                "energy": self.energy.tolist()}


def packet_energy(packets: PacketTable, energy: str = "excess") -> np.ndarray:
    """Per-frame energy (presentation order); keyframes get 0."""
    if energy not in ENERGIES:
        raise InvalidOptionError(f"energy must be one of {ENERGIES}, got {energy!r}")
    size = packets.size.astype(np.float64)
    inter = ~packets.key
    out = np.zeros(len(size))
    if not inter.any():
        return out
    if energy == "log1p":
        out[inter] = np.log1p(size[inter])
        return out
    for kind in (packets.reordered, ~packets.reordered):
        sel = inter & kind
        if sel.any():
            base = _rolling_quantile(packets.pts[sel], size[sel])
            out[sel] = np.maximum(size[sel] - base, 0.0) / np.maximum(base, 1.0)
    return out


def _rolling_quantile(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Low quantile of ``v`` within +-BASELINE_WINDOW_S of each time, on a 1 s grid, interpolated."""
    grid = np.arange(t[0], t[-1] + BASELINE_STEP_S, BASELINE_STEP_S)
    lo = np.searchsorted(t, grid - BASELINE_WINDOW_S)
    hi = np.searchsorted(t, grid + BASELINE_WINDOW_S, side="right")
    base = np.array([np.quantile(v[a:b], BASELINE_QUANTILE) if b > a else np.nan for a, b in zip(lo, hi)])
    ok = ~np.isnan(base)
    if not ok.any():
        return np.full(len(t), float(np.median(v)))
    return np.interp(t, grid[ok], base[ok])


def bitcost_profile(
    packets: PacketTable,
    start: float | None = None,
    end: float | None = None,
    bin_seconds: float = 0.5,
    energy: str = "excess",
    frame_energy: np.ndarray | None = None,
) -> Profile:
    """Bin per-frame energy over [start, end) and smooth it with a +-1 bin moving average."""
    if bin_seconds <= 0:
        raise InvalidOptionError(f"bin_seconds must be positive, got {bin_seconds}")
    start = packets.start if start is None else start
    end = packets.end if end is None else end
    e = packet_energy(packets, energy) if frame_energy is None else frame_energy
    n_bins = max(1, int(np.ceil((end - start) / bin_seconds - 1e-9)))
    idx = packets.select(start, end)
    k = np.clip(((packets.pts[idx] - start) / bin_seconds).astype(np.int64), 0, n_bins - 1)
    raw = np.bincount(k, weights=e[idx], minlength=n_bins).astype(np.float64)
    padded = np.pad(raw, 1, mode="constant")
    counts = np.convolve(np.ones(n_bins), np.ones(3), mode="same")
    smooth = np.convolve(padded, np.ones(3), mode="valid") / counts
    return Profile(t0=float(start), bin_seconds=float(bin_seconds), raw=raw, energy=smooth)
