"""Hostile Pixano input: every kind is refused with a ValidationError and loads nothing (a polygon
pycocotools cannot take, YAML aliases and tags, JSON nested past the interpreter's stack, nulls and
wrong types in a library's columns, files that resolve outside the source); and what is dropped is
said."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from test_io_export import H, W, rect
from test_io_pixano import write_lines
from test_io_pixano_export import _rle, foreign_export
from test_io_pixano_library import library, tables

import vidlabel as vl
from vidlabel.io.pixano_polygons import MAX_POINTS

DEEP = "[" * 100_000 + "]" * 100_000


def fields_dataset() -> vl.Dataset:
    ds = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"lane": pa.int64()},
        state_fields={"occluded": pa.bool_()},
    )
    ds.add_sequence("keep", frames=np.zeros((2, 4, 4, 3), np.uint8))
    return ds


def refused(read: Any, pattern: str) -> None:
    """``read(dataset)`` raises a ValidationError matching ``pattern`` and leaves the dataset as it was."""
    ds = fields_dataset()
    before, history = ds.tables(), ds.history()
    with pytest.raises(vl.ValidationError, match=pattern):
        read(ds)
    after = ds.tables()
    assert all(before[n].equals(after[n]) for n in before) and ds.history() == history


def mask_entity(**extra: Any) -> dict[str, Any]:
    return {
        "id": "e",
        "annotations": [{"kind": "mask", "frame_index": 0, "rle": _rle(rect(H, W, 0, 0, 4, 4))}],
    }


SQUARE = [0.1, 0.1, 0.6, 0.1, 0.6, 0.6, 0.1, 0.6]
POLYGONS = {
    "huge": ([[1e20, 0, 1e20, 1e20, 0, 1e20]], r"frame fractions in \[0, 1\]"),
    "slow": ([[1e7, 0, 1e7, 1e7, 0, 1e7]], r"frame fractions in \[0, 1\]"),
    "negative": ([[-1e9, -1e9, 1e9, -1e9, 1e9, 1e9]], r"frame fractions in \[0, 1\]"),
    "nan": ([[float("nan")] * 6], "not a finite number"),
    "infinite": ([[0, 0, float("inf"), 0, 0, 1]], "not a finite number"),
    "too_big_int": ([[10**400, 0, 1, 0, 1, 1]], "not a finite number"),
    "pixels": ([[2, 2, 30, 2, 30, 20]], r"frame fractions in \[0, 1\]"),  # pixels, not fractions
    "too_many": ([SQUARE * (MAX_POINTS // 4 + 1)], f"more than {MAX_POINTS} polygon points"),
}


@pytest.mark.parametrize(
    ("case", "polygons", "pattern"), [(k, *v) for k, v in POLYGONS.items()], ids=list(POLYGONS)
)
def test_hostile_polygons_are_refused(tmp_path: Path, case: str, polygons: Any, pattern: str):
    ann = {"kind": "mask", "frame_index": 2, "polygons": polygons}
    root = foreign_export(tmp_path / "exp", [{"id": "e", "annotations": [ann]}])
    refused(
        lambda ds: vl.read_pixano(root, dataset=ds, progress=False),
        rf"metadata\.jsonl:2: entity 'e': the mask on frame_index 2: .*{pattern}",
    )


def test_a_polygon_rounded_past_the_edge_is_clipped(tmp_path: Path):
    ann = {"kind": "mask", "frame_index": 0, "polygons": [[0.0, 0.0, 1.0004, 0.0, 1.0004, 1.0, 0.0, 1.0]]}
    ds = vl.read_pixano(foreign_export(tmp_path / "exp", [{"id": "e", "annotations": [ann]}]), progress=False)
    (seq,) = ds.sequence_ids()
    mask = ds.mask(seq, 0, ds.entity_ids(seq)[0])
    assert mask is not None and mask.all()


YAML = {
    "python_tag": ("pixano: 2\ndataset: !!python/object/apply:os.system ['echo hi']\n", "not YAML"),
    "alias": ("a: &a [x, x]\nb: [*a, *a]\npixano: 2\n", "aliases"),
    "deep": ("pixano: 2\nschema: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
}


@pytest.mark.parametrize(("text", "pattern"), YAML.values(), ids=list(YAML))
def test_dataset_yaml_tags_aliases_and_depth_are_refused(tmp_path: Path, text: str, pattern: str):
    root = foreign_export(tmp_path / "exp")
    (root / "dataset.yaml").write_text(text)
    refused(lambda ds: vl.read_pixano(root, dataset=ds, progress=False), rf"dataset\.yaml: .*{pattern}")


def test_deeply_nested_json_is_refused(tmp_path: Path):
    root = foreign_export(tmp_path / "line")
    path = root / "train" / "metadata.jsonl"
    path.write_text(path.read_text() + '{"id": "x", "attrs": ' + DEEP + "}\n")
    refused(
        lambda ds: vl.read_pixano(root, dataset=ds, progress=False),
        r"metadata\.jsonl:3: JSON nested too deeply",
    )
    ent = {**mask_entity(), "attrs": {"vidlabel": DEEP}}
    root = foreign_export(tmp_path / "attr", [ent])
    refused(
        lambda ds: vl.read_pixano(root, dataset=ds, progress=False), "attr 'vidlabel' is not a JSON object"
    )
    lib = library(tmp_path / "lib", tables())
    (lib / "library" / "davis" / "info.json").write_text(DEEP)  # unreadable info: found by its folder name
    assert len(vl.read_pixano_library(lib, "davis", progress=False)) == 1


def _box(**change: Any) -> dict[str, Any]:
    row = tables()["masks"][0]
    keep = {k: row[k] for k in ("record_id", "entity_id", "source_type", "source_name", "source_metadata")}
    return {
        **keep,
        "id": "b",
        "view_id": "",
        "tracklet_id": "",
        "entity_dynamic_state_id": "",
        "frame_id": "",
    } | {
        "frame_index": 0,
        "coords": [0.0, 1.0, 2.0, 3.0],
        "format": "xywh",
        "is_normalized": False,
        "confidence": 0.5,
        **change,
    }


LIBRARY = {
    "frame_index_null": (
        lambda r: r["sequence_frames"][2].update(frame_index=None),
        r"sequence_frames\.lance: row 2 .*frame_index is null",
    ),
    "frame_index_float": (
        lambda r: [f.update(frame_index=f["frame_index"] + 0.5) for f in r["sequence_frames"]],
        "column frame_index holds double, not integers",
    ),
    "start_null": (
        lambda r: r["tracklets"][0].update(start_timestep=None),
        r"tracklets\.lance: row 0 .*start_timestep is null",
    ),
    "counts_null": (lambda r: r["masks"][1].update(counts=None), r"masks\.lance: row 1 .*counts is null"),
    "size_strings": (
        lambda r: [m.update(size=[str(H), str(W)]) for m in r["masks"]],
        "column size holds list<item: string>",
    ),
    "coords_null": (
        lambda r: r.update(bboxes=[_box(coords=[None, 1.0, 2.0, 3.0])]),
        r"bboxes\.lance: row 0 .*coords holds a null",
    ),
    "normalized_null": (
        lambda r: r.update(bboxes=[_box(), _box(id="c", frame_index=1, is_normalized=None)]),
        r"row 1 .*is_normalized is null",
    ),
    "status_int": (lambda r: r["records"][0].update(status=5), "column status holds int64, not strings"),
    "uri_null": (
        lambda r: [f.update(raw_bytes=b"", uri=None) for f in r["sequence_frames"]],
        "uri",
    ),
}


@pytest.mark.parametrize(("change", "pattern"), LIBRARY.values(), ids=list(LIBRARY))
def test_library_columns_of_other_types_or_with_nulls(tmp_path: Path, change: Any, pattern: str):
    rows = tables()
    change(rows)
    lib = library(tmp_path / "lib", rows)
    refused(lambda ds: vl.read_pixano_library(lib, "davis", dataset=ds, progress=False), pattern)


WRONG_BOOLS = {
    "mask_keyframe": (
        {
            "annotations": [
                {
                    "kind": "mask",
                    "frame_index": 0,
                    "rle": _rle(rect(H, W, 0, 0, 4, 4)),
                    "attrs": {"keyframe": "no"},
                }
            ]
        },
        "keyframe must be a boolean, got 'no'",
    ),
    "state_reviewed": (
        {"states": [{"frame_index": 0, "attrs": {"reviewed": "yes"}}]},
        "reviewed must be a boolean",
    ),
    "void": ({"attrs": {"void": 1}}, "void must be a boolean"),
    "interpolate": (
        {
            "attrs": {"vidlabel": json.dumps({"interpolate": "n"})},
            "tracklets": [{"view": "image", "start_timestep": 0, "end_timestep": 0}],
        },
        "interpolate must be a list of booleans",
    ),
}


@pytest.mark.parametrize(("entity", "pattern"), WRONG_BOOLS.values(), ids=list(WRONG_BOOLS))
def test_booleans_are_not_coerced(tmp_path: Path, entity: dict[str, Any], pattern: str):
    root = foreign_export(tmp_path / "exp", [{**mask_entity(), **entity}])
    refused(lambda ds: vl.read_pixano(root, dataset=ds, progress=False), pattern)


def test_files_resolving_outside_the_source_are_refused(tmp_path: Path):
    outside = foreign_export(tmp_path / "outside")
    root = foreign_export(tmp_path / "meta")
    (root / "train" / "metadata.jsonl").unlink()
    os.symlink(outside / "train" / "metadata.jsonl", root / "train" / "metadata.jsonl")
    refused(
        lambda ds: vl.read_pixano(root, dataset=ds, progress=False),
        r"metadata\.jsonl lies outside the source",
    )
    root = foreign_export(tmp_path / "spec")
    (root / "dataset.yaml").unlink()
    os.symlink(outside / "dataset.yaml", root / "dataset.yaml")
    refused(
        lambda ds: vl.read_pixano(root, dataset=ds, progress=False), r"dataset\.yaml lies outside the source"
    )


def test_a_tracklet_with_nothing_in_it_is_named(tmp_path: Path):
    ent = {"id": "e", "tracklets": [{"view": "image", "start_timestep": 0, "end_timestep": 2}]}
    with pytest.warns(
        UserWarning, match=r"metadata\.jsonl:2: tracklet \[0, 2\] of entity 'e' \(nothing annotated"
    ):
        ds = vl.read_pixano(foreign_export(tmp_path / "exp", [ent]), progress=False)
    (seq,) = ds.sequence_ids()
    assert ds.tracklets(seq) == []


def test_errors_name_where(tmp_path: Path):
    root = foreign_export(tmp_path / "exp")
    path = root / "train" / "metadata.jsonl"
    header, line = (json.loads(t) for t in path.read_text().splitlines())
    first = {**line, "attrs": {"camera": "left"}}
    second = {**line, "id": "other", "attrs": {"camera": 3}}
    write_lines(path, [header, first, second])
    with pytest.raises(vl.ValidationError, match=r"camera holds values of mixed types \(.*metadata\.jsonl:3"):
        vl.read_pixano(root, progress=False)
    write_lines(path, [header, {**line, "attrs": {"weather": "fog", "extra": 1}}])
    with pytest.raises(
        vl.ValidationError, match=re.escape(f"{root}: Pixano sequences attrs extra are not declared")
    ):
        vl.read_pixano(root, dataset=fields_dataset(), progress=False)
    saved = {"fields": {"sequences": {"width": "int64"}, "entities": {}, "states": {}}}
    write_lines(path, [header, {**line, "attrs": {"vidlabel": json.dumps(saved)}}])
    with pytest.raises(vl.ValidationError, match=r"metadata\.jsonl:2: vidlabel\.fields: .*width clash"):
        vl.read_pixano(root, progress=False)


def test_frame_uris_are_literal_names_and_errors_show_them_so(tmp_path: Path):
    root = foreign_export(tmp_path / "exp")
    path = root / "train" / "metadata.jsonl"
    header, line = (json.loads(t) for t in path.read_text().splitlines())
    first = root / "train" / line["views"]["image"]["frames"][0]["uri"]
    first.rename(first.with_name("x[1].jpg"))
    line["views"]["image"]["frames"][0]["uri"] = "media/image/x[1].jpg"  # glob characters, taken as they are
    write_lines(path, [header, line])
    assert len(vl.read_pixano(root, progress=False)) == 1
    line["views"]["image"]["frames"][0]["uri"] = "media/image/y[1].jpg"
    write_lines(path, [header, line])
    with pytest.raises(vl.ValidationError, match=re.escape("no files match 'media/image/y[1].jpg'")):
        vl.read_pixano(root, progress=False)


def test_attrs_clashing_with_built_in_columns_name_where(tmp_path: Path):
    root = foreign_export(tmp_path / "exp", [{**mask_entity(), "attrs": {"sequence_id": "x"}}])
    with pytest.raises(vl.ValidationError, match=r"metadata\.jsonl:2: Pixano entity attrs sequence_id clash"):
        vl.read_pixano(root, progress=False)
    spec = root / "dataset.yaml"
    spec.write_text(spec.read_text().replace("lane: {type: int, default: 0}", "sequence_id: str"))
    with pytest.raises(vl.ValidationError, match=r"dataset\.yaml: Pixano entity attrs sequence_id clash"):
        vl.read_pixano(root, progress=False)
