"""Mask clean-up as dataset edits: per-mask morphology (``clean_masks``) and temporal smoothing
(``smooth_masks``), the post-processing of a segmentation pipeline, each call one undo step.

Mixed into Dataset. Both validate everything first, compute every new mask from the version they
start from, then write only the masks that changed in one transaction: a refused call, or one that
changes nothing, leaves no undo step. A changed mask keeps its score, keyframe flag and tracklet;
its ``source`` becomes the operation's (``"clean"``, ``"smooth"``, or the ``source=`` given), so
the table says what made the pixels. A mask that comes out empty is removed (the tracklets are
trimmed as for any erase). Keyframe masks (``keyframe=True``, what a person set) are left alone
unless ``keyframes=True``.

Cost: each mask is decoded once and encoded once if it changed. Cleaning works on a crop around
the mask's box (exact: see ``_clean_one``); smoothing keeps a running per-pixel sum over the
window, adding the mask that enters and subtracting the one that leaves, so it is linear in the
frames whatever the window, and with ``frames=`` it reads only the masks within the window of
those frames.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import rle as rlemod
from .annotations import AnnotationsMixin
from .core import writes
from .errors import ValidationError
from .naming import natural_key

__all__ = ["CleanupMixin"]

Edit = tuple[tuple[str, int, str], bytes | None]  # (mask key, new counts or None to remove)
# what a computation read: mask key -> (counts, keyframe) or None, (None, seq, entity) -> its mask keys
Deps = dict[tuple[Any, ...], Any]


class CleanupMixin(AnnotationsMixin):
    """``clean_masks`` and ``smooth_masks``, built on the per-frame mask edits."""

    def clean_masks(
        self,
        seq: str,
        entities: str | Iterable[str] | None = None,
        frames: int | Iterable[int] | None = None,
        *,
        min_area: int = 64,
        fill_holes: int = 64,
        radius: int = 1,
        keyframes: bool = False,
        source: str = "clean",
    ) -> int:
        """Tidy each mask on its own; returns how many masks changed (rewritten or removed).

        In this order, each step skipped at 0:

        - ``radius``: a morphological opening (erode, then dilate) by a disc of ``radius``
          pixels (OpenCV's ellipse in a ``2 * radius + 1`` square; radius 1 is the 3x3 cross)
          removes spurs, thin bridges and specks the disc does not fit in: at radius 1,
          one-pixel-wide lines, and the corner pixel of a square corner.
        - ``min_area``: connected components (8-connected) smaller than ``min_area`` pixels go.
        - ``fill_holes``: holes (4-connected background enclosed by the mask, not reaching the
          frame's edge) of fewer than ``fill_holes`` pixels are filled. The background is
          4-connected so that an outline closed by diagonal steps encloses its hole.

        ``entities``: an entity (id or name), several, or None for every entity of the sequence
        but void ones (DAVIS void regions are not objects; name one to clean it). ``frames``: a
        frame, several, or None for all. ``keyframes=True`` cleans keyframe masks too.
        ``source``: what changed masks are marked as made by.

        The masks are read and cleaned without holding the writer's lock (other edits go on
        meanwhile); a mask another edit changed in between is cleaned again from its new pixels.
        Masks added meanwhile are not part of the call.
        """

        def compute(deps: Deps) -> tuple[str, list[Edit]]:
            seq_id, eids, wanted = self._cleanup_scope(seq, entities, frames, "clean_masks")
            h, w = self._size(seq_id)
            r = _count("clean_masks", "radius", radius, most=max(h, w))
            small = _count("clean_masks", "min_area", min_area)
            holes = _count("clean_masks", "fill_holes", fill_holes)
            _check_flags("clean_masks", keyframes, source)
            from .morphology import tidy  # here: OpenCV loads on first use, `import vidlabel` stays light

            store = self._tables["masks"]
            edits: list[Edit] = []
            for eid in eids:
                # With frames given, their keys are looked up directly: the cost follows the frames, not
                # the entity's whole track.
                if wanted is None:
                    keys = sorted(store.lookup("by_entity", (seq_id, eid)))
                else:
                    keys = [(seq_id, f, eid) for f in sorted(wanted)]
                for key, found in zip(keys, store.values_many(keys, ("counts", "keyframe"))):
                    deps[key] = found
                    if found is None:  # no mask on that frame
                        continue
                    counts, keyframe = found
                    if keyframe and not keyframes:
                        continue
                    new = _clean_one({"size": [h, w], "counts": counts}, tidy, r, small, holes)
                    if new is not _SAME:
                        edits.append((key, new))
            return seq_id, edits

        return self._compute_then_write(compute, source, "clean")

    def smooth_masks(
        self,
        seq: str,
        entities: str | Iterable[str] | None = None,
        frames: int | Iterable[int] | None = None,
        *,
        window: int = 2,
        fill_gaps: bool = False,
        keyframes: bool = False,
        source: str = "smooth",
    ) -> int:
        """Smooth each entity's masks in time by a majority vote over frames t - window .. t + window
        (clipped at the sequence's ends); returns how many masks changed (written or removed).

        The vote has two parts. Presence: the entity is on frame t if it has a mask on more than
        half the window's frames (a tie goes to what frame t has), so frames without a mask
        count as empty and a blob on one frame goes; a one-frame gap would be filled, and is
        with ``fill_gaps=True`` (below). Shape: where it is present, a pixel is set if more than
        half of the window's masks set it (a tie goes to frame t's own mask; none on a gap). The
        shape is voted by the masks there are, not by empty frames, so a tracklet's first and
        last masks are not cut down to what their neighbours share. A tracklet never grows past
        its ends (a frame just outside one, with no other tracklet near, has masks on at most
        ``window`` of its ``2 * window + 1`` frames), except within ``window`` frames of the
        sequence's ends, where the window is shorter (with ``fill_gaps=True``); an end with a gap
        close to it can go, as a short appearance does.

        ``fill_gaps``: by default a frame without a mask is never written: the vote reshapes and
        removes masks, it does not create them. A frame without a mask may be one a person erased
        on purpose (the object hidden for a frame), and nothing stored tells that apart from a
        frame a model missed, so filling it is asked for: ``fill_gaps=True`` writes the vote on
        such frames too, and then re-fills an erased frame whose neighbours hold the object (to
        keep it, leave it out of ``frames``, or undo). It suits a model's output that no person
        has edited yet. This is the keyframe rule applied to erasures: what a person may have
        done is left alone unless asked.

        Every vote reads the masks as they were before the call (keyframes among them), also on
        frames outside ``frames``, which only limits the frames written; only masks within
        ``window`` frames of those written are read, so the cost follows ``frames``, not the
        sequence's length. ``entities`` and ``keyframes`` as in ``clean_masks``; masks written
        where there was none are ``keyframe=False`` with no score. As with ``clean_masks``, the
        votes are computed without the writer's lock, and again under it if another edit changed a
        mask they read.
        """

        def compute(deps: Deps) -> tuple[str, list[Edit]]:
            seq_id, eids, wanted = self._cleanup_scope(seq, entities, frames, "smooth_masks")
            if (
                isinstance(window, (bool, np.bool_))
                or not isinstance(window, (int, np.integer))
                or window < 1
            ):
                raise ValidationError(f"smooth_masks: window must be an integer >= 1, got {window!r}")
            _check_flags("smooth_masks", keyframes, source)
            if not isinstance(fill_gaps, (bool, np.bool_)):
                raise ValidationError(f"smooth_masks: fill_gaps must be a bool, got {fill_gaps!r}")
            n = len(self._tables.frame_info(seq_id).uris)
            size = self._size(seq_id)
            w = int(window)
            out = sorted(wanted) if wanted is not None else range(n)
            near: list[int] | None = None  # the frames the votes read, when not all of them
            if wanted is not None:
                near = sorted({g for t in out for g in range(max(0, t - w), min(n, t + w + 1))})
            store = self._tables["masks"]
            edits: list[Edit] = []
            for eid in eids:
                if near is None:
                    keys = sorted(store.lookup("by_entity", (seq_id, eid)))
                    deps[(None, seq_id, eid)] = frozenset(keys)  # a mask added meanwhile counts
                else:  # look the keys up, not the entity's every mask
                    keys = [(seq_id, g, eid) for g in near]
                found = store.values_many(keys, ("counts", "keyframe"))
                deps.update(zip(keys, found))
                have = {k[1]: v for k, v in zip(keys, found) if v is not None}
                for f, new in _smooth_entity(have, out, n, w, size, bool(keyframes), bool(fill_gaps)):
                    edits.append(((seq_id, f, eid), new))
            return seq_id, edits

        return self._compute_then_write(compute, source, "smooth")

    # ------------------------------------------------------------------ shared parts
    def _compute_then_write(
        self, compute: Callable[[Deps], tuple[str, list[Edit]]], source: str, verb: str
    ) -> int:
        """Run ``compute`` on the newest version without the writer's lock, then write its edits under
        the lock if nothing it read has changed since; otherwise compute again under the lock (rare:
        only when another edit touched those masks meanwhile). Returns the number of masks changed."""
        deps: Deps = {}
        loc = self._local.__dict__
        pins = loc.get("pins")
        loc["pins"] = [self._state]  # the newest version, even inside a caller's `with ds.snapshot():`
        try:
            seq_id, edits = compute(deps)
        finally:
            loc["pins"] = pins if pins is not None else []
        return self._write_computed(compute, deps, seq_id, edits, source, verb)

    @writes
    def _write_computed(
        self,
        compute: Callable[[Deps], tuple[str, list[Edit]]],
        deps: Deps,
        seq_id: str,
        edits: list[Edit],
        source: str,
        verb: str,
    ) -> int:
        if not self._unchanged(deps):
            deps = {}
            seq_id, edits = compute(deps)
        self._apply_cleanup(seq_id, edits, source, f"{verb} {len(edits)} masks")
        return len(edits)

    def _unchanged(self, deps: Deps) -> bool:
        store = self._tables["masks"]
        for key, seen in deps.items():
            if key[0] is None:  # (None, sequence, entity): the entity's mask keys
                if frozenset(store.lookup("by_entity", key[1:])) != seen:
                    return False
            elif store.values_many([key], ("counts", "keyframe"))[0] != seen:
                return False
        return True

    def _cleanup_scope(
        self, seq: Any, entities: Any, frames: Any, what: str
    ) -> tuple[str, list[str], set[int] | None]:
        """The sequence id, the entity ids (void ones only when named) and the frames (None: all)."""
        seq_id = self._seq(seq)
        if entities is None:
            ents = self._tables["entities"]
            keys = ents.lookup("by_sequence", (seq_id,))
            eids = sorted((k[0] for k in keys if not ents.value(k, "void")), key=natural_key)
        elif isinstance(entities, str):
            eids = [self._entity(seq_id, entities)]
        elif isinstance(entities, Iterable) and not isinstance(entities, bytes):
            eids = list(dict.fromkeys(self._entity(seq_id, e) for e in entities))
            if not eids:
                raise ValidationError(f"{what}: entities is empty (None means every entity)")
        else:
            raise ValidationError(
                f"{what}: entities must be an entity, a list of them or None, got {entities!r}"
            )
        if frames is None:
            return seq_id, eids, None
        if isinstance(frames, (int, np.integer)) and not isinstance(frames, (bool, np.bool_)):
            return seq_id, eids, {self._frame(seq_id, frames)}
        if isinstance(frames, (str, bytes)) or not isinstance(frames, Iterable):
            raise ValidationError(
                f"{what}: frames must be a frame index, a range, a list of them or None, got {frames!r}"
            )
        wanted = {self._frame(seq_id, f) for f in frames}
        if not wanted:
            raise ValidationError(f"{what}: frames is empty (None means every frame)")
        return seq_id, eids, wanted

    def _apply_cleanup(self, seq_id: str, edits: list[Edit], source: str, label: str) -> None:
        """Write the changed masks in one transaction: removals first (tracklets trimmed as for any
        erase), then rewrites (same row, new pixels and source) and new masks (tracklets claimed)."""
        if not edits:
            return
        h, w = self._size(seq_id)
        gone: dict[str, list[int]] = {}
        with self.transaction(label):
            for key, counts in edits:
                if counts is None:
                    self._unreview(key, None)  # what a person accepted is no longer there
                    self._put("masks", key, None)
                    gone.setdefault(key[2], []).append(key[1])
            for eid, fs in gone.items():
                self._tracklets.released_many(seq_id, eid, fs)
            store = self._tables["masks"]
            for key, counts in edits:
                if counts is None:
                    continue
                row = store.get(key)
                if row is not None:
                    self._unreview(key, counts)
                    self._put("masks", key, {**row, "counts": counts, "source": source})
                else:
                    meta = {"source": source, "score": None, "keyframe": False}
                    self._write_mask(seq_id, key[1], key[2], {"size": [h, w], "counts": counts}, meta)


_SAME: Any = object()  # what _clean_one gives for a mask it leaves as it is


def _clean_one(
    rle: rlemod.RLE, tidy: Callable[..., np.ndarray], radius: int, min_area: int, hole_area: int
) -> Any:
    """The cleaned mask's counts, None when nothing is left, ``_SAME`` when unchanged.

    The work is done on the mask's box grown by ``radius + 1`` (clipped to the frame), which gives
    exactly the whole frame's answer: the opening never reaches further than ``radius`` from the
    mask, the ring of background keeps components apart as they are, and every pixel outside the
    box is background connected to the frame's edge, so a hole is a hole in the crop as in the
    frame. Pycocotools decodes column-major, so the transposed array is C-contiguous for OpenCV
    (every operation is symmetric under transposition).
    """
    h, w = rle["size"]
    x, y, bw, bh = rlemod.bbox(rle)
    m = radius + 1
    x0, y0 = max(0, int(x) - m), max(0, int(y) - m)
    x1, y1 = min(w, int(x + bw) + m), min(h, int(y + bh) + m)
    full = rlemod.decode(rle)
    t = full.T  # W x H, C-contiguous
    crop = np.ascontiguousarray(t[x0:x1, y0:y1])
    done = tidy(crop, radius=radius, min_area=min_area, hole_area=hole_area)
    if np.array_equal(done, crop):
        return _SAME
    if not done.any():
        return None
    t[x0:x1, y0:y1] = done
    return rlemod.encode(full)["counts"]


def _smooth_entity(
    have: dict[int, Any],
    out: Iterable[int],
    n: int,
    window: int,
    size: list[int],
    keyframes: bool,
    fill_gaps: bool,
) -> Iterable[tuple[int, bytes | None]]:
    """(frame, new counts or None to remove) for each frame of ``out`` whose mask changes.

    ``have``: frame -> (counts, keyframe) of the entity's masks, at least those within ``window``
    of the frames of ``out``. A running sum of the decoded masks in the window follows the
    (ascending) frames: a mask is decoded when it enters the window and dropped when it leaves; a
    jump past the window starts it afresh. How many masks a window holds is a bisection of the
    sorted frames of ``have``, so nothing here grows with ``n`` itself.
    """
    held = sorted(have)
    h, w = size
    dtype = np.min_scalar_type(min(2 * window + 1, n))
    total = np.zeros((h, w), dtype, order="F")
    decoded: dict[int, np.ndarray] = {}
    lo = hi = -1  # the window the sum holds: frames lo..hi (empty at first)

    def enter(f: int) -> None:
        if f in have:
            m = rlemod.decode({"size": size, "counts": have[f][0]})
            decoded[f] = m
            np.add(total, m.view(np.uint8), out=total)

    def leave(f: int) -> None:
        m = decoded.pop(f, None)
        if m is not None:
            np.subtract(total, m.view(np.uint8), out=total)

    for t in out:
        own = have.get(t)
        if own is None and not fill_gaps:
            continue
        if own is not None and own[1] and not keyframes:
            continue
        a, b = max(0, t - window), min(n - 1, t + window)
        present = bisect_right(held, b) - bisect_left(held, a)
        span = b - a + 1
        if 2 * present < span or (2 * present == span and own is None):
            if own is not None:
                yield t, None
            continue
        if a > hi:  # past the window held: start afresh
            total.fill(0)
            decoded.clear()
            lo, hi = a, a - 1
        for f in range(lo, a):
            leave(f)
        for f in range(hi + 1, b + 1):
            enter(f)
        lo, hi = a, b
        half = present // 2
        res = total > half
        if present % 2 == 0 and own is not None:
            res |= (total == half) & decoded[t]
        if own is not None and np.array_equal(res, decoded[t]):
            continue
        if not res.any():
            if own is not None:
                yield t, None
            continue
        yield t, rlemod.encode(res)["counts"]


def _count(what: str, name: str, value: Any, most: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValidationError(f"{what}: {name} must be an integer >= 0, got {value!r}")
    if most is not None and value > most:
        raise ValidationError(f"{what}: {name} {int(value)} is larger than the frame ({most} pixels)")
    return int(value)


def _check_flags(what: str, keyframes: Any, source: Any) -> None:
    if not isinstance(keyframes, (bool, np.bool_)):
        raise ValidationError(f"{what}: keyframes must be a bool, got {keyframes!r}")
    if not isinstance(source, str) or not source:
        raise ValidationError(f"masks.source: expected a non-empty string, got {source!r}")
