"""DAVIS export, and what every export shares: refusing to overwrite, atomic swaps, name checks.

``build`` (a dataset made of moving shapes) and ``assert_round_trip`` are used by the COCO and
YouTube-VOS tests too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from conftest import disc
from PIL import Image

import vidlabel as vl
from vidlabel.io import atomic, davis_export
from vidlabel.io.atomic import MARKER
from vidlabel.io.coco import write_coco
from vidlabel.io.davis import OBJECTS_FILE, read_davis
from vidlabel.io.davis_export import write_davis
from vidlabel.io.youtube_vos import write_youtube_vos
from vidlabel.palette import davis_palette

H, W, N = 40, 56, 8
H2, W2, N2 = 30, 50, 10


def rect(h: int, w: int, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def build(*, overlap: bool = False) -> vl.Dataset:
    """Two sequences: "clip" with pixels (a disc with a gap, a rectangle, a void strip, boxes, a state)
    and "nopix" without pixels (two rectangles, one appearing late)."""
    ds = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"difficulty": pa.int32()},
        state_fields={"occluded": pa.bool_()},
    )
    yy, xx = np.mgrid[:H, :W]
    frames = np.stack([np.stack([4 * xx + t, 5 * yy, xx + yy + 20 * t], -1) for t in range(N)])
    clip = ds.add_sequence("clip", frames=frames.astype(np.uint8), fps=12, split="train", weather="sun")
    car = ds.add_entity(clip, "car", category="car", difficulty=2)
    person = ds.add_entity(clip, "person", color="#ff8800")
    void = ds.add_entity(clip, "ignore", void=True)
    for f in (0, 1, 2, 5, 6, 7):  # a gap on frames 3 and 4
        ds.set_mask(clip, f, car, disc(H, W, 12, 8 + 4 * f, 6))
    ds.set_mask(clip, 6, car, disc(H, W, 12, 33, 7), source="sam2", score=0.75, keyframe=False)
    for f in range(2, 7):
        ds.set_mask(clip, f, person, rect(H, W, 24, 4 + 2 * f, 36, 16 + 2 * f))
    if overlap:
        ds.set_mask(clip, 2, person, rect(H, W, 8, 10, 30, 30))  # over the car's disc
    ds.set_mask(clip, 0, void, rect(H, W, 0, 0, 2, W))
    ds.set_mask(clip, 1, void, rect(H, W, 0, 0, 3, W))
    ds.set_box(clip, 0, car, (2.5, 6.0, 12.0, 12.0))
    ds.set_box(clip, 2, car, (10.5, 6.0, 12.25, 12.0))  # frame 1 gets an interpolated box
    ds.set_box(clip, 7, person, (20.0, 24.0, 12.0, 12.0))  # a box with no mask
    ds.set_state(clip, 5, car, occluded=True)
    nopix = ds.add_sequence("nopix", num_frames=N2, width=W2, height=H2, split="val", weather="rain")
    a = ds.add_entity(nopix, category="dog")
    b = ds.add_entity(nopix, category="cat")
    for f in range(N2):
        ds.set_mask(nopix, f, a, rect(H2, W2, 2, 2 + f, 12, 14 + f))
    for f in range(5, N2):
        ds.set_mask(nopix, f, b, rect(H2, W2, 16, 30 - f, 28, 44 - f))
    ds.clear_history()
    return ds


def spans(ds: vl.Dataset, seq: str, entity: str) -> list[tuple[int, int]]:
    return [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, entity)]


def _comparable(ds: vl.Dataset, name: str) -> pa.Table:
    """A table with what differs between equal datasets dropped: tracklet ids (numbered as the tracklets
    were made) and where the pixels come from."""
    table = ds.table(name)
    if name == "tracklets":
        return table.drop(["id"]).sort_by([("entity_id", "ascending"), ("start_frame", "ascending")])
    if name in ("masks", "boxes", "states"):
        return table.drop(["tracklet_id"])
    if name == "sequences":
        return table.drop(["source_uri", "source_kind"])
    return table


def assert_round_trip(a: vl.Dataset, b: vl.Dataset) -> None:
    """Same sequences, entities (ids, names, categories, order, fields), masks pixel for pixel, boxes,
    states and tracklet spans."""
    assert a.sequence_ids() == b.sequence_ids()
    for seq in a.sequence_ids():
        assert a.entity_ids(seq) == b.entity_ids(seq)
        for f in range(a.num_frames(seq)):
            assert a.rles(seq, f) == b.rles(seq, f)
        for eid in a.entity_ids(seq):
            assert spans(a, seq, eid) == spans(b, seq, eid)
    for name in ("sequences", "entities", "tracklets", "masks", "boxes", "states"):
        assert _comparable(a, name).equals(_comparable(b, name)), f"table {name} differs"


def labels_of(ds: vl.Dataset, seq: str, f: int) -> np.ndarray:
    """The DAVIS labels expected for a frame without overlaps: objects 1..N, void 255."""
    row = ds.sequence(seq)
    lab = np.zeros((row["height"], row["width"]), np.uint8)
    k = 0
    for eid in ds.entity_ids(seq):
        void = ds.entity(eid)["void"]
        k += not void
        m = ds.mask(seq, f, eid)
        if m is not None:
            lab[m] = 255 if void else k
    return lab


# ---------------------------------------------------------------------- DAVIS
def test_davis_export_reads_as_the_official_evaluation_does(tmp_path: Path):
    ds = build()
    out = write_davis(ds, tmp_path / "DAVIS", progress=False)
    pal = davis_palette().tobytes()
    for seq, n in (("clip", N), ("nopix", N2)):
        pngs = sorted((out / "Annotations" / "480p" / seq).iterdir())
        assert [p.name for p in pngs] == [f"{f:05d}.png" for f in range(n)]  # every frame, empty or not
        for f, png in enumerate(pngs):
            with Image.open(png) as im:
                assert im.mode == "P" and bytes(im.getpalette()) == pal
                labels = np.array(im)  # what davis2017-evaluation does
            np.testing.assert_array_equal(labels, labels_of(ds, seq, f))
    with Image.open(out / "Annotations" / "480p" / "clip" / "00000.png") as im:
        first = np.unique(np.array(im))
    assert first.tolist() == [0, 1, 255]  # objects of the first frame: the car (1); person (2) starts later
    jpgs = sorted((out / "JPEGImages" / "480p" / "clip").iterdir())
    assert [p.name for p in jpgs] == [f"{f:05d}.jpg" for f in range(N)]
    with Image.open(jpgs[3]) as im:
        assert im.format == "JPEG" and im.size == (W, H)
        assert np.abs(np.asarray(im, np.int16) - ds.frame("clip", 3)).mean() < 3
    assert not (out / "JPEGImages" / "480p" / "nopix").exists()  # no pixels, no JPEGs
    assert (out / "ImageSets" / "2017" / "train.txt").read_text() == "clip\n"
    assert (out / "ImageSets" / "2017" / "val.txt").read_text() == "nopix\n"


def test_davis_round_trip(tmp_path: Path):
    ds = build()
    out = write_davis(ds, tmp_path / "DAVIS", sequences=["clip"], progress=False)
    back = read_davis(out, progress=False)
    assert back.sequence_ids() == ["clip"] and back.sequence("clip")["split"] == "train"
    assert [(back.entity(e)["name"], back.entity(e)["void"]) for e in back.entity_ids("clip")] == [
        ("car", False),  # object 1: names travel in vidlabel.json
        ("person", False),
        ("ignore", True),
    ]
    for src, dst in zip(ds.entity_ids("clip"), back.entity_ids("clip")):
        for f in range(N):
            assert ds.rle("clip", f, src) == back.rle("clip", f, dst)
        # DAVIS holds no tracklets: read back they are the runs of frames with a mask
        frames = ds.mask_frames("clip", src)
        runs = [(s, e) for s, e in _runs(frames)]
        assert spans(back, "clip", dst) == runs
    # JPEG frame files pass through untouched on a second export
    again = write_davis(back, tmp_path / "again", progress=False)
    for f in range(N):
        name = f"JPEGImages/480p/clip/{f:05d}.jpg"
        assert (again / name).read_bytes() == (out / name).read_bytes()


def _runs(frames: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for f in frames:
        if out and out[-1][1] == f - 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def test_davis_overlaps_the_higher_object_id_wins_and_objects_win_over_void(tmp_path: Path):
    ds = vl.Dataset()
    seq = ds.add_sequence("s", num_frames=1, width=8, height=6)
    a, void, b = ds.add_entity(seq), ds.add_entity(seq, void=True), ds.add_entity(seq)  # "1", "2", "3"
    ds.set_mask(seq, 0, a, rect(6, 8, 0, 0, 4, 4))
    ds.set_mask(seq, 0, void, rect(6, 8, 0, 0, 6, 8))
    ds.set_mask(seq, 0, b, rect(6, 8, 2, 2, 6, 6))
    with pytest.warns(RuntimeWarning, match="2 masks overlap"):
        out = write_davis(ds, tmp_path / "D", progress=False)
    labels = np.array(Image.open(out / "Annotations" / "480p" / "s" / "00000.png"))
    want = np.full((6, 8), 255, np.uint8)
    want[:4, :4] = 1
    want[2:6, 2:6] = 3  # entity "3" keeps its DAVIS id
    np.testing.assert_array_equal(labels, want)


def moving(ds: vl.Dataset, seq: str, entity: str, k: int) -> None:
    """Masks of entity ``k`` on each frame of a 16x40 sequence: disjoint from the other k."""
    for f in range(ds.num_frames(seq)):
        ds.set_mask(seq, f, entity, rect(16, 40, 2 + f, 6 * k, 8 + f, 6 * k + 4))


def test_davis_export_keeps_the_ids_of_numbered_entities(tmp_path: Path):
    from vidlabel.metrics import evaluate

    ds = vl.Dataset()
    seq = ds.add_sequence("s", frames=np.zeros((5, 16, 40, 3), np.uint8))
    for k in (1, 2, 3):
        moving(ds, seq, ds.add_entity(seq), k)  # named "1", "2", "3"
    ds.remove_entity(seq, "2")
    out = ds.to_davis(tmp_path / "D", progress=False)
    with Image.open(out / "Annotations" / "480p" / "s" / "00000.png") as im:
        assert np.unique(np.array(im)).tolist() == [0, 1, 3]  # "3" is still object 3
    for names_file in (True, False):  # read by vidlabel, or by a tool that knows only the PNGs
        if not names_file:
            (out / OBJECTS_FILE).unlink()
        back = read_davis(out, progress=False)
        assert [back.entity(e)["name"] for e in back.entity_ids("s")] == ["1", "3"]
        for name in ("1", "3"):
            for f in range(5):
                assert back.rle("s", f, back.entity(name, "s")["id"]) == ds.rle(
                    "s", f, ds.entity(name, "s")["id"]
                )
        ev = evaluate(back, ds)
        assert ev.summary["J&F-Mean"] == 1.0
        assert ev.matches == {"s_1": ("1", "1"), "s_2": (None, None), "s_3": ("3", "3")}


def test_davis_round_trip_gives_back_other_names(tmp_path: Path):
    from vidlabel.metrics import evaluate

    ds = vl.Dataset()
    seq = ds.add_sequence("s", frames=np.zeros((5, 16, 40, 3), np.uint8))
    for k, name in enumerate(("car", "5", "dog"), start=1):
        moving(ds, seq, ds.add_entity(seq, name), k)
    void = ds.add_entity(seq, "ignore", void=True)
    ds.set_mask(seq, 0, void, rect(16, 40, 0, 0, 1, 40))
    out = ds.to_davis(tmp_path / "D", progress=False)
    with Image.open(out / "Annotations" / "480p" / "s" / "00001.png") as im:
        labels = np.array(im)
    for name, value in (("car", 1), ("5", 5), ("dog", 2)):  # "5" keeps its id, the others take 1, 2
        np.testing.assert_array_equal(labels == value, ds.mask(seq, 1, ds.entity(name, seq)["id"]))
    assert json.loads((out / OBJECTS_FILE).read_text())["sequences"]["s"] == {
        "objects": {"1": "car", "2": "dog", "5": "5"},
        "void": ["ignore"],
    }
    back = read_davis(out, progress=False)
    got = [(back.entity(e)["name"], back.entity(e)["void"]) for e in back.entity_ids("s")]
    assert got == [("car", False), ("dog", False), ("5", False), ("ignore", True)]
    for name in ("car", "dog", "5", "ignore"):
        for f in range(5):
            assert back.rle("s", f, back.entity(name, "s")["id"]) == ds.rle(
                "s", f, ds.entity(name, "s")["id"]
            )
    ev = evaluate(back, ds)
    assert ev.summary["J&F-Mean"] == 1.0
    assert ev.matches == {
        f"s_{k}": m
        for k, m in (
            (1, ("car",) * 2),
            (2, ("dog",) * 2),
            (3, (None, None)),
            (4, (None, None)),
            (5, ("5",) * 2),
        )
    }
    # read by the PNGs alone, objects are named by their ids: matching "1" with "car" would be a guess
    (out / OBJECTS_FILE).unlink()
    foreign = read_davis(out, progress=False)
    with pytest.raises(
        vl.ValidationError, match=r"ambiguous match: prediction entity '1' is DAVIS id 1, .*'car'"
    ):
        evaluate(foreign, ds)
    foreign.rename_entity("s", "1", "cat")
    with pytest.raises(vl.ValidationError, match="'cat' matches no ground-truth entity by name"):
        evaluate(foreign, ds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "cannot be read as JSON"),
        ('{"sequences": []}', "expected"),
        (
            '{"sequences": {"clip": {"objects": {"1": "2"}, "void": []}}}',
            "object 1 is named '2', another DAVIS id",
        ),
        ('{"sequences": {"clip": {"objects": {"0": "car"}, "void": []}}}', "object '0'"),
        (
            '{"sequences": {"clip": {"objects": {"1": "a", "2": "a"}, "void": []}}}',
            "two objects share a name",
        ),
    ],
)
def test_read_davis_trusts_no_names_file(tmp_path: Path, text: str, message: str):
    out = write_davis(build(), tmp_path / "D", sequences=["clip"], progress=False)
    (out / OBJECTS_FILE).write_text(text)
    with pytest.raises(vl.ValidationError, match=message) as info:
        read_davis(out, progress=False)
    assert OBJECTS_FILE in str(info.value)


def test_davis_options_and_refusals(tmp_path: Path):
    ds = build()
    out = write_davis(ds, tmp_path / "D", resolution="Full-Resolution", images=False, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "Annotations", "ImageSets", OBJECTS_FILE]
    assert (out / "Annotations" / "Full-Resolution" / "clip" / "00000.png").is_file()
    with pytest.raises(vl.ValidationError, match="'ghost'"):
        write_davis(ds, tmp_path / "D2", sequences=["ghost"], progress=False)
    with pytest.raises(vl.ValidationError, match="resolution"):
        write_davis(ds, tmp_path / "D2", resolution="../up", progress=False)
    many = vl.Dataset()
    seq = many.add_sequence("s", num_frames=1, width=4, height=4)
    for _ in range(255):
        many.add_entity(seq)
    with pytest.raises(vl.ValidationError, match="at most 254"):
        write_davis(many, tmp_path / "D2", progress=False)
    assert not (tmp_path / "D2").exists()


WRITERS: dict[str, Any] = {
    "davis": lambda ds, path, **kw: write_davis(ds, path, progress=False, **kw),
    "youtube_vos": lambda ds, path, **kw: write_youtube_vos(ds, path, progress=False, **kw),
    "coco": lambda ds, path, **kw: write_coco(ds, path, **kw),
}


@pytest.mark.parametrize("fmt", WRITERS)
@pytest.mark.parametrize("name", ["a/b", "..", "x\\y"])
def test_exports_refuse_sequence_names_that_are_not_folder_names(tmp_path: Path, fmt: str, name: str):
    ds = vl.Dataset()
    ds.add_sequence(name, num_frames=1, width=4, height=4)
    with pytest.raises(vl.ValidationError, match="cannot be a folder name"):
        WRITERS[fmt](ds, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", WRITERS)
def test_exports_refuse_two_sequences_of_one_name(tmp_path: Path, fmt: str):
    ds = vl.Dataset()
    ds.add_sequence("same", num_frames=1, width=4, height=4, id="one")
    ds.add_sequence("same", num_frames=1, width=4, height=4, id="two")
    with pytest.raises(vl.ValidationError, match="two sequences are named 'same'"):
        WRITERS[fmt](ds, tmp_path / "out")


@pytest.mark.parametrize("fmt", WRITERS)
def test_exports_replace_a_previous_export_only_with_overwrite(tmp_path: Path, fmt: str):
    ds = build()
    out = tmp_path / "out"
    WRITERS[fmt](ds, out)
    before = out.read_bytes() if fmt == "coco" else (out / atomic.MARKER).read_bytes()
    with pytest.raises(vl.ValidationError, match=r"exists and is not empty; pass overwrite=True"):
        WRITERS[fmt](ds, out)
    assert (out.read_bytes() if fmt == "coco" else (out / atomic.MARKER).read_bytes()) == before
    ds.remove_entity("clip", "person")
    WRITERS[fmt](ds, out, overwrite=True)
    if fmt == "coco":
        assert len(json.loads(out.read_text())["annotations"]) == 4  # 5 entities less the person
    else:
        assert (out / "Annotations").is_dir() and (out / atomic.MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp or old sibling left
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.json").write_bytes(b"")
    WRITERS[fmt](ds, tmp_path / "empty" if fmt != "coco" else tmp_path / "empty.json")  # empty: fine


def test_coco_export_refuses_a_folder(tmp_path: Path):
    with pytest.raises(vl.ValidationError, match="is a folder"):
        write_coco(build(), tmp_path, overwrite=True)


@pytest.mark.parametrize("fmt", WRITERS)
def test_an_export_failing_midway_leaves_the_old_content_and_no_temp(tmp_path: Path, fmt: str, monkeypatch):
    ds = build()
    out = tmp_path / ("out.json" if fmt == "coco" else "out")
    WRITERS[fmt](ds, out)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    calls = []
    if fmt == "coco":
        import vidlabel.io.coco as coco

        real = coco._annotation

        def flaky(*args: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return real(*args)

        monkeypatch.setattr(coco, "_annotation", flaky)
    else:
        real_png = davis_export.write_index_png

        def flaky_png(path: Path, labels: np.ndarray) -> None:
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            real_png(path, labels)

        monkeypatch.setattr(davis_export, "write_index_png", flaky_png)
    ds.set_mask("clip", 3, "person", rect(H, W, 0, 0, 5, 5))  # the new export would differ
    with pytest.raises(OSError, match="disk full"):
        WRITERS[fmt](ds, out, overwrite=True)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.parametrize("fmt", ["coco", "youtube_vos"])
def test_round_trip_restores_merged_split_and_extended_tracklets(tmp_path: Path, fmt: str):
    from vidlabel.io.coco import read_coco
    from vidlabel.io.youtube_vos import read_youtube_vos

    ds = build()
    ds.set_box("clip", 6, "car", (30.0, 5.0, 14.0, 14.0))
    first, second = ds.tracklets("clip", "car")
    ds.merge_tracklets(first["id"], second["id"])  # one tracklet bridging the gap on frames 3 and 4
    assert ds.box("clip", 4, "car") is not None  # boxes are interpolated across the gap now
    person = ds.tracklets("clip", "person")[0]
    later = ds.split_tracklet(person["id"], 4)  # two tracklets that touch
    ds.set_tracklet_interpolation(later, False)
    ds.set_tracklet_span(ds.tracklets("nopix", "2")[0]["id"], 3, 9)  # reaches over frames with no mask
    assert spans(ds, "clip", "car") == [(0, 7)] and spans(ds, "clip", "person") == [(2, 3), (4, 7)]
    if fmt == "coco":
        back = read_coco(write_coco(ds, tmp_path / "vis.json"), progress=False)
    else:
        back = read_youtube_vos(write_youtube_vos(ds, tmp_path / "y", progress=False), progress=False)
    assert spans(back, "clip", "car") == [(0, 7)]
    assert spans(back, "clip", "person") == [(2, 3), (4, 7)]
    assert [t["interpolate"] for t in back.tracklets("clip", "person")] == [True, False]
    assert spans(back, "nopix", "2") == [(3, 9)]
    assert_round_trip(ds, back)
