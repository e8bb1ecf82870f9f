from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import vidlabel as vl


def disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


@pytest.fixture
def frames() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(12, 48, 64, 3), dtype=np.uint8)


FIELDS = {
    "sequence_fields": {"weather": pa.string()},
    "entity_fields": {"difficulty": pa.int32()},
    "state_fields": {"occluded": pa.bool_(), "visibility": pa.float32()},
}


def make_ds(frames: np.ndarray, project: Path | None = None) -> vl.Dataset:
    """The test dataset, in memory, or in a project folder (every edit journaled) at ``project``."""
    d = vl.open(project, **FIELDS) if project is not None else vl.Dataset(**FIELDS)  # type: ignore[arg-type]
    d.add_sequence("clip", frames=frames, fps=12)
    d.clear_history()
    return d


@pytest.fixture
def ds(frames: np.ndarray) -> vl.Dataset:
    return make_ds(frames)


@pytest.fixture(params=["memory", "project"])
def either_ds(request: pytest.FixtureRequest, frames: np.ndarray, tmp_path: Path) -> Iterator[vl.Dataset]:
    """The test dataset in memory and, a second time, backed by a project folder."""
    d = make_ds(frames, tmp_path / "widget.vlproj" if request.param == "project" else None)
    yield d
    d.close()


def snapshot(d: vl.Dataset) -> dict[str, pa.Table]:
    return {k: v for k, v in d.tables().items()}


def assert_same(before: dict[str, pa.Table], d: vl.Dataset) -> None:
    after = d.tables()
    for name, table in before.items():
        assert table.equals(after[name]), f"table {name} changed"
