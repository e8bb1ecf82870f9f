"""read_pixano_library on LanceDB tables laid out as Pixano 0.8.0 writes them (built here with lancedb;
test_pixano_real.py reads libraries the real Pixano made), and libraries that must be refused."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pytest
from PIL import Image
from test_io_export import rect
from test_io_pixano_export import _rle

import vidlabel as vl
from vidlabel.io.pixano_ids import derived_id

H, W, N = 24, 32, 4
RID = derived_id("cookbook", "train", "metadata", 2)  # a record id Pixano derived: no name in it


def png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def tables(record_id: str = RID, **changes: Any) -> dict[str, list[dict[str, Any]]]:
    """Rows of one video record: embedded frames (empty uris), an entity made from index-PNG value 2,
    its void (255), one tracklet each, a state; columns as Pixano 0.8.0 names them."""
    ents = {v: derived_id(record_id, "ent", f"object_{v}") for v in (2, 255)}
    base = {
        "record_id": record_id,
        "source_type": "ground_truth",
        "source_name": "import",
        "source_metadata": "{}",
    }
    out: dict[str, list[dict[str, Any]]] = {
        "records": [
            {"id": record_id, "split": "train", "status": "validated", "comment": "", "weather": "rain"}
        ],
        "sequence_frames": [
            {
                "id": derived_id(record_id, "view", "image", f),
                "record_id": record_id,
                "logical_name": "image",
                "uri": "",
                "raw_bytes": png(f),
                "preview": b"",
                "width": W,
                "height": H,
                "format": "PNG",
                "timestamp": f / 24,
                "frame_index": f,
            }
            for f in range(N)
        ],
        "entities": [
            {"id": e, "record_id": record_id, "parent_id": "", "category": "animal"} for e in ents.values()
        ],
        "tracklets": [
            {**base, "id": f"t{v}", "entity_id": e, "view_id": "", "start_timestep": 0, "end_timestep": N - 1}
            for v, e in ents.items()
        ],
        "masks": [
            {
                **base,
                "id": f"m{v}-{f}",
                "entity_id": e,
                "view_id": "",
                "tracklet_id": "t2",  # Pixano's quirk: every mask points at one tracklet
                "entity_dynamic_state_id": "",
                "frame_id": "",
                "frame_index": f,
                "size": [H, W],
                "counts": _rle(rect(H, W, 2, f, 8 + (v == 255), 9 + f))["counts"].encode(),
            }
            for v, e in ents.items()
            for f in range(N)
            if not (v == 255 and f)
        ],
        "entity_dynamic_states": [
            {
                **base,
                "id": "s",
                "entity_id": ents[2],
                "tracklet_id": "",
                "view_id": "",
                "frame_id": "",
                "frame_index": 1,
                "occluded": True,
            }
        ],
    }
    out.update(changes)
    return out


def library(root: Path, rows: dict[str, list[dict[str, Any]]], name: str = "davis") -> Path:
    folder = root / "library" / name
    (folder / "db").mkdir(parents=True)
    (folder / "info.json").write_text(json.dumps({"id": "dsid", "name": name}))
    db = lancedb.connect(str(folder / "db"))
    for table, data in rows.items():
        db.create_table(table, data=pa.Table.from_pylist(data))
    return root


def test_read_a_library(tmp_path: Path):
    lib = library(tmp_path / "lib", tables())
    ds = vl.read_pixano_library(lib, "davis", progress=False)
    assert vl.read_pixano_library(lib, "dsid", progress=False).equals(ds)  # by id too
    assert len(vl.read_pixano_library(lib, "davis", splits="val", progress=False)) == 0
    (seq,) = ds.sequence_ids()
    row = ds.sequence(seq)
    assert seq == RID and row["name"] == RID  # a derived id holds no name: nothing better to call it
    assert (row["split"], row["status"], row["fps"], row["weather"]) == ("train", "validated", 24.0, "rain")
    for f in range(N):  # embedded frames, read as the bytes they are
        assert ds.frame_source(seq).file_bytes(f) == png(f)  # type: ignore[union-attr]
        np.testing.assert_array_equal(ds.frame(seq, f), np.asarray(Image.open(io.BytesIO(png(f)))))
    names = {ds.entity(e)["name"]: ds.entity(e) for e in ds.entity_ids(seq)}
    assert sorted(names) == ["2", "255"] and names["255"]["void"] and not names["2"]["void"]
    assert names["2"]["category"] == "animal"
    for f in range(N):
        np.testing.assert_array_equal(ds.mask(seq, f, names["2"]["id"]), rect(H, W, 2, f, 8, 9 + f))
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, names["255"]["id"])] == [(0, N - 1)]
    assert ds.state(seq, 1, names["2"]["id"])["occluded"] is True


def test_names_where_pixano_keeps_them(tmp_path: Path):
    rows = tables(record_id="bear")  # an id a person chose is the name
    lib = library(tmp_path / "a", rows)
    assert vl.read_pixano_library(lib, "davis", progress=False).sequence_ids() == ["bear"]
    rows = tables()
    for f in rows["sequence_frames"]:  # frames kept as uris: not opened, the folder names the video
        f.update(uri=f"https://example.org/frames/dog/{f['frame_index']:05d}.jpg", raw_bytes=b"")
    ds = vl.read_pixano_library(library(tmp_path / "b", rows), "davis", progress=False)
    assert ds.sequence_ids() == ["dog"] and ds.frame_source("dog") is None
    assert ds.frame_uri("dog", 1) == "https://example.org/frames/dog/00001.jpg"


BAD: list[tuple[str, Any, str]] = [
    ("mask_size", lambda r: r["masks"][0].update(size=[H, W + 1]), r"records\.lance: record .*size"),
    ("mask_frame", lambda r: r["masks"][0].update(frame_index=N), rf"frame_index {N} is not a frame"),
    ("tracklet", lambda r: r["tracklets"][0].update(end_timestep=N + 5), "lies outside the record's frames"),
    (
        "stray_mask",
        lambda r: r["masks"][0].update(entity_id="nobody"),
        r"masks\.lance: rows of unknown entity",
    ),
    (
        "huge_frames",
        lambda r: [f.update(raw_bytes=b"", uri="x", width=10**6) for f in r["sequence_frames"]],
        "frame size",
    ),
    ("mixed_frames", lambda r: r["sequence_frames"][0].update(raw_bytes=b""), "some frames are embedded"),
    (
        "bad_frame_bytes",
        lambda r: r["sequence_frames"][1].update(raw_bytes=b"\x89PNG junk"),
        "not a readable image",
    ),
    ("bad_counts", lambda r: r["masks"][1].update(counts=b"\x7f\x7f"), "counts"),
    (
        "unread_table",
        lambda r: r.update(keypoints=[{"id": "k", "record_id": RID}]),
        "keypoints.lance holds 1 rows",
    ),
]


@pytest.mark.parametrize(("case", "change", "pattern"), BAD, ids=[b[0] for b in BAD])
def test_bad_libraries_are_refused_and_load_nothing(tmp_path: Path, case: str, change: Any, pattern: str):
    rows = tables()
    change(rows)
    lib = library(tmp_path / "lib", rows)
    ds = vl.Dataset(sequence_fields={"weather": pa.string()}, state_fields={"occluded": pa.bool_()})
    ds.add_sequence("keep", frames=np.zeros((2, 4, 4, 3), np.uint8))
    before, history = ds.tables(), ds.history()
    with pytest.raises(vl.ValidationError, match=pattern):
        vl.read_pixano_library(lib, "davis", dataset=ds, progress=False)
    after = ds.tables()
    assert all(before[n].equals(after[n]) for n in before) and ds.history() == history


@pytest.mark.parametrize("name", ["../davis", "nope", ""])
def test_unknown_or_hostile_dataset_names(tmp_path: Path, name: str):
    lib = library(tmp_path / "lib", tables())
    with pytest.raises(vl.ValidationError, match=r"dataset name|no dataset"):
        vl.read_pixano_library(lib, name, progress=False)
    with pytest.raises(vl.ValidationError, match="not a library"):
        vl.read_pixano_library(tmp_path, "davis", progress=False)


def test_the_extra_is_named_when_lancedb_is_missing(tmp_path: Path):
    code = (
        "import sys; sys.modules['lancedb'] = None\n"
        "import vidlabel as vl\n"
        "try:\n"
        f"    vl.read_pixano_library({str(tmp_path)!r}, 'x')\n"
        "except vl.ValidationError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'vidlabel[pixano]'" in out.stdout
