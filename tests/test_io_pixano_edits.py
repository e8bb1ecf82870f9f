"""Edits made in Pixano to data vidlabel exported come back: values set where vidlabel had nulls, and
attrs added on the Pixano side (in a source folder or export, and in a library)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from test_io_pixano_library import library, tables

import vidlabel as vl


def exported(tmp: Path) -> tuple[vl.Dataset, Path]:
    ds = vl.Dataset(entity_fields={"note": pa.string(), "lane": pa.int32()})
    s = ds.add_sequence("clip", frames=np.zeros((2, 8, 8, 3), np.uint8), fps=None)
    e = ds.add_entity(s, "a")
    m = np.zeros((8, 8), bool)
    m[1:3, 1:3] = True
    ds.set_mask(s, 0, e, m)
    ds.clear_history()
    return ds, ds.to_pixano(tmp / "px", progress=False)


def types(ds: vl.Dataset) -> dict[str, pa.DataType]:
    return {f.name: f.type for f in ds.custom_fields["entities"]}


def edit(out: Path, change: Any) -> None:
    path = out / "default" / "metadata.jsonl"
    header, line = (json.loads(t) for t in path.read_text().splitlines())
    change(line)
    path.write_text(json.dumps(header) + "\n" + json.dumps(line) + "\n")


def test_values_set_in_pixano_where_vidlabel_had_nulls(tmp_path: Path):
    _, out = exported(tmp_path)
    unedited = vl.read_pixano(out, progress=False)  # nulls written as zeros still read as nulls
    assert unedited.sequence("clip")["status"] is None and unedited.entity("clip/001")["category"] is None
    assert unedited.entity("clip/001")["note"] is None and unedited.entity("clip/001")["lane"] is None

    def change(line: dict[str, Any]) -> None:
        line["attrs"]["status"] = "validated"
        line["attrs"]["fps"] = 12.0
        line["entities"][0]["attrs"].update(category="car", note="parked", lane=2)

    edit(out, change)
    back = vl.read_pixano(out, progress=False)
    assert (back.sequence("clip")["status"], back.sequence("clip")["fps"]) == ("validated", 12.0)
    row = back.entity("clip/001")
    assert (row["category"], row["note"], row["lane"]) == ("car", "parked", 2)
    assert back.sequence("clip")["split"] is None  # still in the split folder that stood for none


def test_attrs_added_in_pixano_are_read(tmp_path: Path):
    _, out = exported(tmp_path)
    spec = yaml.safe_load((out / "dataset.yaml").read_text())
    spec["schema"]["record"]["attrs"]["reviewer"] = {"type": "str", "default": ""}
    spec["schema"]["entity"]["attrs"]["quality"] = {"type": "int", "default": 0}
    (out / "dataset.yaml").write_text(yaml.safe_dump(spec))

    def change(line: dict[str, Any]) -> None:
        line["attrs"]["reviewer"] = "bob"
        line["entities"][0]["attrs"]["quality"] = 3
        line["entities"][0]["annotations"][0]["attrs"]["blurry"] = True

    edit(out, change)
    with pytest.warns(UserWarning, match=r"not read: .*metadata\.jsonl:2: mask attr blurry"):
        back = vl.read_pixano(out, progress=False)
    assert back.sequence("clip")["reviewer"] == "bob"
    assert back.entity("clip/001")["quality"] == 3 and back.entity("clip/001")["lane"] is None
    assert types(back)["lane"] == pa.int32()  # the saved type, exact


def test_lines_of_two_exports_read_together(tmp_path: Path):
    _, out = exported(tmp_path)
    other = vl.Dataset(sequence_fields={"weather": pa.string()})
    other.add_sequence("dog", frames=np.zeros((2, 8, 8, 3), np.uint8), weather="rain")
    second = other.to_pixano(tmp_path / "other", progress=False)
    shutil.copytree(second / "default" / "media", out / "default" / "media", dirs_exist_ok=True)
    mine = out / "default" / "metadata.jsonl"
    line = (second / "default" / "metadata.jsonl").read_text().splitlines()[1]
    mine.write_text(mine.read_text() + line + "\n")
    back = vl.read_pixano(out, progress=False)
    assert back.sequence("dog")["weather"] == "rain" and back.sequence("clip")["weather"] is None
    assert back.entity("clip/001")["lane"] is None and types(back)["lane"] == pa.int32()


def test_library_edits_and_added_attrs(tmp_path: Path):
    rows = tables()
    saved = {"id": "bear", "null": ["status"], "fields": {"sequences": {"w": "float"}}}
    rows["records"][0].update(vidlabel=json.dumps(saved), w=0.5, reviewer="bob")
    ent = rows["entities"][0]
    ent.update(category="car", vidlabel=json.dumps({"null": ["category", "quality"]}), quality=4)
    rows["entities"][1].update(vidlabel="", quality=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = vl.read_pixano_library(library(tmp_path / "lib", rows), "davis", progress=False)
    row = ds.sequence("bear")
    assert (row["status"], row["w"], row["reviewer"], row["weather"]) == ("validated", 0.5, "bob", "rain")
    names = {ds.entity(e)["category"]: ds.entity(e) for e in ds.entity_ids("bear")}
    assert names["car"]["quality"] == 4
    rows["records"][0]["status"] = "new"  # what Pixano gives a record that names none
    rows["entities"][0].update(category="", quality=0)
    ds = vl.read_pixano_library(library(tmp_path / "lib2", rows), "davis", progress=False)
    assert ds.sequence("bear")["status"] is None
    assert [ds.entity(e)["category"] for e in ds.entity_ids("bear")].count(None) == 1
