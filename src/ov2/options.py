"""Tokenizer options: defaults from the spec, validated once, recorded in ``meta["params"]``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .codec.bitcost import ENERGIES
from .codec.packing import ATTENUATIONS
from .errors import InvalidOptionError
from .io.resize import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS

BACKENDS = ("codec", "frames", "fixed")
CANVAS_BACKENDS = ("codec", "fixed")  # the backends that pack blocks into canvases (and read codec options)
MIN_CANDIDATES = 32  # the spec's candidates_per_group: the floor when the budget's share is smaller


@dataclass(frozen=True)
class TokenizeOptions:
    """Every knob of :func:`ov2.tokenize` (see docs/algorithm.md for what each does)."""

    backend: str = "codec"
    canvases: int = 32
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_pixels: int = DEFAULT_MIN_PIXELS
    patch_size: int = 14
    images_per_group: int = 4
    start: float | None = None
    end: float | None = None
    # bit-cost profile and adaptive groups
    energy: str = "excess"
    bin_seconds: float = 0.5
    min_span_factor: float = 0.25  # min_span = factor x mean span (duration / groups)
    max_span_factor: float = 3.0
    valley_radius: int = 3  # bins
    valley_band: tuple[float, float] | None = (0.5, 2.0)  # None = the paper's valley search as written
    # candidates, saliency, packing
    candidates_per_group: int | None = None  # None: follow the budget (see candidates_for)
    candidates_total: int = 256  # candidate frames of the whole window when groups are few
    w_bits: float = 0.5
    rank_lambda: float = 0.35
    peak_weight: float = 0.35
    attenuation: str = "sqrt"
    # execution
    threads: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        def positive_int(name: str) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise InvalidOptionError(f"{name} must be a positive integer, got {v!r}")

        if self.backend not in BACKENDS:
            raise InvalidOptionError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        for name in ("canvases", "images_per_group", "candidates_total", "patch_size", "max_pixels", "min_pixels"):
            positive_int(name)
        if self.candidates_per_group is not None:
            positive_int("candidates_per_group")
        if self.backend != "frames" and self.canvases % self.images_per_group:
            raise InvalidOptionError(
                f"canvases={self.canvases} is not a multiple of images_per_group={self.images_per_group}; "
                f"use e.g. {max(1, round(self.canvases / self.images_per_group)) * self.images_per_group}"
            )
        if self.energy not in ENERGIES:
            raise InvalidOptionError(f"energy must be one of {ENERGIES}, got {self.energy!r}")
        if self.attenuation not in ATTENUATIONS:
            raise InvalidOptionError(f"attenuation must be one of {ATTENUATIONS}, got {self.attenuation!r}")
        if not self.bin_seconds > 0:
            raise InvalidOptionError(f"bin_seconds must be positive, got {self.bin_seconds}")
        if not 0 < self.min_span_factor <= self.max_span_factor:
            raise InvalidOptionError("need 0 < min_span_factor <= max_span_factor")
        if self.valley_band is not None:
            band = tuple(self.valley_band)
            if len(band) != 2 or not 0 <= band[0] <= 1 <= band[1]:
                raise InvalidOptionError(f"valley_band must be (low <= 1, high >= 1) or None, got {self.valley_band!r}")
        if self.valley_radius < 0 or self.w_bits < 0 or self.rank_lambda < 0 or self.peak_weight < 0:
            raise InvalidOptionError("valley_radius, w_bits, rank_lambda and peak_weight must be >= 0")
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or v != v or v < 0):
                raise InvalidOptionError(f"{name} must be a non-negative number of seconds, got {v!r}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidOptionError(f"end ({self.end}) must be after start ({self.start})")

    @property
    def groups(self) -> int:
        return self.canvases // self.images_per_group

    @property
    def candidates_for(self) -> int:
        """Candidate frames per group: ``candidates_per_group`` if set, else the budget's share.

        Following the budget, ``max(MIN_CANDIDATES, ceil(candidates_total / groups))``:
        few groups get more candidates each, so the frames scored (and the cost)
        stay about constant while small budgets still cover short events.
        """
        if self.candidates_per_group is not None:
            return self.candidates_per_group
        return max(MIN_CANDIDATES, -(-self.candidates_total // self.groups))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (tuples as lists, so a saved and reloaded copy compares equal)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def build(cls, **kwargs: Any) -> "TokenizeOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise InvalidOptionError(f"unknown option(s) {unknown}; valid options: {sorted(known)}")
        return cls(**kwargs)
