"""Point, track and trace answers: read every form the model (or its training data) writes, and write them.

Forms read by :func:`parse_points` (see ``../shared/spec/perception.md`` section 1 and docs/evaluation.md):

* Molmo2 html-v2: ``<points coords="KEY ID X Y [ID X Y ...];KEY ...">label</points>`` and the same with
  ``<tracks>``; an ``alt="..."`` attribute may precede ``coords``. KEY is a time in seconds (video) or a
  1-based image index; X, Y are integers on 0-1000; ids are 1-based.
* the released OV2 variant: two-decimal times, ids from 0, newlines around the label;
* html-v1: the same with a TAB between frame groups (Molmo2 also accepts ``:`` and ``,``, so do we);
* legacy Molmo tags ``<point x="12.3" y="45.6">`` and ``<points x1=".." y1=".." ...>`` on 0-100;
* plain ``(x, y)`` / ``[x, y]`` points (lmms-eval): integers are 0-1000, numbers with a decimal point
  that are both at most 1 are 0-1.

:func:`parse_trace` reads 2D or 3D waypoint lists ``[[x, y, d], ...]`` (TraceSpatial).

Nothing here raises on model output: a malformed piece (a cut-off tag, a coordinate above 1000 or with
five digits, a duplicate object id within one frame, a group with a bad key) is skipped and counted in
``unparsed`` so an evaluator can report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Literal, NamedTuple, Sequence

import numpy as np

__all__ = [
    "PointRecord",
    "ParsedPoints",
    "ParsedTrace",
    "parse_points",
    "format_points",
    "parse_trace",
    "format_trace",
    "NONE_POINTS",
    "NONE_TRACKS",
]

Kind = Literal["points", "tracks", "plain", "none"]
Style = Literal["ov2", "molmo2", "v1"]

# What Molmo2 writes when there is nothing to point at or track.
NONE_POINTS = "There are none."
NONE_TRACKS = "No tracks available."

_DEFAULT_DECIMALS = {"ov2": 2, "molmo2": 1, "v1": 1}


class PointRecord(NamedTuple):
    """One point of an answer.

    ``t``: seconds for video, or the 1-based image index for images. ``id``: the object id as written
    (0-based in OV2 answers, 1-based in Molmo2 ones). ``x``, ``y``: on 0-1000 (x / width, y / height).
    """

    t: float
    id: int
    x: float
    y: float


@dataclass
class ParsedPoints:
    """Everything read from one answer.

    ``kind`` is ``"points"`` / ``"tracks"`` (tags found), ``"plain"`` (bare ``(x, y)`` points) or
    ``"none"`` (nothing found; a "There are none." answer is this with ``unparsed == 0``).
    ``labels`` holds each tag's label, stripped, in order. ``unparsed`` counts skipped pieces.
    """

    records: list[PointRecord] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    kind: str = "none"
    unparsed: int = 0

    def times(self) -> list[float]:
        """The distinct keys (times or image indices), sorted."""
        return sorted({r.t for r in self.records})

    def at(self, t: float, tol: float = 1e-6) -> list[PointRecord]:
        """The records whose key is within ``tol`` of ``t``."""
        return [r for r in self.records if abs(r.t - t) <= tol]


@dataclass
class ParsedTrace:
    """A waypoint list: ``points`` is float64 ``[K, 2]`` (x, y on 0-1000) or ``[K, 3]`` (+ depth in metres)."""

    points: np.ndarray
    unparsed: int = 0


# --------------------------------------------------------------------------- parsing

_NUM = r"-?\d+(?:\.\d+)?"
# A complete <points|tracks ...>label</points|tracks> with a coords attribute (non-greedy, any order of
# attributes before coords). The closing tag must match the opening one.
_TAG = re.compile(
    r"<(points|tracks)\b([^>]*?)\bcoords\s*=\s*\"([^\"]*)\"([^>]*)>(.*?)</\1\s*>",
    re.DOTALL,
)
# An opening tag whose closing tag never comes (cut-off generation); found after removing complete tags.
_OPEN = re.compile(r"<(?:points|tracks)\b[^>]*?coords\s*=", re.DOTALL)
_OPEN_ANY = re.compile(r"<(?:points|tracks|point)\b", re.DOTALL)
# Legacy Molmo: <point x="12.3" y="45.6" alt="...">label</point>, 0-100 scale.
_LEGACY_ONE = re.compile(r"<point\b([^>]*)>(.*?)</point\s*>", re.DOTALL)
# Legacy Molmo: <points x1="..." y1="..." x2="..." ...>label</points>, 0-100 scale.
_LEGACY_MANY = re.compile(r"<points\b((?:(?!coords)[^>])*\bx1\s*=[^>]*)>(.*?)</points\s*>", re.DOTALL)
_ATTR = re.compile(r"\b([a-z]+\d*)\s*=\s*\"([^\"]*)\"")
# Frame groups: Molmo2 splits on TAB, ':', ',' or ';'.
_GROUP_SEP = re.compile(r"[\t:,;]")
_INT = re.compile(r"\d+")
# A coordinate: 1-4 digits (Molmo2 writes 3, zero-padded; "1000" has 4), optionally with decimals.
_COORD = re.compile(r"\d{1,4}(?:\.\d+)?")
_KEY = re.compile(r"\d+(?:\.\d+)?")
# Plain (x, y) or [x, y]; a third number (a 3D waypoint) does not match because the bracket must close.
_PLAIN = re.compile(rf"[\(\[]\s*({_NUM})\s*,\s*({_NUM})\s*[\)\]]")


def _coord(tok: str) -> float | None:
    """A 0-1000 coordinate token, or None when malformed (5 digits, > 1000, sign, junk)."""
    if not _COORD.fullmatch(tok):
        return None
    v = float(tok)
    return v if v <= 1000.0 else None


def _parse_coords(coords: str) -> tuple[list[PointRecord], int]:
    """Records of one ``coords`` attribute and the number of malformed pieces in it."""
    records: list[PointRecord] = []
    bad = 0
    for group in _GROUP_SEP.split(coords):
        toks = group.split()
        if not toks:
            continue  # "a;;b" or a trailing separator: nothing was lost
        if not _KEY.fullmatch(toks[0]) or len(toks) < 4:
            bad += 1
            continue
        t = float(toks[0])
        seen: set[int] = set()
        rest = toks[1:]
        n_full = len(rest) // 3
        if len(rest) % 3:
            bad += 1  # a dangling id or coordinate (a cut-off group)
        for i in range(n_full):
            sid, sx, sy = rest[3 * i : 3 * i + 3]
            x, y = _coord(sx), _coord(sy)
            if not _INT.fullmatch(sid) or x is None or y is None:
                bad += 1
                continue
            oid = int(sid)
            if oid in seen:  # Molmo2 keeps the first point of an id within a frame
                bad += 1
                continue
            seen.add(oid)
            records.append(PointRecord(t, oid, x, y))
    return records, bad


def _legacy(text: str) -> tuple[list[PointRecord], list[str], int]:
    """Legacy 0-100 ``<point x= y=>`` / ``<points x1= y1= ...>`` tags, as image 1 with ids from 1."""
    records: list[PointRecord] = []
    labels: list[str] = []
    bad = 0
    for m in list(_LEGACY_MANY.finditer(text)) + list(_LEGACY_ONE.finditer(text)):
        attrs = dict(_ATTR.findall(m.group(1)))
        labels.append(m.group(2).strip())
        pairs: list[tuple[str, str | None]] = []
        if "x" in attrs or "y" in attrs:
            pairs.append((attrs.get("x", ""), attrs.get("y")))
        i = 1
        while f"x{i}" in attrs or f"y{i}" in attrs:
            pairs.append((attrs.get(f"x{i}", ""), attrs.get(f"y{i}")))
            i += 1
        for sx, sy in pairs:
            try:
                x, y = float(sx), float(sy)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                bad += 1
                continue
            if not (0.0 <= x <= 100.0 and 0.0 <= y <= 100.0):
                bad += 1
                continue
            records.append(PointRecord(1.0, len(records) + 1, x * 10.0, y * 10.0))
    return records, labels, bad


def _plain(text: str) -> tuple[list[PointRecord], int]:
    """Bare ``(x, y)`` / ``[x, y]`` points as image 1 with ids from 1."""
    records: list[PointRecord] = []
    bad = 0
    for m in _PLAIN.finditer(text):
        sx, sy = m.group(1), m.group(2)
        x, y = float(sx), float(sy)
        if ("." in sx or "." in sy) and x <= 1.0 and y <= 1.0:
            x, y = x * 1000.0, y * 1000.0  # 0-1 floats (lmms-eval point_format)
        if not (0.0 <= x <= 1000.0 and 0.0 <= y <= 1000.0):
            bad += 1
            continue
        records.append(PointRecord(1.0, len(records) + 1, x, y))
    return records, bad


def parse_points(text: str) -> ParsedPoints:
    """Read every point of an answer; never raises.

    Tags (html-v2, the OV2 variant, html-v1, legacy Molmo) win over plain ``(x, y)`` points: an answer
    with at least one tag is read from its tags only, so numbers in the label or the prose around it are
    not mistaken for points. Records keep the answer's order; ids and keys are as written.
    """
    if not isinstance(text, str):
        return ParsedPoints(unparsed=1)
    records: list[PointRecord] = []
    labels: list[str] = []
    unparsed = 0
    kinds: list[str] = []
    for m in _TAG.finditer(text):
        recs, bad = _parse_coords(m.group(3))
        records += recs
        unparsed += bad
        labels.append(m.group(5).strip())
        kinds.append(m.group(1))
    rest = _TAG.sub(" ", text)
    # Cut-off coords tags: nothing inside them is trusted (the last number may be cut too).
    n_open = len(_OPEN.findall(rest))
    unparsed += n_open
    leg_recs, leg_labels, leg_bad = _legacy(rest)
    if leg_recs or leg_labels:
        records += leg_recs
        labels += leg_labels
        unparsed += leg_bad
        kinds.append("points")
    if kinds:
        kind = "tracks" if "tracks" in kinds else "points"
        return ParsedPoints(records, labels, kind, unparsed)
    if n_open:
        return ParsedPoints([], [], "none", unparsed)
    plain, bad = _plain(text)
    if plain:
        return ParsedPoints(plain, [], "plain", bad)
    return ParsedPoints([], [], "none", bad)


# --------------------------------------------------------------------------- writing


def _xy(v: float) -> str:
    """A 0-1000 coordinate as Molmo2 writes it: an integer, clamped, zero-padded to 3 digits."""
    return f"{int(min(1000, max(0, round(float(v))))):03d}"


def format_points(
    records: Iterable[PointRecord | Sequence[float]],
    label: str,
    *,
    kind: str = "points",
    style: str = "ov2",
    decimals: int | None = None,
    image: bool = False,
) -> str:
    """Write records as one ``<points>`` or ``<tracks>`` tag.

    ``style``: ``"ov2"`` (the release: ``;`` between frames, newlines around the label), ``"molmo2"``
    (html-v2: ``;``, label inline) or ``"v1"`` (html-v1: TAB between frames). ``decimals`` is the number
    of decimals of the time keys; None takes the style's (2 for ov2, 1 for Molmo2) - pass the input's
    timestamp decimals so the answer copies its format. ``image=True`` writes keys as integer image
    indices. Ids are written as given (the caller picks 0- or 1-based). Points are grouped by key in
    time order; within a frame, ``points`` are sorted by x then y (Molmo2) and ``tracks`` by id. No
    records gives Molmo2's "There are none." / "No tracks available.".
    """
    if kind not in ("points", "tracks"):
        raise ValueError(f"kind must be 'points' or 'tracks', got {kind!r}")
    if style not in _DEFAULT_DECIMALS:
        raise ValueError(f"style must be one of {sorted(_DEFAULT_DECIMALS)}, got {style!r}")
    nd = _DEFAULT_DECIMALS[style] if decimals is None else int(decimals)
    recs = [r if isinstance(r, PointRecord) else PointRecord(*r) for r in records]
    if not recs:
        return NONE_TRACKS if kind == "tracks" else NONE_POINTS
    keyfmt = (lambda t: str(int(round(t)))) if image else (lambda t: f"{t:.{nd}f}")
    by_key: dict[str, list[PointRecord]] = {}
    for r in sorted(recs, key=lambda r: r.t):
        by_key.setdefault(keyfmt(r.t), []).append(r)
    groups = []
    for key, rs in by_key.items():
        rs = sorted(rs, key=(lambda r: (r.id,)) if kind == "tracks" else (lambda r: (r.x, r.y)))
        groups.append(" ".join([key] + [f"{int(r.id)} {_xy(r.x)} {_xy(r.y)}" for r in rs]))
    sep = "\t" if style == "v1" else ";"
    body = f"\n{label}\n" if style == "ov2" else label
    return f'<{kind} coords="{sep.join(groups)}">{body}</{kind}>'


# --------------------------------------------------------------------------- traces

# One waypoint: (x, y) or (x, y, d) in round or square brackets.
_WAYPOINT = re.compile(rf"[\(\[]\s*({_NUM})\s*,\s*({_NUM})\s*(?:,\s*({_NUM})\s*)?[\)\]]")


def parse_trace(text: str) -> ParsedTrace:
    """Read a 2D or 3D waypoint list (``[[604, 491, 1.75], ...]`` or ``[(x, y, d), ...]``); never raises.

    The dimension is the one most waypoints have (3 on a tie); waypoints of the other dimension, with
    x or y outside 0-1000, or a negative depth are skipped and counted. When every x, y is written with
    a decimal point and is at most 1, the trace is on 0-1 and is scaled to 0-1000.
    """
    if not isinstance(text, str):
        return ParsedTrace(np.zeros((0, 2)), 1)
    found = [(m.group(1), m.group(2), m.group(3)) for m in _WAYPOINT.finditer(text)]
    if not found:
        return ParsedTrace(np.zeros((0, 2)), 0)
    n3 = sum(d is not None for _, _, d in found)
    dim = 3 if n3 * 2 >= len(found) else 2
    unit = all("." in sx and "." in sy and float(sx) <= 1 and float(sy) <= 1 for sx, sy, _ in found)
    scale = 1000.0 if unit else 1.0
    rows: list[list[float]] = []
    bad = 0
    for sx, sy, sd in found:
        if (sd is not None) != (dim == 3):
            bad += 1
            continue
        x, y = float(sx) * scale, float(sy) * scale
        if not (0.0 <= x <= 1000.0 and 0.0 <= y <= 1000.0):
            bad += 1
            continue
        row = [x, y]
        if dim == 3:
            d = float(sd)  # type: ignore[arg-type]
            if d < 0:
                bad += 1
                continue
            row.append(d)
        rows.append(row)
    pts = np.asarray(rows, dtype=np.float64).reshape(-1, dim)
    return ParsedTrace(pts, bad)


def format_trace(points: np.ndarray | Sequence[Sequence[float]], decimals: int = 2) -> str:
    """Write waypoints as the release does: ``[[604, 491, 1.75], ...]`` (x, y integers on 0-1000, depth
    with ``decimals`` decimals); 2-column input gives ``[[x, y], ...]``."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (2, 3):
        raise ValueError(f"points must be [K, 2] or [K, 3], got shape {arr.shape}")
    items = []
    for row in arr:
        x = int(min(1000, max(0, round(row[0]))))
        y = int(min(1000, max(0, round(row[1]))))
        items.append(f"[{x}, {y}, {row[2]:.{decimals}f}]" if arr.shape[1] == 3 else f"[{x}, {y}]")
    return "[" + ", ".join(items) + "]"
