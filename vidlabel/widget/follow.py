"""How an open Annotator follows its dataset: edits noted as they happen, sent a moment later at once.

Mixed into :class:`~vidlabel.widget.Annotator`. The dataset's observer only notes what an edit
touched (a few set updates); a flusher thread sends it ``FLUSH_INTERVAL`` later, so a burst of
edits (a cell's loop, a propagation's frames) reaches the browser as one ``changed`` event, and
the track bars are patched from the touched frames only (see ``tracks.py``).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..palette import display_colour, hex_colour
from .tracks import full_track, safe_patch

if TYPE_CHECKING:
    from ..dataset import Change, Dataset
    from .frames import EncodedFrames

log = logging.getLogger("vidlabel.widget")

FLUSH_INTERVAL = 0.05  # seconds: edits (from cells or the worker) are gathered this long, then sent at once
_ANNOTATION_TABLES = ("masks", "boxes", "states")


class DatasetFollower:
    if TYPE_CHECKING:  # provided by Annotator
        _ds: Dataset
        _encoded: EncodedFrames
        _pending: dict[str, Any]
        _pending_lock: threading.Lock
        _flush_lock: threading.RLock
        _flush_due: bool
        _flush_interval: float
        _flusher: threading.Thread | None
        _wake: threading.Event
        _stop: threading.Event
        _closed: bool
        sequence: str
        sequences: list[dict[str, Any]]
        entities: list[dict[str, Any]]
        tracks: dict[str, Any]
        state_fields: list[dict[str, Any]]
        entity: str
        hidden: list[str]
        frame: int
        revision: int
        can_undo: bool
        can_redo: bool
        undo_label: str
        redo_label: str

        def hold_sync(self) -> AbstractContextManager[Any]: ...
        def send(self, content: Any, buffers: Any = None) -> None: ...
        def _refresh_state(self) -> None: ...

    # ------------------------------------------------------------------ following the dataset
    def _on_change(self, change: Change) -> None:
        """Note what an edit touched; the flusher thread sends it all a moment later, once per burst."""
        with self._pending_lock:
            p = self._pending
            p["history"] = True
            tables = change.tables
            if tables & {"sequences", "frames", "sources"}:
                p["sequences"] = True
                if "sources" in tables:
                    self._encoded.clear()
            seq = self.sequence
            if seq in change.sequences:
                if tables & {"sequences", "sources"}:
                    p["all"] = True
                if "entities" in tables:
                    p["entities"] = True
                frames = change.frames.get(seq)
                ents = change.entities.get(seq)
                if frames:
                    p["frames"].setdefault(seq, set()).update(frames)
                if ents:
                    touched = p["touched"].setdefault(seq, {})
                    for eid in ents:
                        per = touched.setdefault(eid, {})
                        if frames:
                            for table in tables.intersection(_ANNOTATION_TABLES):
                                per.setdefault(table, set()).update(frames)
            if not self._flush_due:
                self._flush_due = True
                if self._flusher is None:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name="vidlabel-annotator-flush", daemon=True
                    )
                    self._flusher.start()
                self._wake.set()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            if self._stop.wait(self._flush_interval):  # meanwhile the rest of a burst arrives
                return
            self._wake.clear()
            if self._closed:
                return
            try:
                self._flush()
            except Exception:  # keep following the dataset; the traceback goes to the kernel's log
                log.exception("Annotator: sending changes failed")

    def _flush(self) -> None:
        """Send what changed since the last flush: history, entity list, track bar patches, changed frames."""
        with self._flush_lock:
            with self._pending_lock:
                p, self._pending = self._pending, no_pending()
                self._flush_due = False
            if self._closed:
                return
            patch: dict[str, Any] = {}
            with self.hold_sync():
                if p["history"]:
                    self._refresh_history()
                if p["sequences"]:
                    self.sequences = self._sequence_list()
                    if self.sequence not in self._ds.sequence_ids():
                        self.sequence = self._ds.sequence_ids()[0]
                        p["all"] = True
                seq = self.sequence
                frames = p["frames"].get(seq, set())
                if p["all"]:
                    self._refresh_entities()
                else:
                    if p["entities"]:
                        patch.update(self._refresh_entity_list())
                    patch.update(self._patch_tracks(seq, p["touched"].get(seq, {}), skip=patch.keys()))
                if p["all"] or frames:
                    self.revision += 1
                if p["all"] or self.frame in frames:
                    self._refresh_state()
            if p["all"] or frames or patch:
                msg: dict[str, Any] = {
                    "kind": "changed",
                    "sequence": seq,
                    "frames": None if p["all"] else sorted(frames),
                    "revision": self.revision,
                }
                if patch:
                    msg["tracks"] = patch
                self.send(msg)

    def _refresh_history(self) -> None:
        ds = self._ds
        self.can_undo, self.can_redo = ds.can_undo, ds.can_redo
        self.undo_label, self.redo_label = ds.undo_label, ds.redo_label

    def _sequence_list(self) -> list[dict[str, Any]]:
        ds = self._ds
        return [
            {"id": s, "name": ds.sequence(s)["name"], "num_frames": ds.num_frames(s)}
            for s in ds.sequence_ids()
        ]

    def _flag_fields(self) -> tuple[str, ...]:
        return tuple(f["name"] for f in self.state_fields if f["type"] == "bool")

    def _patch_tracks(self, seq: str, touched: dict[str, dict[str, set[int]]], skip: Any) -> dict[str, Any]:
        """Only the touched entities' bars, only their touched frames: an edit costs what it touched.

        The kernel's ``tracks`` is updated in place (no trait sync: the patch travels in ``changed``)."""
        tracks, flags, out = self.tracks, self._flag_fields(), {}
        for eid, per in touched.items():
            track = tracks.get(eid)
            if track is None or eid in skip:
                continue
            delta = safe_patch(self._ds, seq, eid, track, per, flags)
            if delta:
                out[eid] = delta
        return out

    def _entity_list(self) -> list[dict[str, Any]]:
        ds = self._ds
        out = []
        for i, eid in enumerate(ds.entity_ids(self.sequence), start=1):
            row = ds.entity(eid)
            out.append(
                {
                    "id": eid,
                    "name": row["name"],
                    "category": row["category"],
                    "color": hex_colour(display_colour(row, i)),
                    "index": i,
                }
            )
        return out

    def _refresh_entities(self) -> None:
        """The entity list and every track bar, afresh: a sequence is shown (or its frames were replaced)."""
        ents = self._entity_list()
        flags = self._flag_fields()
        self.entities = ents
        self.tracks = {e["id"]: full_track(self._ds, self.sequence, e["id"], flags) for e in ents}
        self._fix_selection(ents)

    def _refresh_entity_list(self) -> dict[str, Any]:
        """Entities added, renamed, recoloured or removed: the list; bars of those that came or went."""
        ents = self._entity_list()
        ids = {e["id"] for e in ents}
        tracks, flags = self.tracks, self._flag_fields()
        patch: dict[str, Any] = {}
        for eid in [e for e in tracks if e not in ids]:
            del tracks[eid]
            patch[eid] = None
        for eid in ids - tracks.keys():
            tracks[eid] = full_track(self._ds, self.sequence, eid, flags)
            patch[eid] = {k: list(v) for k, v in tracks[eid].items()}
        self.entities = ents
        self._fix_selection(ents)
        return patch

    def _fix_selection(self, ents: list[dict[str, Any]]) -> None:
        ids = {e["id"] for e in ents}
        if self.entity and self.entity not in ids:
            self.entity = ""
        if any(h not in ids for h in self.hidden):
            self.hidden = [h for h in self.hidden if h in ids]


def no_pending() -> dict[str, Any]:
    # touched: sequence -> entity -> table -> frames; frames: sequence -> frames
    return {
        "history": False,
        "sequences": False,
        "entities": False,
        "all": False,
        "touched": {},
        "frames": {},
    }
