"""to_pixano at its edges: ids too long for a file name, an edit made while it writes, nothing to write."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from test_io_export import assert_round_trip

import vidlabel as vl
from vidlabel.io import pixano_export


def test_ids_too_long_for_a_file_name(tmp_path: Path):
    ds = vl.Dataset()
    long_id = "é" * 100  # 200 bytes in UTF-8, 600 once routable: past a file system's 255
    ds.add_sequence(long_id, frames=np.zeros((2, 8, 8, 3), np.uint8), id=long_id)
    ds.clear_history()
    back = vl.read_pixano(ds.to_pixano(tmp_path / "px", progress=False), progress=False)
    assert_round_trip(ds, back)


def test_one_version_for_the_whole_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ds = vl.Dataset(sequence_fields={"w": pa.float64()})
    for name in ("a", "b"):
        seq = ds.add_sequence(name, frames=np.zeros((2, 8, 8, 3), np.uint8), w=1.0)
        ds.set_mask(seq, 0, ds.add_entity(seq, "x"), np.ones((8, 8), bool))
    line = pixano_export._line

    def edit_after_the_first(*args: Any, **kw: Any) -> Any:
        out = line(*args, **kw)
        if args[2] == "a":  # another writer, between two sequences of the export
            with ThreadPoolExecutor(1) as pool:  # its errors come back with result()
                pool.submit(lambda: (ds.set_sequence("b", w=2.0), ds.remove_entity("b", "b/001"))).result()
        return out

    monkeypatch.setattr(pixano_export, "_line", edit_after_the_first)
    back = vl.read_pixano(ds.to_pixano(tmp_path / "px", progress=False), progress=False)
    assert ds.sequence("b")["w"] == 2.0 and ds.entity_ids("b") == []
    assert back.sequence("b")["w"] == 1.0 and back.entity_ids("b") == ["b/001"]  # as it was when it began


def test_nothing_to_write_is_refused(tmp_path: Path):
    with pytest.raises(vl.ValidationError, match="no sequences to write"):
        vl.Dataset().to_pixano(tmp_path / "px", progress=False)
    assert not (tmp_path / "px").exists()
