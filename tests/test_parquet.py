from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import disc

import vidlabel as vl
from vidlabel import schema as sch


def _filled(ds: vl.Dataset) -> vl.Dataset:
    a = ds.add_entity("clip", category="bear", difficulty=1)
    b = ds.add_entity("clip", "zebra", color="#FF8800")
    for f in range(6):
        ds.set_mask("clip", f, a, disc(48, 64, 20 + f, 20, 6), score=0.5 + f / 20)
    ds.set_mask("clip", 9, a, disc(48, 64, 20, 40, 5), source="flow", keyframe=False)
    ds.set_box("clip", 2, b, (3, 4, 10, 12))
    ds.set_state("clip", 3, a, occluded=True, visibility=0.25)
    ds.set_sequence("clip", weather="sun", split="train")
    return ds


def test_roundtrip_is_exact(ds: vl.Dataset, tmp_path: Path) -> None:
    _filled(ds)
    ds.to_parquet(tmp_path / "out")
    back = vl.Dataset.from_parquet(tmp_path / "out")
    for name in sch.TABLES:
        assert back.table(name).equals(ds.table(name)), name
        assert back.schema(name) == ds.schema(name)
    assert back.custom_fields["states"][0].name == "occluded"
    e = ds.entity("1", "clip")["id"]
    assert np.array_equal(back.mask("clip", 3, e), ds.mask("clip", 3, e))
    # editing the loaded dataset works (its tables were bulk-loaded, not replayed)
    back.set_mask("clip", 7, e, disc(48, 64, 10, 10, 3))
    assert [(t["start_frame"], t["end_frame"]) for t in back.tracklets("clip", e)] == [(0, 5), (7, 7), (9, 9)]


def test_array_frames_need_embedding(ds: vl.Dataset, tmp_path: Path, frames: np.ndarray) -> None:
    ds.to_parquet(tmp_path / "plain")
    with pytest.raises(vl.ValidationError, match="no pixels"):
        vl.Dataset.from_parquet(tmp_path / "plain").frame("clip", 0)
    ds.to_parquet(tmp_path / "embedded", embed_frames=True)
    back = vl.Dataset.from_parquet(tmp_path / "embedded")
    assert np.array_equal(back.frame("clip", 4), frames[4])  # decoded pixels embed losslessly


def test_image_frames_reload_from_their_files(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(3)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (16, 20, 3), dtype=np.uint8)).save(folder / f"{i:05d}.jpg")
    d = vl.Dataset()
    d.add_sequence("jpgs", frames=str(folder / "*.jpg"), fps=10)
    d.to_parquet(tmp_path / "out")
    back = vl.Dataset.from_parquet(tmp_path / "out")
    assert back.frame_bytes("jpgs", 2)[0] == (folder / "00002.jpg").read_bytes()
    d.to_parquet(tmp_path / "self", embed_frames=True)
    frames = pq.read_table(tmp_path / "self" / "frames.parquet")
    assert frames.column("data")[1].as_py() == (folder / "00001.jpg").read_bytes()


def test_refuses_non_empty_path_unless_overwrite(ds: vl.Dataset, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for overwrite in (False, True):  # not a previous parquet export: never replaced
        with pytest.raises(vl.ValidationError, match=r"holds 1 entry \(keep.txt\) and no vidlabel parquet"):
            ds.to_parquet(out, overwrite=overwrite)
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    ds.to_parquet(tmp_path / "prev")
    with pytest.raises(vl.ValidationError, match="overwrite=True"):
        ds.to_parquet(tmp_path / "prev")
    ds.to_parquet(tmp_path / "prev", overwrite=True)
    assert (tmp_path / "prev" / "masks.parquet").exists()
    (tmp_path / "empty").mkdir()
    ds.to_parquet(tmp_path / "empty")  # an empty folder is fine


def test_export_is_atomic(ds: vl.Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _filled(ds)
    out = tmp_path / "out"
    ds.to_parquet(out)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    e = ds.entity("1", "clip")["id"]
    ds.set_mask("clip", 11, e, disc(48, 64, 30, 30, 4))
    calls = {"n": 0}
    real = pq.write_table

    def failing(table: pa.Table, where: object, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        ds.to_parquet(out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left behind


def test_plain_parquet_for_other_tools(ds: vl.Dataset, tmp_path: Path) -> None:
    import duckdb
    import pandas as pd
    import polars

    _filled(ds)
    ds.to_parquet(tmp_path / "out")
    masks = tmp_path / "out" / "masks.parquet"
    df = pd.read_parquet(masks)
    assert len(df) == 7 and isinstance(df["counts"].iloc[0], bytes)
    assert polars.read_parquet(masks).height == 7
    n = duckdb.sql(f"select count(*) from read_parquet('{masks}') where source = 'flow'").fetchall()
    assert n == [(1,)]
    import pycocotools.mask as cocomask

    row = df.iloc[0]
    decoded = cocomask.decode({"size": [int(row.height), int(row.width)], "counts": row.counts})
    assert decoded.sum() > 0


def _rewrite(path: Path, mutate: object) -> None:
    t = pq.read_table(path)
    pq.write_table(mutate(t), path)  # type: ignore[operator]


@pytest.mark.parametrize("case", ["version", "missing", "no_meta", "column", "bad_ref", "frames"])
def test_bad_folders_are_refused(ds: vl.Dataset, tmp_path: Path, case: str) -> None:
    _filled(ds)
    out = tmp_path / "out"
    ds.to_parquet(out)
    if case == "version":
        _rewrite(
            out / "masks.parquet",
            lambda t: t.replace_schema_metadata({**t.schema.metadata, sch.METADATA_VERSION: b"99"}),
        )
        match = "schema version 99"
    elif case == "missing":
        (out / "boxes.parquet").unlink()
        match = "missing table 'boxes'"
    elif case == "no_meta":
        _rewrite(out / "entities.parquet", lambda t: t.replace_schema_metadata({}))
        match = "not a vidlabel export"
    elif case == "column":
        _rewrite(out / "masks.parquet", lambda t: t.drop_columns(["counts"]))
        match = "lacks column 'counts'"
    elif case == "bad_ref":
        _rewrite(
            out / "masks.parquet", lambda t: t.set_column(2, "entity_id", pa.array(["ghost"] * t.num_rows))
        )
        match = "unknown id 'ghost'"
    else:
        _rewrite(out / "frames.parquet", lambda t: t.slice(0, 5))
        match = "frame rows"
    with pytest.raises(vl.ValidationError, match=match):
        vl.Dataset.from_parquet(out)


def test_schema_metadata_names_custom_fields(ds: vl.Dataset, tmp_path: Path) -> None:
    ds.to_parquet(tmp_path / "out")
    meta = pq.read_schema(tmp_path / "out" / "states.parquet").metadata
    assert json.loads(meta[sch.METADATA_CUSTOM]) == ["occluded", "visibility"]
    assert meta[sch.METADATA_VERSION] == str(sch.SCHEMA_VERSION).encode()


def test_version_1_files_read_with_no_entity_colours(ds: vl.Dataset, tmp_path: Path) -> None:
    """Version 1 had no entities.color: such files still load, the colour unset (the palette's)."""
    _filled(ds)
    ds.to_parquet(tmp_path / "out")
    for name in sch.TABLES:
        path = tmp_path / "out" / f"{name}.parquet"
        t = pq.read_table(path)
        if name == "entities":
            t = t.drop_columns(["color"])
        meta = dict(t.schema.metadata)
        meta[sch.METADATA_VERSION] = b"1"
        pq.write_table(t.replace_schema_metadata(meta), path)
    back = vl.Dataset.from_parquet(tmp_path / "out")
    assert [back.entity(e)["color"] for e in back.entity_ids("clip")] == [None, None]
    assert back.table("masks").equals(ds.table("masks"))
    assert back.entity("zebra", "clip")["name"] == "zebra"
