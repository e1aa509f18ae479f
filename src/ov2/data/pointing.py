"""Synthetic image pointing: several flat objects, some of the queried kind, a referring query, exact masks.

Each image shows 4-8 objects on a textured surface (:mod:`ov2.data.render`): 1-3 of the
queried kind ("red ball") and distractors that share its shape or its colour, placed apart.
The query asks for every object of the kind; the answer points at each of them in the OV2
points format (image key ``1``, ids from 0, x/y on 0-1000), and the label map
``masks/<id>.png`` gives every object's exact pixels (object ``k`` has value ``k + 1``;
``targets`` lists the queried objects).

Files: ``OUT/pointing.jsonl``, ``OUT/images/<id>.png`` (lossless, so the pixels of object ``k``
are exactly its colour), ``OUT/masks/<id>.png``, and ``OUT/images/<id>.json`` (plan and
signature, written last: a sample whose json carries its plan's signature is complete, so a
re-run skips it). Deterministic: sample ``i`` depends only on ``(seed, i, sizes)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import render
from .shapes import GroundTruthError, Obj, describe, label_map, paint, pick_kinds, place_apart, point_of

JSONL_NAME = "pointing.jsonl"
GENERATOR_VERSION = 1
QUESTION_TEMPLATE = (
    "Point to every {kind} in the image. Write the points as <points coords=\"1 ID X Y ...\">label</points> "
    "with ids from 0 and x, y integers in [0, 1000]."
)


@dataclass
class PointingPlan:
    """One image: its objects (drawing order), which of them the query asks for, the background seed."""

    id: str
    index: int
    seed: int
    width: int
    height: int
    scene_seed: int
    objects: list[Obj] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The queried kind, singular (``"red ball"``)."""
        return self.objects[self.targets[0]].name

    def label(self) -> str:
        o = self.objects[self.targets[0]]
        return describe(o.colour, o.shape, len(self.targets))

    def question(self) -> str:
        return QUESTION_TEMPLATE.format(kind=self.kind)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PointingPlan:
        return cls(**{**d, "objects": [Obj(**o) for o in d["objects"]]})

    def signature(self) -> str:
        blob = json.dumps({"v": GENERATOR_VERSION, "plan": self.to_json()}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()


def plan_image(seed: int, index: int, *, width: int = 448, height: int = 336) -> PointingPlan:
    """Plan image ``index`` for ``seed``: 1-3 targets and 3-5 distractors of related kinds."""
    if width < 64 or height < 64:
        raise ValueError(f"width and height must be >= 64, got {width}x{height}")
    rng = np.random.default_rng([int(seed), 104729, int(index)])  # 104729: apart from the other generators
    n_targets = int(rng.integers(1, 4))
    target, others = pick_kinds(rng, int(rng.integers(3, 6)))
    kinds = [target] * n_targets + others
    order = rng.permutation(len(kinds))  # targets anywhere in the drawing order
    side = min(width, height)
    radii = [float(rng.uniform(0.06, 0.1) * side) for _ in kinds]
    centres = place_apart(rng, len(kinds), radii, width, height)
    objects = []
    for k in order:
        (colour, shape), r, (x, y) = kinds[k], radii[k], centres[k]
        objects.append(Obj(shape, colour, x, y, r))
    targets = sorted((i for i, k in enumerate(order) if k < n_targets), key=lambda i: (objects[i].x, objects[i].y))
    return PointingPlan(f"pointing_s{seed}_{index:05d}", int(index), int(seed), int(width), int(height),
                        int(rng.integers(2**31)), objects, targets)


def ground_truth(plan: PointingPlan) -> tuple[np.ndarray, list[list[float]]]:
    """(label map, answer records ``[1, id, x, y]`` for the targets). Raises :class:`GroundTruthError`
    if any object has no visible pixel."""
    labels = label_map(plan.objects, plan.height, plan.width)
    found = {}
    for k, obj in enumerate(plan.objects):
        pt = point_of(labels, k, obj)
        if pt is None:
            raise GroundTruthError(f"{plan.id}: object {k} ({obj.name} at {obj.x:.1f}, {obj.y:.1f}) has an empty "
                                   "mask (off the image or hidden); no exact point exists for it")
        found[k] = pt
    # Point id j is plan.targets[j]; the planner lists targets left to right, the order Molmo2 counts in.
    return labels, [[1, j, *found[k]] for j, k in enumerate(plan.targets)]


def render_image(plan: PointingPlan) -> tuple[np.ndarray, np.ndarray, list[list[float]]]:
    """(RGB image, label map, answer records)."""
    labels, points = ground_truth(plan)
    rng = np.random.default_rng(plan.scene_seed)
    background = render.textured_background(rng, plan.height, plan.width, rng.uniform(0.6, 0.8) * plan.height)
    return paint(background, labels, plan.objects), labels, points


def answer(plan: PointingPlan, points: list[list[float]]) -> str:
    """The answer text: the OV2 points format, image key 1, ids from 0."""
    from ..eval.points import PointRecord, format_points

    return format_points([PointRecord(*p) for p in points], plan.label(), kind="points", style="ov2", image=True)


def _png(arr: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", arr[..., ::-1] if arr.ndim == 3 else arr)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 PNGs
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def _meta_path(out: Path, plan: PointingPlan) -> Path:
    return out / "images" / f"{plan.id}.json"


def is_done(plan: PointingPlan, out: Path) -> bool:
    """True if the sample's files are on disk and its json carries this plan's signature."""
    try:
        meta = json.loads(_meta_path(out, plan).read_text())
    except (OSError, ValueError):
        return False
    return meta.get("signature") == plan.signature() and (out / "masks" / f"{plan.id}.png").is_file()


def write_sample(plan: PointingPlan, out: Path) -> list[list[float]]:
    """Write image, label map and (last) the json of one sample; return its answer records."""
    from ..fileio import atomic_write_bytes, atomic_write_json

    img, labels, points = render_image(plan)
    atomic_write_bytes(out / "images" / f"{plan.id}.png", _png(img))
    atomic_write_bytes(out / "masks" / f"{plan.id}.png", _png(labels))
    atomic_write_json(_meta_path(out, plan), {"signature": plan.signature(), "points": points, "plan": plan.to_json()})
    return points


def record(plan: PointingPlan, points: list[list[float]]) -> dict[str, Any]:
    """The sample's jsonl record (paths relative to the jsonl's folder)."""
    return {
        "id": plan.id,
        "image_path": f"images/{plan.id}.png",
        "masks_path": f"masks/{plan.id}.png",
        "query": plan.kind,
        "question": plan.question(),
        "answer": answer(plan, points),
        "points": points,
        "targets": plan.targets,
        "objects": [{"shape": o.shape, "colour": o.colour} for o in plan.objects],
        "width": plan.width,
        "height": plan.height,
    }


def generate(out_dir: str | Path, n: int, seed: int = 0, *, width: int = 448, height: int = 336,
             progress: bool = True) -> Path:
    """Write ``n`` pointing images, their label maps and ``pointing.jsonl``; return the jsonl path.

    Resumable: complete samples are kept; the jsonl is written last, atomically.
    """
    from tqdm import tqdm

    from ..fileio import atomic_write_jsonl

    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    out = Path(out_dir)
    records = []
    for i in tqdm(range(int(n)), desc="pointing", unit="image", disable=not progress):
        plan = plan_image(seed, i, width=width, height=height)
        if is_done(plan, out):
            points = json.loads(_meta_path(out, plan).read_text())["points"]
        else:
            points = write_sample(plan, out)
        records.append(record(plan, points))
    return atomic_write_jsonl(out / JSONL_NAME, records)
