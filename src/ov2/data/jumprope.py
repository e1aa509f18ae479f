"""Synthetic JumpScore-style benchmark: a figure skipping rope in bursts, with exact cycle starts.

Model (all times continuous, in seconds):

* A clip holds bursts of jumping separated by still pauses. In a burst the
  rope angle ``theta`` runs 0 -> 2*pi once per cycle (0 = lowest point,
  under the feet; pi = over the head). Cycle starts are the moments
  ``theta = 0 (mod 2*pi)``; periods are 0.3-0.6 s and drift within a burst.
  A burst begins with a slower wind-up turn from the rope's rest position
  behind the heels and ends with the rope swung back to rest.
* The figure is airborne around each cycle start (parabolic lift, peak at
  the cycle start) and dips its knees between jumps. Between bursts it
  stands nearly still (a sub-pixel sway), so the codec sees quiet P/B frames.
* Ground truth = the cycle starts, rounded to 2 decimals. Per-frame subject
  boxes (figure + rope, display pixels) are computed from the same geometry
  that is drawn.

The picture is a front view drawn with OpenCV on a precomputed textured
background (see :mod:`ov2.data.render`): a person-like stick figure with a
filled torso, head and neon shoes, and a magenta rope drawn as an arc whose
sag follows ``cos(theta)``; it is occluded by the body while behind it. This
is an approximation of real footage that keeps what matters to a codec:
>= 1280x720, textured static background, light sensor noise, some slow pans,
bursts of periodic motion between still stretches, x264 with B-frames and a
share of HEVC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import render
from .encode import PlanMixin
from .render import NO_PAN, Pan
from .runner import generate_clips, is_clip_done, write_clip

JSONL_NAME = "jumpscore.jsonl"
QUESTION = (
    "The video shows a person skipping rope. List the start time of every jump cycle, i.e. every moment "
    "the rope passes under the jumper's feet, in seconds with two decimals, as a JSON list."
)
REGIMES: dict[str, tuple[float, float]] = {"short": (20.0, 40.0), "long": (120.0, 300.0)}
PERIOD_MIN, PERIOD_MAX = 0.3, 0.6
THETA_REST = 0.6  # rope at rest lies on the floor just behind the heels
AIR_FRACTION = 0.33  # half the airborne time, as a fraction of the shorter neighbouring period
ROPE_PERSPECTIVE = 0.05  # camera slightly above: rope behind the body appears a little higher


@dataclass
class Burst:
    """One bout of jumping: wind-up from ``wind_start``, cycle ``starts``, rope back at rest at ``stop_end``."""

    wind_start: float
    starts: list[float]
    stop_end: float


@dataclass
class Figure:
    """The jumper, in world pixels (the background image the camera crops from)."""

    x: float  # body centre
    ground: float  # floor line under the feet
    height: float  # standing height
    jump: float  # peak lift of the soles
    crouch: float  # knee-dip depth of the hips
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]


@dataclass
class ClipPlan(PlanMixin):
    """Everything needed to render one clip deterministically (JSON-able)."""

    id: str
    index: int
    seed: int
    regime: str
    width: int
    height: int
    fps: int
    n_frames: int
    codec: str
    scene_seed: int
    noise_sigma: float
    pan: Pan
    figure: Figure
    bursts: list[Burst] = field(default_factory=list)

    def cycle_starts(self) -> list[float]:
        """Exact (unrounded) cycle starts, ascending."""
        return [t for b in self.bursts for t in b.starts]

    def answer(self) -> list[float]:
        """Ground truth as annotated: cycle starts rounded to 2 decimals."""
        return [round(t, 2) for t in self.cycle_starts()]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClipPlan:
        d = dict(d)
        d["pan"] = Pan(**d["pan"])
        fig = dict(d["figure"])
        for key in ("shirt", "pants", "skin", "hair"):
            fig[key] = tuple(fig[key])
        d["figure"] = Figure(**fig)
        d["bursts"] = [Burst(**b) for b in d["bursts"]]
        return cls(**d)


# --------------------------------------------------------------------------- planning

SHIRTS = [(200, 45, 45), (40, 70, 160), (228, 228, 222), (38, 38, 42), (95, 120, 60), (225, 140, 40), (120, 120, 130)]
PANTS = [(30, 30, 40), (50, 62, 100), (90, 90, 92), (22, 22, 22), (120, 100, 70)]
SKINS = [(241, 194, 160), (224, 172, 118), (198, 134, 80), (141, 90, 50), (92, 60, 40)]
HAIRS = [(30, 22, 18), (70, 45, 25), (150, 110, 60), (20, 20, 20), (110, 100, 95)]


def _periods(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` cycle periods drifting around a per-burst tempo, kept inside (0.3, 0.6) after rounding."""
    base = rng.uniform(0.34, 0.54)
    k = np.arange(n)
    wobble = 0.1 * base * np.sin(2 * np.pi * k / rng.uniform(4, 10) + rng.uniform(0, 2 * np.pi))
    # 0.01 s margins: rounding both ends of a period to 2 decimals moves it by at most 0.01.
    return np.clip(base + wobble + rng.normal(0, 0.02, n), PERIOD_MIN + 0.011, PERIOD_MAX - 0.011)


def _burst_shape(rng: np.random.Generator, n: int) -> tuple[float, np.ndarray, float]:
    """(wind-up duration, the n-1 periods between the n cycle starts, stop duration)."""
    periods = _periods(rng, n)
    wind = float(periods[0] * rng.uniform(1.0, 1.4))  # the first turn from rest is a little slower
    stop = float(rng.uniform(0.35, 0.5))
    return wind, periods[1:], stop


def _place(wind_start: float, wind: float, gaps: np.ndarray, stop: float) -> Burst:
    first = wind_start + wind
    starts = first + np.concatenate([[0.0], np.cumsum(gaps)])
    return Burst(float(wind_start), [float(t) for t in starts], float(starts[-1] + stop))


def _plan_short(rng: np.random.Generator, duration: float) -> list[Burst]:
    """Dense bursts of 4-16 cycles separated by still pauses of 1-4 s."""
    end_margin = 0.4
    bursts: list[Burst] = []
    t = float(rng.uniform(0.6, 2.0))
    while True:
        n = int(rng.integers(4, 17))
        wind, gaps, stop = _burst_shape(rng, n)
        ends = t + wind + np.concatenate([[0.0], np.cumsum(gaps)]) + stop  # stop_end if cut after cycle k
        fit = int(np.sum(ends <= duration - end_margin))
        if fit < 3:
            break
        burst = _place(t, wind, gaps[: fit - 1], stop)
        bursts.append(burst)
        t = burst.stop_end + float(rng.uniform(1.0, 4.0))
    return bursts


def _plan_long(rng: np.random.Generator, duration: float) -> list[Burst]:
    """A handful (3-6) of short bursts (4-10 cycles) scattered between long still stretches."""
    count = int(rng.integers(3, 7))
    shapes = [_burst_shape(rng, int(rng.integers(4, 11))) for _ in range(count)]
    lengths = [w + float(np.sum(g)) + s for w, g, s in shapes]
    end_margin = 1.0
    while len(shapes) > 1 and duration - end_margin - sum(lengths) < 1.5 * (len(shapes) + 1):
        shapes.pop()
        lengths.pop()
    free = duration - end_margin - sum(lengths)
    if free < 1.0:
        return []
    k = len(shapes)
    min_gap = min(8.0, free / (k + 1))
    gaps_between = min_gap + rng.dirichlet(np.ones(k + 1)) * (free - (k + 1) * min_gap)
    bursts: list[Burst] = []
    t = 0.0
    for (wind, gaps, stop), still, length in zip(shapes, gaps_between[:k], lengths):
        t += float(still)
        bursts.append(_place(t, wind, gaps, stop))
        t += length
    return bursts


def plan_clip(
    seed: int,
    index: int,
    regime: str = "short",
    *,
    width: int = 1280,
    height: int = 720,
    duration: tuple[float, float] | None = None,
    fps: int | None = None,
    hevc_every: int = 4,
) -> ClipPlan:
    """Plan clip ``index`` of the benchmark for ``seed`` (independent of how many clips are made).

    ``duration`` (seconds, a range) defaults to the regime's; ``fps`` None
    means 30 fps for most clips and 25 for about a quarter; every
    ``hevc_every``-th clip (index % hevc_every == hevc_every - 1) is HEVC, the
    rest H.264 (``hevc_every=0``: none).
    """
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {sorted(REGIMES)}, got {regime!r}")
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and >= 64, got {width}x{height}")
    lo, hi = duration if duration is not None else REGIMES[regime]
    if not 0 < lo <= hi:
        raise ValueError(f"duration range must satisfy 0 < lo <= hi, got {(lo, hi)}")
    rng = np.random.default_rng([int(seed), list(REGIMES).index(regime), int(index)])
    clip_fps = int(fps) if fps else (25 if rng.random() < 0.25 else 30)
    n_frames = int(round(rng.uniform(lo, hi) * clip_fps))
    dur = n_frames / clip_fps
    codec = "hevc" if hevc_every and index % hevc_every == hevc_every - 1 else "h264"

    if rng.random() < 0.3:  # a slow back-and-forth pan for some clips
        pan = Pan(
            amp_x=float(rng.uniform(0.04, 0.12) * width),
            amp_y=float(rng.uniform(0.0, 0.02) * height),
            period=float(rng.uniform(15.0, 40.0)),
            phase=float(rng.uniform(0, 2 * np.pi)),
        )
    else:
        pan = NO_PAN
    fig_h = float(rng.uniform(0.42, 0.5) * height)
    figure = Figure(
        x=float(pan.amp_x / 2 + width / 2 + rng.uniform(-0.15, 0.15) * width),
        ground=float(pan.amp_y / 2 + rng.uniform(0.86, 0.9) * height),
        height=fig_h,
        jump=float(rng.uniform(0.1, 0.13) * fig_h),
        crouch=float(rng.uniform(0.025, 0.045) * fig_h),
        shirt=SHIRTS[int(rng.integers(len(SHIRTS)))],
        pants=PANTS[int(rng.integers(len(PANTS)))],
        skin=SKINS[int(rng.integers(len(SKINS)))],
        hair=HAIRS[int(rng.integers(len(HAIRS)))],
    )
    bursts = (_plan_short if regime == "short" else _plan_long)(rng, dur)
    if not bursts:
        raise ValueError(f"a {dur:.1f} s clip is too short to hold a burst of jumps; use a longer duration")
    return ClipPlan(
        id=f"jumprope_{regime}_s{seed}_{index:04d}",
        index=int(index),
        seed=int(seed),
        regime=regime,
        width=int(width),
        height=int(height),
        fps=clip_fps,
        n_frames=n_frames,
        codec=codec,
        scene_seed=int(rng.integers(2**31)),
        noise_sigma=float(rng.uniform(0.8, 1.6)),
        pan=pan,
        figure=figure,
        bursts=bursts,
    )


# --------------------------------------------------------------------------- motion tracks


def motion_tracks(plan: ClipPlan, t: np.ndarray) -> dict[str, np.ndarray]:
    """Rope angle ``theta`` (radians, 0 mod 2*pi = under the feet), ``lift`` and ``crouch`` (0..1) at times ``t``."""
    t = np.asarray(t, dtype=np.float64)
    theta = np.full(t.shape, THETA_REST)
    lift = np.zeros(t.shape)
    crouch = np.zeros(t.shape)
    two_pi = 2 * np.pi
    for b in plan.bursts:
        s = np.asarray(b.starts)
        n = len(s)
        # Rope: wind-up (accelerating), one turn per cycle (linear between starts), swing back to rest.
        m = (t >= b.wind_start) & (t < s[0])
        u = (t[m] - b.wind_start) / (s[0] - b.wind_start)
        theta[m] = THETA_REST + (two_pi - THETA_REST) * u**1.5
        m = (t >= s[0]) & (t < s[-1])
        theta[m] = two_pi * (1 + np.interp(t[m], s, np.arange(n)))
        m = (t >= s[-1]) & (t < b.stop_end)
        u = (t[m] - s[-1]) / (b.stop_end - s[-1])
        theta[m] = two_pi * n + THETA_REST * (1 - (1 - u) ** 2)
        # Jumps: airborne around each start; knee dips on the ground in between.
        periods = np.diff(s)
        prev = np.concatenate([[periods[0]], periods])
        nxt = np.concatenate([periods, [periods[-1]]])
        air = AIR_FRACTION * np.minimum(prev, nxt)
        for c, a in zip(s, air):
            m = np.abs(t - c) < a
            lift[m] = 1 - ((t[m] - c) / a) ** 2
        ground = [(b.wind_start, s[0] - air[0], 0.5)]
        ground += [(s[k] + air[k], s[k + 1] - air[k + 1], 1.0) for k in range(n - 1)]
        ground.append((s[-1] + air[-1], b.stop_end + 0.15, 0.8))
        for g0, g1, depth in ground:
            m = (t >= g0) & (t < g1)
            crouch[m] = depth * np.sin(np.pi * (t[m] - g0) / (g1 - g0))
    return {"theta": theta, "lift": lift, "crouch": crouch}


# --------------------------------------------------------------------------- drawing


class JumpRopeScene:
    """Renders the frames of one planned clip; ``render(i)`` -> (RGB frame, subject box)."""

    def __init__(self, plan: ClipPlan) -> None:
        self.plan = plan
        rng = np.random.default_rng(plan.scene_seed)
        fig = plan.figure
        wh = plan.height + int(math.ceil(plan.pan.amp_y)) + 1
        ww = plan.width + int(math.ceil(plan.pan.amp_x)) + 1
        floor_y = fig.ground - rng.uniform(0.1, 0.3) * plan.height
        self.world = render.textured_background(rng, wh, ww, floor_y)
        self.noise = render.NoiseBank(rng, plan.height, plan.width, plan.noise_sigma)
        gy, gx = int(min(fig.ground, wh - 1)), int(min(max(fig.x, 0), ww - 1))
        self.shadow = tuple(int(v) for v in self.world[gy, gx] * 0.6)
        self.times = np.arange(plan.n_frames) / plan.fps
        self.tracks = motion_tracks(plan, self.times)
        self.sway_phase = float(rng.uniform(0, 2 * np.pi))
        self._buffer = np.empty((plan.height, plan.width, 3), np.uint8)
        u = fig.height
        self.rope_thickness = max(4, int(round(0.013 * u)))
        self.limb = max(2, int(round(0.055 * u)))
        self.arm = max(2, int(round(0.035 * u)))

    def skeleton(self, i: int) -> dict[str, Any]:
        """Display-pixel geometry of frame ``i``: joints, head, shoes and the rope polyline."""
        plan, fig = self.plan, self.plan.figure
        t = self.times[i]
        theta = float(self.tracks["theta"][i])
        lift = float(self.tracks["lift"][i])
        crouch = float(self.tracks["crouch"][i])
        ox, oy = plan.pan.offset(t)
        u = fig.height
        xc = fig.x - ox + 0.4 * math.sin(2 * math.pi * t / 3.7 + self.sway_phase)  # standing sway
        sole = fig.ground - oy - lift * fig.jump
        leg = 0.47 * u
        hip = sole - leg + crouch * fig.crouch
        shoulder = hip - 0.3 * u
        knee_y = (hip + sole) / 2
        knee_dx = 0.07 * u + 0.6 * crouch * fig.crouch
        r_hand = 0.02 * u  # wrists circle with the rope
        hand_y = hip + r_hand * math.cos(theta)
        hand_dx = 0.2 * u + 0.5 * r_hand * math.sin(theta)
        geo: dict[str, Any] = {
            "head": ((xc, shoulder - 0.1 * u), 0.062 * u),
            "neck": ((xc, shoulder), (xc, shoulder - 0.06 * u)),
            "torso": np.array(
                [
                    (xc - 0.095 * u, shoulder),
                    (xc + 0.095 * u, shoulder),
                    (xc + 0.08 * u, hip + 0.03 * u),
                    (xc - 0.08 * u, hip + 0.03 * u),
                ]
            ),
            "shoes": [],
            "legs": [],
            "arms": [],
        }
        for side in (-1, 1):
            foot_x = xc + side * 0.065 * u
            hip_p = (xc + side * 0.05 * u, hip)
            knee_p = (xc + side * knee_dx, knee_y)
            ankle_p = (foot_x, sole - 0.035 * u)
            geo["legs"].append((hip_p, knee_p, ankle_p))
            geo["shoes"].append(((foot_x + side * 0.012 * u, sole - 0.02 * u), (0.045 * u, 0.02 * u)))
            sh_p = (xc + side * 0.09 * u, shoulder + 0.015 * u)
            el_p = (xc + side * 0.15 * u, shoulder + 0.15 * u)
            hand_p = (xc + side * hand_dx, hand_y)
            geo["arms"].append((sh_p, el_p, hand_p))
        # Rope: an arc from hand to hand; its sag is the projection of a loop turning about the wrists.
        (xl, yl), (xr, yr) = geo["arms"][0][2], geo["arms"][1][2]
        radius = leg + 0.9 * fig.jump  # clears the soles at the top of the jump, grazes the floor
        sag = radius * math.cos(theta) - ROPE_PERSPECTIVE * radius * math.sin(theta)
        s = np.linspace(0.0, 1.0, 41)
        bulge = 1 + 0.3 * np.sin(np.pi * s) * abs(math.cos(theta))
        rope = np.stack(
            [(xl + xr) / 2 - (xr - xl) / 2 * np.cos(np.pi * s) * bulge, yl + (yr - yl) * s + sag * np.sin(np.pi * s)],
            axis=1,
        )
        geo["rope"] = rope
        geo["rope_behind"] = math.sin(theta) > 0
        hx, hy = geo["head"][0]
        geo["hair"] = ((hx, hy - 0.012 * u), geo["head"][1])
        geo["handles"] = [
            ((x, y - 0.025 * u), (x + side * 0.005 * u, y + 0.035 * u))
            for (_, _, (x, y)), side in zip(geo["arms"], (-1, 1))
        ]
        geo["floor"] = fig.ground - oy
        return geo

    def box(self, geo: dict[str, Any]) -> list[int]:
        """Subject box [x0, y0, x1, y1] (pixel edges, x1/y1 exclusive) covering figure and rope, clipped."""
        xs: list[float] = []
        ys: list[float] = []
        for (hx, hy), hr in (geo["head"], geo["hair"]):
            xs += [hx - hr, hx + hr]
            ys += [hy - hr, hy + hr]
        for (cx, cy), (ax, ay) in geo["shoes"]:
            xs += [cx - ax, cx + ax]
            ys += [cy - ay, cy + ay]
        pad_limb = self.limb / 2
        for chain in geo["legs"] + geo["arms"] + geo["handles"]:
            for x, y in chain:
                xs += [x - pad_limb, x + pad_limb]
                ys += [y - pad_limb, y + pad_limb]
        xs += list(geo["torso"][:, 0])
        ys += list(geo["torso"][:, 1])
        pad = self.rope_thickness / 2
        xs += [geo["rope"][:, 0].min() - pad, geo["rope"][:, 0].max() + pad]
        ys += [geo["rope"][:, 1].min() - pad, geo["rope"][:, 1].max() + pad]
        w, h = self.plan.width, self.plan.height
        x0 = int(np.clip(math.floor(min(xs)) - 1, 0, w))
        y0 = int(np.clip(math.floor(min(ys)) - 1, 0, h))
        x1 = int(np.clip(math.ceil(max(xs)) + 2, 0, w))
        y1 = int(np.clip(math.ceil(max(ys)) + 2, 0, h))
        return [x0, y0, x1, y1]

    def draw_subject(self, img: np.ndarray, geo: dict[str, Any]) -> None:
        """Draw shadow, figure and rope (rope first when it is behind the body)."""
        fig = self.plan.figure
        u = fig.height
        cx = (geo["shoes"][0][0][0] + geo["shoes"][1][0][0]) / 2
        render.ellipse(img, (cx, geo["floor"]), (0.16 * u, 0.025 * u), self.shadow)  # stays on the floor
        if geo["rope_behind"]:
            self._draw_rope(img, geo)
        for hip_p, knee_p, ankle_p in geo["legs"]:
            render.line(img, hip_p, knee_p, fig.pants, self.limb)
            render.line(img, knee_p, ankle_p, fig.pants, self.limb)
        for c, axes in geo["shoes"]:
            render.ellipse(img, c, axes, render.SHOE_RGB)
        render.polygon(img, geo["torso"], fig.shirt)
        render.line(img, *geo["neck"], fig.skin, max(2, int(0.04 * u)))
        render.disc(img, *geo["hair"], fig.hair)
        (hx, hy), hr = geo["head"]
        render.disc(img, (hx, hy + 0.008 * u), hr * 0.86, fig.skin)
        for sh_p, el_p, hand_p in geo["arms"]:
            render.line(img, sh_p, el_p, fig.shirt, self.arm)
            render.line(img, el_p, hand_p, fig.skin, self.arm)
        if not geo["rope_behind"]:
            self._draw_rope(img, geo)

    def _draw_rope(self, img: np.ndarray, geo: dict[str, Any]) -> None:
        render.polyline(img, geo["rope"], render.ROPE_RGB, self.rope_thickness)
        for p, q in geo["handles"]:
            render.line(img, p, q, (25, 25, 25), self.arm)

    def render(self, i: int, noise: bool = True) -> tuple[np.ndarray, list[int]]:
        """Frame ``i`` as uint8 RGB ``[H, W, 3]`` and its subject box.

        The returned array is a buffer reused by the next call: copy it to keep it.
        """
        plan = self.plan
        ox, oy = plan.pan.offset(self.times[i])
        img = self._buffer  # reused: the encoder copies each frame, and fresh 2.7 MB arrays cost page faults
        np.copyto(img, self.world[oy : oy + plan.height, ox : ox + plan.width])
        geo = self.skeleton(i)
        self.draw_subject(img, geo)
        if noise:
            self.noise.apply(img)
        return img, self.box(geo)


# --------------------------------------------------------------------------- files


def _is_done(job: tuple[dict[str, Any], str]) -> bool:
    return is_clip_done(ClipPlan.from_json(job[0]), Path(job[1]))


def render_clip(job: tuple[dict[str, Any], str], threads: int = 1) -> str:
    """Render, encode and write one clip (mp4, then boxes.json); returns the clip id."""
    plan = ClipPlan.from_json(job[0])
    return write_clip(plan, JumpRopeScene(plan), Path(job[1]), threads, extra={"rope_rgb": list(render.ROPE_RGB), "shoe_rgb": list(render.SHOE_RGB)})


def format_answer(times: list[float]) -> str:
    """A JSON list with exactly two decimals per time, as the benchmark writes it: ``"[1.20, 1.71]"``."""
    return "[" + ", ".join(f"{t:.2f}" for t in times) + "]"


def record(plan: ClipPlan) -> dict[str, Any]:
    """The clip's jsonl record (paths relative to the jsonl's folder)."""
    return {
        "id": plan.id,
        "video_path": f"clips/{plan.id}.mp4",
        "question": QUESTION,
        "answer": format_answer(plan.answer()),
        "duration": round(plan.duration, 6),
        "codec": plan.codec,
        "boxes_path": f"clips/{plan.id}.boxes.json",
        "fps": plan.fps,
        "width": plan.width,
        "height": plan.height,
        "regime": plan.regime,
    }


def generate(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    regime: str = "short",
    *,
    width: int = 1280,
    height: int = 720,
    duration: tuple[float, float] | None = None,
    fps: int | None = None,
    hevc_every: int = 4,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write ``n`` jump-rope clips, their boxes and ``jumpscore.jsonl`` under ``out_dir``; return the jsonl path.

    Deterministic for ``(seed, regime, sizes)``; clips already complete on
    disk are kept (resumable). See :func:`plan_clip` for ``duration``,
    ``fps`` and ``hevc_every``; small sizes/durations are meant for tests.
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    plans = [
        plan_clip(seed, i, regime, width=width, height=height, duration=duration, fps=fps, hevc_every=hevc_every)
        for i in range(int(n))
    ]
    return generate_clips(Path(out_dir), plans, render_clip, _is_done, record, JSONL_NAME, workers, progress, f"jumprope {regime}")
