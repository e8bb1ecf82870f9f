"""Pixano JSONL v2: ``to_pixano`` source folders read back by ``read_pixano``, the inline entities of
Pixano 0.8.0's own exports, dataset.yaml, and input that must be refused.

``pixano_dataset`` (two sequences, renamed entities with categories, a split tracklet, states, void)
is the dataset the tests against the real Pixano (test_pixano_real.py) send through Pixano too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pycocotools.mask as cocomask
import pytest
import yaml
from conftest import disc
from test_io_export import H, N, W, assert_round_trip, build, rect, spans
from test_io_pixano import write_jpeg, write_lines

import vidlabel as vl
from vidlabel.io.pixano_ids import derived_id, routable

ROUTABLE = re.compile(r"[A-Za-z0-9_.~-]+")


def pixano_dataset(tmp: Path) -> vl.Dataset:
    """build()'s "clip" (array frames: a disc with a gap, a rectangle, a void strip, boxes, a state,
    a model mask with a score, a colour) with a status, and "walk" (JPEG files) whose entities are
    renamed, with categories, one tracklet split in two, per-frame states over a range and a review
    mark on a model's mask."""
    ds = build()
    ds.remove_sequence("nopix")
    ds.set_sequence("clip", status="review")
    for f in range(6):
        write_jpeg(tmp / "walk_frames" / f"{f:05d}.jpg", seed=40 + f)
    walk = ds.add_sequence(
        "walk", frames=str(tmp / "walk_frames" / "*.jpg"), fps=25, split="val", weather=None
    )
    dog, ball = ds.add_entity(walk), ds.add_entity(walk)
    void = ds.add_entity(walk, "void", void=True)
    ds.rename_entity(walk, "1", "dog")
    ds.rename_entity(walk, "2", "ball")
    ds.set_entity(walk, "dog", category="animal", difficulty=3)
    ds.set_entity(walk, "ball", category="toy")
    for f in range(6):
        ds.set_mask(walk, f, dog, disc(H, W, 20, 10 + 5 * f, 8))
        if f != 2:
            ds.set_mask(walk, f, ball, rect(H, W, 2, 40, 9, 47), source="flow", score=0.5, keyframe=False)
    ds.set_mask(walk, 0, void, rect(H, W, H - 2, 0, H, W))
    ds.split_tracklet(ds.tracklets(walk, dog)[0]["id"], 3)
    ds.set_states(walk, dog, range(1, 4), occluded=True)
    ds.mark_reviewed(walk, [4], ball)  # a person accepted the model's mask there
    ds.clear_history()
    return ds


def frames_equal(a: vl.Dataset, b: vl.Dataset) -> None:
    """Same pixels and timestamps on every frame."""
    for seq in a.sequence_ids():
        np.testing.assert_array_equal(a.timestamps(seq), b.timestamps(seq))
        for f in range(a.num_frames(seq)):
            np.testing.assert_array_equal(a.frame(seq, f), b.frame(seq, f))


# ---------------------------------------------------------------------- the writer, read back
def test_to_pixano_round_trip(tmp_path: Path):
    ds = pixano_dataset(tmp_path)
    out = ds.to_pixano(tmp_path / "px", progress=False)
    back = vl.read_pixano(out, progress=False)
    assert_round_trip(ds, back)
    frames_equal(ds, back)
    assert spans(back, "walk", "dog") == [(0, 2), (3, 5)]
    assert back.sequence("clip")["status"] == "review" and back.sequence("walk")["weather"] is None
    assert back.mask("walk", 2, "ball") is None and back.entity("clip/001")["color"] is None
    assert back.entity("clip/002")["color"] == "#ff8800"
    assert (back.annotation("states", "walk", 4, "walk/002") or {}).get("reviewed") is True


def test_to_pixano_layout_is_what_pixano_imports(tmp_path: Path):
    ds = pixano_dataset(tmp_path)
    out = ds.to_pixano(tmp_path / "px", name="shoot", progress=False)
    spec = yaml.safe_load((out / "dataset.yaml").read_text())
    assert spec["pixano"] == 2 and spec["dataset"] == {"name": "shoot", "workspace": "video"}
    assert spec["schema"]["views"] == {"image": "sequence_frames"}
    assert set(spec["schema"]["annotations"]) == {"mask", "bbox", "tracklet"}
    entity_attrs = spec["schema"]["entity"]["attrs"]
    assert entity_attrs["difficulty"] == {"type": "int", "default": 0}
    assert sorted(p.name for p in out.iterdir()) == [".vidlabel-export.json", "dataset.yaml", "train", "val"]
    lines = {}
    for split in ("train", "val"):
        rows = [json.loads(t) for t in (out / split / "metadata.jsonl").read_text().splitlines()]
        assert rows[0] == {"$pixano": "jsonl/2"}
        lines.update({r["id"]: r for r in rows[1:]})
    assert set(lines) == {"clip", "walk"} and lines["walk"]["split"] == "val"
    clip = lines["clip"]
    assert clip["attrs"]["status"] == "review" and clip["attrs"]["name"] == "clip"
    frames = clip["views"]["image"]["frames"]
    assert [f["frame_index"] for f in frames] == list(range(N))
    assert all((out / "train" / f["uri"]).is_file() and f["uri"].endswith(".png") for f in frames)
    walk_frames = lines["walk"]["views"]["image"]["frames"]
    for f in walk_frames:  # JPEG files travel byte for byte
        src = tmp_path / "walk_frames" / Path(f["uri"]).name
        assert (out / "val" / f["uri"]).read_bytes() == src.read_bytes()
    for line in lines.values():
        for ent in line["entities"]:
            assert ROUTABLE.fullmatch(ent["id"]) and json.loads(ent["attrs"]["vidlabel"])["id"] != ent["id"]
            for ann in ent["annotations"]:
                if ann["kind"] == "mask":
                    eid = json.loads(ent["attrs"]["vidlabel"])["id"]
                    rle = ds.rle(line["id"], ann["frame_index"], eid)
                    assert rle is not None and ann["rle"]["counts"].encode() == rle["counts"]
    dog = next(e for e in lines["walk"]["entities"] if e["attrs"]["name"] == "dog")
    assert [(t["start_timestep"], t["end_timestep"]) for t in dog["tracklets"]] == [(0, 2), (3, 5)]
    assert [(s["frame_index"], s["attrs"]["occluded"]) for s in dog["states"]] == [
        (1, True),
        (2, True),
        (3, True),
    ]


def test_routable_ids_are_one_to_one():
    ids = ["clip/001", "clip~2F001", "clip#1", "a b", "..", ".", "x.y", "é/ü", "~", "%2F", "clip/001#2"]
    out = [routable(i) for i in ids]
    assert len(set(out)) == len(ids)
    assert all(ROUTABLE.fullmatch(o) and o.strip(".") for o in out)
    assert routable("clip") == "clip" and routable("x.y") == "x.y"


def test_to_pixano_refusals(tmp_path: Path):
    ds = build()
    with pytest.raises(vl.ValidationError, match="'nopix' has no pixels"):
        ds.to_pixano(tmp_path / "a", progress=False)
    ds.remove_sequence("nopix")
    ds.set_sequence("clip", split="a/b")
    with pytest.raises(vl.ValidationError, match="split 'a/b'"):
        ds.to_pixano(tmp_path / "a", progress=False)
    bad = vl.Dataset(state_fields={"frame_id": pa.string()})
    bad.add_sequence("s", frames=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(vl.ValidationError, match="field 'frame_id' cannot be a Pixano attr"):
        bad.to_pixano(tmp_path / "a", progress=False)
    assert not (tmp_path / "a").exists()
    ds.set_sequence("clip", split="train")
    ds.to_pixano(tmp_path / "a", progress=False)
    with pytest.raises(vl.ValidationError, match="pass overwrite=True"):
        ds.to_pixano(tmp_path / "a", progress=False)
    ds.to_pixano(tmp_path / "a", overwrite=True, progress=False)


# ---------------------------------------------------------------------- Pixano's own exports
FOREIGN_SPEC = """\
pixano: 2
dataset: {name: traffic, workspace: video}
format: pixano_jsonl
media: {mode: embed}
schema:
  views: {image: {kind: sequence_frames}}
  record: {attrs: {weather: {type: str, default: ''}}}
  entity: {attrs: {category: {type: str, default: car}, lane: {type: int, default: 0}}}
  entity_dynamic_state: {attrs: {occluded: {type: bool, default: false}}}
  annotations: [bbox, mask, tracklet]
"""


def _rle(mask: np.ndarray) -> dict[str, Any]:
    enc = cocomask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(enc["size"]), "counts": enc["counts"].decode()}


def foreign_export(root: Path, entities: list[dict[str, Any]] | None = None, **line: Any) -> Path:
    """A folder as ``pixano data export`` writes it: frames dumped as media/image/<frame id>.jpg,
    record and entity ids derived, timestamps but no fps, attrs Pixano's schema declares."""
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "dataset.yaml").write_text(FOREIGN_SPEC)
    rid = derived_id("traffic-src", "train", "metadata", 2)
    frames = []
    for f in range(N):
        uri = f"media/image/{derived_id(rid, 'view', 'image', f)}.jpg"
        write_jpeg(root / "train" / uri, seed=f)
        frames.append({"uri": uri, "frame_index": f, "timestamp": f / 30})
    car = derived_id(rid, "ent", 0)
    default_entities = [
        {
            "id": car,
            "attrs": {"lane": 2},  # category left out: the schema's default
            "annotations": [
                {
                    "kind": "mask",
                    "id": "m0",
                    "view": "image",
                    "frame_index": f,
                    "rle": _rle(rect(H, W, 2, f, 9, 9 + f)),
                }
                for f in (0, 1, 4)
            ]
            + [
                {
                    "kind": "bbox",
                    "frame_index": 1,
                    "coords": [0.25, 0.5, 0.75, 1.0],
                    "format": "xyxy",
                    "is_normalized": True,
                    "confidence": 0.5,
                    "source": {"type": "model", "name": "yolo"},
                },
                {"kind": "mask", "frame_index": 2, "polygons": [[0.0, 0.0, 0.5, 0.0, 0.5, 0.5, 0.0, 0.5]]},
            ],
            "states": [{"frame_index": 4, "attrs": {"occluded": True}}],
        },
        {
            "id": derived_id(rid, "ent", "object_255"),  # made from an index PNG's void value
            "annotations": [{"kind": "mask", "frame_index": 3, "rle": _rle(rect(H, W, H - 1, 0, H, W))}],
            "tracklets": [{"id": "t", "view": "image", "start_timestep": 1, "end_timestep": 4}],
        },
    ]
    write_lines(
        root / "train" / "metadata.jsonl",
        [
            {"$pixano": "jsonl/2", "defaults": {"source": {"type": "human", "name": "alice"}}},
            {
                "id": rid,
                "attrs": {"weather": "fog"},
                "views": {"image": {"frames": frames}},
                "entities": default_entities if entities is None else entities,
                **line,
            },
        ],
    )
    return root


def test_read_pixano_export_with_inline_entities(tmp_path: Path):
    ds = vl.read_pixano(foreign_export(tmp_path / "exp"), progress=False)
    (seq,) = ds.sequence_ids()
    row = ds.sequence(seq)
    assert (row["weather"], row["fps"], row["split"], row["status"]) == ("fog", 30.0, "train", None)
    assert {f.name: f.type for f in ds.custom_fields["entities"]} == {"lane": pa.int64()}
    car, void = (ds.entity(e) for e in ds.entity_ids(seq))
    assert (car["category"], car["lane"], car["void"]) == ("car", 2, False)
    assert (void["name"], void["void"], void["category"]) == ("255", True, "car")  # the PNG value, back
    for f in (0, 1, 4):
        np.testing.assert_array_equal(ds.mask(seq, f, car["id"]), rect(H, W, 2, f, 9, 9 + f))
    polygon = ds.mask(seq, 2, car["id"])
    assert (
        polygon is not None and polygon[: H // 2 - 1, : W // 2 - 1].all() and not polygon[H // 2 + 1 :].any()
    )
    assert ds.box(seq, 1, car["id"]) == (0.25 * W, 0.5 * H, 0.5 * W, 0.5 * H)
    box = ds.annotation("boxes", seq, 1, car["id"])
    assert box is not None and (box["source"], box["score"]) == ("yolo", 0.5)
    mask = ds.annotation("masks", seq, 0, car["id"])
    assert mask is not None and (mask["source"], mask["keyframe"], mask["score"]) == ("alice", True, None)
    assert ds.state(seq, 4, car["id"])["occluded"] is True
    assert spans(ds, seq, car["id"]) == [(0, 4)]  # no tracklets given: first to last, as Pixano derives
    assert spans(ds, seq, void["id"]) == [(1, 4)]


BAD: list[tuple[str, Any, str]] = [
    ("not_json", "{oops", r"metadata\.jsonl:2: malformed JSON"),
    (
        "unknown_kind",
        {"kind": "polygon", "frame_index": 0},
        r"metadata\.jsonl:2: .*unknown annotation kind 'polygon'",
    ),
    ("unread_kind", {"kind": "keypoints", "frame_index": 0}, r"metadata\.jsonl:2: .*'keypoints' is not read"),
    (
        "mask_size",
        {"kind": "mask", "frame_index": 0, "rle": _rle(np.ones((H, W + 1), bool))},
        r"metadata\.jsonl:2: .*size",
    ),
    (
        "huge_mask",
        {"kind": "mask", "frame_index": 0, "rle": {"size": [10**6, 10**6], "counts": "0"}},
        r"metadata\.jsonl:2: .*size",
    ),
    (
        "bad_counts",
        {"kind": "mask", "frame_index": 0, "rle": {"size": [H, W], "counts": "\x7f\x7f"}},
        r"metadata\.jsonl:2: .*counts",
    ),
    (
        "no_frame",
        {"kind": "mask", "frame_index": N, "rle": _rle(rect(H, W, 0, 0, 2, 2))},
        rf"metadata\.jsonl:2: .*frame_index {N} is not a frame",
    ),
    (
        "unknown_key",
        {"kind": "mask", "frame_index": 0, "rle": _rle(rect(H, W, 0, 0, 2, 2)), "score": 1},
        "unknown key",
    ),
]


@pytest.mark.parametrize(("case", "ann", "pattern"), BAD, ids=[b[0] for b in BAD])
def test_bad_annotations_name_file_and_line_and_load_nothing(
    tmp_path: Path, case: str, ann: Any, pattern: str
):
    root = foreign_export(tmp_path / "exp", [{"id": "e", "annotations": [ann]}])
    if case == "not_json":
        path = root / "train" / "metadata.jsonl"
        path.write_text(path.read_text().splitlines()[0] + "\n{oops\n")
    ds = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"lane": pa.int64()},
        state_fields={"occluded": pa.bool_()},
    )
    ds.add_sequence("keep", frames=np.zeros((2, 4, 4, 3), np.uint8))
    before, history = ds.tables(), ds.history()
    with pytest.raises(vl.ValidationError, match=pattern):
        vl.read_pixano(root, dataset=ds, progress=False)
    after = ds.tables()
    assert all(before[n].equals(after[n]) for n in before) and ds.history() == history


ENTITY_BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "tracklet_outside",
        {"tracklets": [{"view": "image", "start_timestep": 2, "end_timestep": N + 3}]},
        rf"metadata\.jsonl:2: .*tracklet \[2, {N + 3}\] lies outside the record's frames \[0, {N - 1}\]",
    ),
    (
        "tracklets_overlap",
        {
            "tracklets": [
                {"view": "image", "start_timestep": 0, "end_timestep": 3},
                {"view": "image", "start_timestep": 2, "end_timestep": 4},
            ]
        },
        "overlap",
    ),
    (
        "mask_outside_tracklets",
        {"tracklets": [{"view": "image", "start_timestep": 3, "end_timestep": 4}]},
        r"metadata\.jsonl:2: .*leave annotated frame 0 out",
    ),
    (
        "two_masks",
        {"annotations": [{"kind": "mask", "frame_index": 0, "rle": _rle(rect(H, W, 0, 0, 2, 2))}] * 2},
        "two masks",
    ),
    ("bad_vidlabel_attr", {"attrs": {"vidlabel": "[1"}}, "not a JSON object"),
    ("state_frame", {"states": [{"frame_index": -1, "attrs": {"occluded": True}}]}, "frame_index -1"),
    (
        "other_view",
        {"tracklets": [{"view": "depth", "start_timestep": 0, "end_timestep": 1}]},
        "view 'depth'",
    ),
    ("attr_type", {"attrs": {"lane": "left"}}, "lane"),
]


@pytest.mark.parametrize(("case", "entity", "pattern"), ENTITY_BAD, ids=[b[0] for b in ENTITY_BAD])
def test_bad_entities_are_refused(tmp_path: Path, case: str, entity: dict[str, Any], pattern: str):
    ent = {
        "id": "e",
        "annotations": [{"kind": "mask", "frame_index": 0, "rle": _rle(rect(H, W, 0, 0, 2, 2))}],
        **entity,
    }
    root = foreign_export(tmp_path / "exp", [ent])
    with pytest.raises(vl.ValidationError, match=pattern):
        vl.read_pixano(root, progress=False)


def test_frames_listed_by_frame_index(tmp_path: Path):
    """A line may list its frames with any frame_index values: annotations refer to those."""
    root = foreign_export(
        tmp_path / "exp",
        [
            {
                "id": "e",
                "annotations": [{"kind": "mask", "frame_index": 40, "rle": _rle(rect(H, W, 0, 0, 3, 3))}],
            }
        ],
    )
    path = root / "train" / "metadata.jsonl"
    header, line = (json.loads(t) for t in path.read_text().splitlines())
    for k, f in enumerate(line["views"]["image"]["frames"]):
        f["frame_index"] = 10 * k
    write_lines(path, [header, line])
    ds = vl.read_pixano(root, progress=False)
    (seq,) = ds.sequence_ids()
    assert ds.mask_frames(seq, ds.entity_ids(seq)[0]) == [4]
    line["views"]["image"]["frames"][1]["frame_index"] = [1]
    write_lines(path, [header, line])
    with pytest.raises(
        vl.ValidationError, match=r"metadata\.jsonl:2: a frame's frame_index must be an integer"
    ):
        vl.read_pixano(root, progress=False)


@pytest.mark.parametrize("uri", ["../outside.jpg", "media/../../outside.jpg", "ABS"])
def test_frame_uris_may_not_leave_the_folder(tmp_path: Path, uri: str):
    write_jpeg(tmp_path / "outside.jpg", seed=1)
    root = foreign_export(tmp_path / "exp", [])
    uri = str(tmp_path / "outside.jpg") if uri == "ABS" else uri
    path = root / "train" / "metadata.jsonl"
    header, line = (json.loads(t) for t in path.read_text().splitlines())
    line["views"]["image"]["frames"][0]["uri"] = uri
    write_lines(path, [header, line])
    with pytest.raises(vl.ValidationError, match=re.escape(uri)):
        vl.read_pixano(root, progress=False)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("pixano: [2\n", "not YAML"),
        ("- 1\n", "expected a mapping"),
        ("schema: {entity: {attrs: {'bad name': str}}}\n", "not an identifier"),
        ("schema: {views: [image]}\n", "name -> kind"),
        ("# " + "x" * (1 << 20) + "\n", "too large"),
    ],
)
def test_bad_dataset_yaml_is_refused(tmp_path: Path, text: str, pattern: str):
    root = foreign_export(tmp_path / "exp")
    (root / "dataset.yaml").write_text(text)
    with pytest.raises(vl.ValidationError, match=r"dataset\.yaml: .*" + pattern):
        vl.read_pixano(root, progress=False)


def test_vidlabel_attr_restores_nulls_types_and_ids(tmp_path: Path):
    """Pixano stores every attr non-null: a null is written as its type's zero and listed in the
    vidlabel attr; without that attr the zero would come back."""
    ds = vl.Dataset(entity_fields={"difficulty": pa.int8()}, state_fields={"visibility": pa.float32()})
    seq = ds.add_sequence("a/b", frames=np.zeros((3, 8, 8, 3), np.uint8), id="seq/1")
    e = ds.add_entity(seq, "x")
    ds.set_mask(seq, 0, e, rect(8, 8, 0, 0, 4, 4))
    ds.set_state(seq, 0, e, visibility=0.1)
    ds.set_state(seq, 1, e, visibility=None)
    out = ds.to_pixano(tmp_path / "px", progress=False)
    (line,) = [json.loads(t) for t in (out / "default" / "metadata.jsonl").read_text().splitlines()[1:]]
    assert line["id"] == "seq~2F1" and line["attrs"]["fps"] == 0.0  # no fps: the zero, and listed
    assert sorted(json.loads(line["attrs"]["vidlabel"])["null"]) == ["fps", "split", "status"]
    ent = line["entities"][0]
    assert ent["attrs"]["difficulty"] == 0 and json.loads(ent["attrs"]["vidlabel"])["null"] == [
        "category",
        "difficulty",
    ]
    back = vl.read_pixano(out, progress=False)
    assert back.sequence_ids() == ["seq/1"] and back.sequence("seq/1")["split"] is None
    assert {f.name: f.type for f in back.custom_fields["entities"]} == {"difficulty": pa.int8()}
    assert back.entity(e)["difficulty"] is None and back.entity(e)["category"] is None
    assert (
        back.state(seq, 0, e)["visibility"] == pytest.approx(0.1)
        and back.state(seq, 1, e)["visibility"] is None
    )
    assert_round_trip(ds, back)
