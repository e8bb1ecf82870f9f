from __future__ import annotations

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


@pytest.fixture
def ds(frames: np.ndarray) -> vl.Dataset:
    d = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"difficulty": pa.int32()},
        state_fields={"occluded": pa.bool_(), "visibility": pa.float32()},
    )
    d.add_sequence("clip", frames=frames, fps=12)
    d.clear_history()
    return d


def snapshot(d: vl.Dataset) -> dict[str, pa.Table]:
    return {k: v for k, v in d.tables().items()}


def assert_same(before: dict[str, pa.Table], d: vl.Dataset) -> None:
    after = d.tables()
    for name, table in before.items():
        assert table.equals(after[name]), f"table {name} changed"
