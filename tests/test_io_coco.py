"""COCO video: the YouTube-VIS export (read back by pycocotools and by vidlabel), and imports of
hand-written YouTube-VIS and CocoVID files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pycocotools.mask as cocomask
import pytest
from PIL import Image
from test_io_export import H2, N2, W2, H, N, W, assert_round_trip, build, rect, spans

import vidlabel as vl
from vidlabel.io.coco import read_coco, write_coco
from vidlabel.io.youtube_vos import write_youtube_vos


def test_coco_export_is_youtube_vis_read_by_pycocotools(tmp_path: Path):
    ds = build()
    out = write_coco(ds, tmp_path / "vis.json")
    data = json.loads(out.read_text())
    assert [(v["id"], v["name"], v["width"], v["height"], v["length"]) for v in data["videos"]] == [
        (1, "clip", W, H, N),
        (2, "nopix", W2, H2, N2),
    ]
    assert data["videos"][0]["file_names"][:2] == ["clip/00000.jpg", "clip/00001.jpg"]
    assert data["categories"] == [
        {"id": 1, "name": "car", "supercategory": "car"},
        {"id": 2, "name": "object", "supercategory": "object"},  # entities without a category
        {"id": 3, "name": "dog", "supercategory": "dog"},
        {"id": 4, "name": "cat", "supercategory": "cat"},
    ]
    anns = data["annotations"]
    assert [a["id"] for a in anns] == [1, 2, 3, 4, 5]
    assert [(a["video_id"], a["category_id"], a["iscrowd"]) for a in anns] == [
        (1, 1, 0),
        (1, 2, 0),
        (1, 2, 1),  # the void entity: a crowd region, ignored by COCO-style evaluation
        (2, 3, 0),
        (2, 4, 0),
    ]
    videos = {v["id"]: v for v in data["videos"]}
    for a in anns:
        seq, eid = videos[a["video_id"]]["name"], a["vidlabel"]["id"]
        n = videos[a["video_id"]]["length"]
        assert len(a["segmentations"]) == len(a["bboxes"]) == len(a["areas"]) == n
        assert (a["width"], a["height"]) == (videos[a["video_id"]]["width"], videos[a["video_id"]]["height"])
        for f, (seg, box, area) in enumerate(zip(a["segmentations"], a["bboxes"], a["areas"])):
            want = ds.mask(seq, f, eid)
            stored = ds.box(seq, f, eid)
            if want is None:
                assert seg is None and area is None
                assert box == (None if stored is None else list(stored))
                continue
            assert isinstance(seg["counts"], str) and seg["size"] == list(want.shape)
            np.testing.assert_array_equal(cocomask.decode(seg).astype(bool), want)
            assert cocomask.area(seg) == area
            assert box == (list(stored) if stored is not None else cocomask.toBbox(seg).tolist())
    car = anns[0]
    assert car["bboxes"][1] == list(ds.box("clip", 1, "car"))  # an interpolated box is a stored box
    assert car["vidlabel"]["tracklets"] == [[0, 2], [5, 7]]
    assert anns[1]["bboxes"][7] == [20.0, 24.0, 12.0, 12.0] and anns[1]["segmentations"][7] is None


def test_coco_round_trip_without_images(tmp_path: Path):
    ds = build()
    back = read_coco(write_coco(ds, tmp_path / "vis.json"), progress=False)
    assert_round_trip(ds, back)
    assert back.frame_source("clip") is None
    assert back.frame_uri("clip", 3) == "clip/00003.jpg"
    assert (
        back.entity("person", "clip")["color"] == "#ff8800" and back.entity("car", "clip")["difficulty"] == 2
    )
    assert back.state("clip", 5, "car") == {"occluded": True}
    meta = back.annotation("masks", "clip", 6, "car")
    assert meta is not None and (meta["source"], meta["score"], meta["keyframe"]) == ("sam2", 0.75, False)
    assert not back.can_undo


def test_coco_round_trip_through_the_public_names_refuses_to_overwrite(tmp_path: Path):
    ds = build()
    file = ds.to_coco(tmp_path / "vis.json")
    assert_round_trip(ds, vl.read_coco(file, progress=False))
    before = file.read_bytes()
    with pytest.raises(vl.ValidationError, match="exists and is not empty; pass overwrite=True"):
        ds.to_coco(file)
    assert file.read_bytes() == before
    ds.remove_entity("clip", "car")
    ds.to_coco(file, overwrite=True)
    back = vl.read_coco(file, progress=False)
    assert_round_trip(ds, back)
    assert "car" not in [back.entity(e)["name"] for e in back.entity_ids("clip")]


def test_coco_round_trip_with_the_images_of_a_youtube_vos_export(tmp_path: Path):
    ds = build()
    root = write_youtube_vos(ds, tmp_path / "ytvos", progress=False)
    file = write_coco(ds, tmp_path / "vis.json")
    with pytest.warns(RuntimeWarning, match="nopix/00000.jpg not found"):
        back = read_coco(file, images=root / "JPEGImages", progress=False)
    assert_round_trip(ds, back)
    assert back.frame_source("nopix") is None
    data, mime = back.frame_bytes("clip", 4)
    assert mime == "image/jpeg" and data == (root / "JPEGImages" / "clip" / "00004.jpg").read_bytes()
    # an export of what was imported is the same file
    again = json.loads(write_coco(back, tmp_path / "again.json").read_text())
    assert again == json.loads(file.read_text())


def test_coco_export_of_chosen_sequences(tmp_path: Path):
    ds = build()
    data = json.loads(write_coco(ds, tmp_path / "one.json", sequences="nopix").read_text())
    assert [v["name"] for v in data["videos"]] == ["nopix"]
    assert [a["video_id"] for a in data["annotations"]] == [1, 1]


def _uncompressed(mask: np.ndarray) -> dict[str, Any]:
    """Runs of the column-major mask, starting with zeros (how YouTube-VIS writes uncompressed RLE)."""
    flat = mask.ravel(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    if flat[0]:
        runs = [0, *runs]
    return {"size": list(mask.shape), "counts": runs}


def _compressed(mask: np.ndarray) -> dict[str, Any]:
    rle = cocomask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def youtube_vis_file(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    h, w = 12, 16
    m = {
        "a0": rect(h, w, 1, 1, 5, 6),
        "a1": rect(h, w, 2, 2, 6, 7),
        "b1": rect(h, w, 6, 8, 11, 15),
        "b2": rect(h, w, 0, 0, 12, 16),  # starts with foreground: uncompressed counts begin with 0
    }
    data = {
        "videos": [
            {
                "id": 7,
                "width": w,
                "height": h,
                "length": 4,
                "file_names": [f"vid/{i:05d}.jpg" for i in range(4)],
            }
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {
                "id": 1,
                "video_id": 7,
                "category_id": 2,
                "iscrowd": 0,
                "segmentations": [_compressed(m["a0"]), _uncompressed(m["a1"]), None, None],
                "bboxes": [[1, 1, 5, 4], [2, 2, 5, 4], None, [3, 3, 4, 4]],  # frame 3: a box without a mask
                "areas": [20, 20, None, None],
            },
            {
                "id": 2,
                "video_id": 7,
                "category_id": 1,
                "iscrowd": 0,
                "segmentations": [
                    None,
                    [[8, 6, 15, 6, 15, 11, 8, 11]],  # a polygon
                    _uncompressed(m["b2"]),
                    [],
                ],
                "bboxes": None,
            },
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path, m


def test_read_hand_written_youtube_vis(tmp_path: Path):
    path, m = youtube_vis_file(tmp_path)
    ds = read_coco(path, progress=False)
    assert ds.sequence_ids() == ["vid"]
    row = ds.sequence("vid")
    assert (row["num_frames"], row["width"], row["height"]) == (4, 16, 12)
    assert [ds.frame_uri("vid", i) for i in range(4)] == [f"vid/{i:05d}.jpg" for i in range(4)]
    ents = [ds.entity(e) for e in ds.entity_ids("vid")]
    assert [(e["name"], e["category"], e["void"]) for e in ents] == [
        ("1", "dog", False),
        ("2", "person", False),
    ]
    np.testing.assert_array_equal(ds.mask("vid", 0, "1"), m["a0"])
    np.testing.assert_array_equal(ds.mask("vid", 1, "1"), m["a1"])
    np.testing.assert_array_equal(ds.mask("vid", 2, "2"), m["b2"])
    polygon = cocomask.decode(cocomask.merge(cocomask.frPyObjects([[8, 6, 15, 6, 15, 11, 8, 11]], 12, 16)))
    np.testing.assert_array_equal(ds.mask("vid", 1, "2"), polygon.astype(bool))
    assert ds.mask_frames("vid", "1") == [0, 1] and ds.mask_frames("vid", "2") == [1, 2]
    # boxes import only where there is no mask: there they are the only shape
    assert ds.boxes("vid", 0) == {} and ds.box("vid", 3, "1") == (3.0, 3.0, 4.0, 4.0)
    box = ds.annotation("boxes", "vid", 3, "1")
    assert box is not None and (box["source"], box["keyframe"]) == ("import", True)
    mask = ds.annotation("masks", "vid", 0, "1")
    assert mask is not None and (mask["source"], mask["keyframe"]) == ("import", True)
    assert spans(ds, "vid", "1") == [(0, 1), (3, 3)] and spans(ds, "vid", "2") == [(1, 2)]


def test_read_hand_written_cocovid_with_images(tmp_path: Path):
    h, w = 10, 12
    frames = tmp_path / "data" / "seqA"
    frames.mkdir(parents=True)
    for fid in (0, 5, 10):
        Image.fromarray(np.full((h, w, 3), fid * 20, np.uint8)).save(frames / f"{fid:06d}.jpg")
    a = rect(h, w, 1, 1, 4, 4)
    data = {
        "categories": [{"id": 3, "name": "car"}],
        "videos": [{"id": 1, "name": "seqA"}, {"id": 2, "name": "seqB"}],
        "images": [  # listed out of order: frames follow frame_id
            {
                "id": 12,
                "video_id": 1,
                "frame_id": 10,
                "file_name": "seqA/000010.jpg",
                "width": w,
                "height": h,
            },
            {"id": 10, "video_id": 1, "frame_id": 0, "file_name": "seqA/000000.jpg", "width": w, "height": h},
            {"id": 11, "video_id": 1, "frame_id": 5, "file_name": "seqA/000005.jpg", "width": w, "height": h},
            {"id": 20, "video_id": 2, "frame_id": 0, "file_name": "seqB/0.jpg", "width": 8, "height": 6},
        ],
        "annotations": [
            {"id": 1, "image_id": 10, "instance_id": 40, "category_id": 3, "segmentation": _compressed(a)},
            {"id": 2, "image_id": 11, "instance_id": 40, "category_id": 3, "segmentation": _uncompressed(a)},
            {"id": 3, "image_id": 12, "instance_id": 40, "category_id": 3, "bbox": [1, 2, 3, 4]},
            {
                "id": 4,
                "image_id": 11,
                "instance_id": 9,
                "category_id": 3,
                "segmentation": [[6, 6, 10, 6, 10, 9]],
            },
            {"id": 5, "image_id": 20, "instance_id": 1, "category_id": 3, "iscrowd": 1, "bbox": [0, 0, 2, 2]},
        ],
    }
    path = tmp_path / "cocovid.json"
    path.write_text(json.dumps(data))
    with pytest.warns(RuntimeWarning, match="seqB/0.jpg not found"):
        ds = read_coco(path, images=tmp_path / "data", progress=False)
    assert ds.sequence_ids() == ["seqA", "seqB"]
    assert ds.frame_source("seqA") is not None and ds.frame_source("seqB") is None
    assert ds.frame("seqA", 1)[0, 0, 0] == pytest.approx(100, abs=2)  # frame_id 5
    # instances named by rank in the video: instance 9 is "1", instance 40 is "2"
    assert [ds.entity(e)["name"] for e in ds.entity_ids("seqA")] == ["1", "2"]
    np.testing.assert_array_equal(ds.mask("seqA", 0, "2"), a)
    np.testing.assert_array_equal(ds.mask("seqA", 1, "2"), a)
    assert ds.mask("seqA", 2, "2") is None and ds.box("seqA", 2, "2") == (1.0, 2.0, 3.0, 4.0)
    assert ds.mask_frames("seqA", "1") == [1]
    seq_b = ds.entity("1", "seqB")
    assert seq_b["void"] and seq_b["category"] == "car" and ds.box("seqB", 0, "1") == (0.0, 0.0, 2.0, 2.0)
    assert ds.frame_uri("seqB", 0) == "seqB/0.jpg"


def _existing() -> vl.Dataset:
    ds = vl.Dataset()
    seq = ds.add_sequence("other", num_frames=2, width=8, height=8)
    ds.set_mask(seq, 0, ds.add_entity(seq), np.eye(8, dtype=bool))
    return ds


def _damage(data: dict[str, Any], case: str) -> tuple[Any, str]:
    """A broken copy of the YouTube-VIS file; returns it with a regex the error must match."""
    ann = data["annotations"]
    if case == "top_list":
        return [data], "JSON object"
    if case == "no_videos":
        del data["videos"]
        return data, "neither YouTube-VIS"
    if case == "unknown_video":
        ann[1]["video_id"] = 99
        return data, r"annotations\[1\].*unknown video_id 99"
    if case == "unknown_category":
        ann[0]["category_id"] = 5
        return data, r"annotations\[0\].*unknown category_id 5"
    if case == "short_uncompressed":
        ann[0]["segmentations"][1]["counts"] = ann[0]["segmentations"][1]["counts"][:-1]
        return data, r"annotations\[0\].*add up to"
    if case == "short_compressed":
        ann[0]["segmentations"][0]["counts"] = ann[0]["segmentations"][0]["counts"][:-2]
        return data, r"annotations\[0\]"
    if case == "wrong_size":
        ann[0]["segmentations"][0]["size"] = [4, 4]
        return data, r"annotations\[0\].*does not match the frame size"
    if case == "frames_count":
        ann[1]["segmentations"] = ann[1]["segmentations"][:3]
        return data, r"annotations\[1\].*4 \(one per frame\), got 3"
    if case == "missing_key":
        del data["videos"][0]["width"]
        return data, r"videos\[0\].*width"
    if case == "bad_polygon":
        ann[1]["segmentations"][1] = [[1, 2, 3]]
        return data, r"annotations\[1\].*polygon"
    raise AssertionError(case)


CASES = [
    "not_json",
    "top_list",
    "no_videos",
    "unknown_video",
    "unknown_category",
    "short_uncompressed",
    "short_compressed",
    "wrong_size",
    "frames_count",
    "missing_key",
    "bad_polygon",
    "cocovid_unknown_image",
]


@pytest.mark.parametrize("case", CASES)
def test_read_coco_bad_input_names_the_file_and_leaves_a_dataset_unchanged(tmp_path: Path, case: str):
    path, _ = youtube_vis_file(tmp_path)
    if case == "not_json":
        path.write_text("{nope")
        pattern = "not JSON"
    elif case == "cocovid_unknown_image":
        images = [{"id": 1, "video_id": 1, "frame_id": 0, "file_name": "a.jpg", "width": 4, "height": 4}]
        anns = [{"id": 1, "image_id": 2, "instance_id": 1, "bbox": [0, 0, 1, 1]}]
        path.write_text(json.dumps({"images": images, "annotations": anns}))
        pattern = r"annotations\[0\].*unknown image_id 2"
    else:
        data, pattern = _damage(json.loads(path.read_text()), case)
        path.write_text(json.dumps(data))
    ds = _existing()
    before, history = ds.tables(), ds.history()
    with pytest.raises(vl.ValidationError, match=pattern) as err:
        read_coco(path, dataset=ds, progress=False)
    assert str(path) in str(err.value)
    after = ds.tables()
    assert all(before[n].equals(after[n]) for n in before) and ds.history() == history


def test_read_coco_refuses_image_paths_outside_the_images_folder(tmp_path: Path):
    path, _ = youtube_vis_file(tmp_path)
    data = json.loads(path.read_text())
    data["videos"][0]["file_names"][2] = "../../etc/00002.jpg"
    path.write_text(json.dumps(data))
    with pytest.raises(vl.ValidationError, match="leads outside the images folder"):
        read_coco(path, images=tmp_path, progress=False)
    assert (
        read_coco(path, progress=False).frame_uri("vid", 2) == "../../etc/00002.jpg"
    )  # no images: only a name


def test_read_coco_into_a_dataset_is_one_undo_step(tmp_path: Path):
    path, _ = youtube_vis_file(tmp_path)
    ds = _existing()
    n = len(ds.history())
    read_coco(path, dataset=ds, progress=False)
    assert ds.sequence_ids() == ["other", "vid"] and len(ds.history()) == n + 1
    ds.undo()
    assert ds.sequence_ids() == ["other"]


def test_read_coco_custom_fields_must_be_declared_by_a_given_dataset(tmp_path: Path):
    file = write_coco(build(), tmp_path / "vis.json")
    with pytest.raises(vl.ValidationError, match=r"sequences field\(s\) weather \(string\)"):
        read_coco(file, dataset=vl.Dataset(), progress=False)
    ds = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"difficulty": pa.int32()},
        state_fields={"occluded": pa.bool_()},
    )
    read_coco(file, dataset=ds, progress=False)
    assert ds.sequence("nopix")["weather"] == "rain"


def test_read_cocovid_without_instance_ids_gives_one_entity_per_annotation(tmp_path: Path):
    images = [
        {"id": i, "video_id": 1, "frame_id": i, "file_name": f"v/{i}.jpg", "width": 8, "height": 8}
        for i in range(2)
    ]
    anns = [
        {"id": 1, "image_id": 0, "category_id": 1, "bbox": [1, 1, 2, 2]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [2, 2, 2, 2], "instance_id": None},
    ]
    path = tmp_path / "det.json"
    path.write_text(
        json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]})
    )
    ds = read_coco(path, progress=False)
    assert ds.sequence_ids() == ["video1"]
    assert [ds.entity(e)["name"] for e in ds.entity_ids("video1")] == ["1", "2"]
    assert ds.box("video1", 0, "1") == (1.0, 1.0, 2.0, 2.0) and ds.box("video1", 1, "2") == (
        2.0,
        2.0,
        2.0,
        2.0,
    )


def test_coco_export_of_an_entity_with_more_than_255_masks(tmp_path: Path):
    # areas come from pycocotools in lists of at most 255: longer lists overflow its uint8 array
    ds = vl.Dataset()
    seq = ds.add_sequence("long", num_frames=300, width=20, height=10)
    e = ds.add_entity(seq)
    ds.set_masks(seq, e, {f: rect(10, 20, 0, 0, 1 + f % 10, 1 + f % 20) for f in range(300)})
    data = json.loads(write_coco(ds, tmp_path / "long.json").read_text())
    (ann,) = data["annotations"]
    assert ann["areas"] == [(1 + f % 10) * (1 + f % 20) for f in range(300)]
    assert ann["bboxes"][299] == [0.0, 0.0, float(1 + 299 % 20), float(1 + 299 % 10)]
    assert_round_trip(ds, vl.read_coco(tmp_path / "long.json", progress=False))


def test_exports_and_imports_leave_the_garbage_collector_as_they_found_it(tmp_path: Path):
    import gc

    ds = build()
    for enabled in (True, False):
        gc.enable() if enabled else gc.disable()
        try:
            file = write_coco(ds, tmp_path / f"{enabled}.json")
            read_coco(file, progress=False)
            write_youtube_vos(ds, tmp_path / f"y{enabled}", progress=False)
            (tmp_path / "bad.json").write_text('{"videos": [{"id": 1}]}')
            with pytest.raises(vl.ValidationError):
                read_coco(tmp_path / "bad.json", progress=False)
            assert gc.isenabled() == enabled
        finally:
            gc.enable()
