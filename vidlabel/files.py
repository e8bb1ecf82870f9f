"""Files and pictures: exports, parquet, renders, and project folders (checkpoint, save_as, close).

Mixed into Dataset, over the editing mixins; each method hands the dataset to the module that does
the work (io/, render.py, project.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import ValidationError
from .temporal import TemporalMixin

if TYPE_CHECKING:
    from PIL import Image

    from .dataset import Dataset


class FilesMixin(TemporalMixin):
    project: Any  # the Project of a dataset opened with vl.open, else None (set by Dataset)

    @property
    def _me(self) -> Dataset:
        return cast("Dataset", self)  # only Dataset mixes this in

    # ------------------------------------------------------------------ files and pictures
    def to_parquet(self, path: Any, *, overwrite: bool = False, embed_frames: bool = False) -> None:
        """Write one parquet file per table into the folder ``path`` (atomic; see io.parquet)."""
        from .io.parquet import write_parquet

        write_parquet(self._me, path, overwrite=overwrite, embed_frames=embed_frames)

    def to_davis(
        self,
        root: Any,
        *,
        sequences: str | Iterable[str] | None = None,
        resolution: str = "480p",
        images: bool = True,
        overwrite: bool = False,
        progress: bool = True,
    ) -> Path:
        """DAVIS 2017 folder: palette PNGs per frame (object ids kept from entity names "1".."254",
        others numbered and named in vidlabel.json), JPEG frames when ``images``, ImageSets.
        ``sequences``: some of them (all by default). Atomic; ``overwrite`` replaces only an empty
        folder or an earlier DAVIS export (see io.davis_export, io.atomic)."""
        from .io.davis_export import write_davis

        return write_davis(
            self._me,
            root,
            sequences=sequences,
            resolution=resolution,
            images=images,
            overwrite=overwrite,
            progress=progress,
        )

    def to_coco(
        self, path: Any, *, sequences: str | Iterable[str] | None = None, overwrite: bool = False
    ) -> Path:
        """One YouTube-VIS style JSON file: videos, categories, per-frame RLE and boxes (``x, y, w, h``).
        Atomic; ``overwrite`` replaces only an empty file or an earlier vidlabel COCO export."""
        from .io.coco import write_coco

        return write_coco(self._me, path, sequences=sequences, overwrite=overwrite)

    def to_youtube_vos(
        self,
        root: Any,
        *,
        sequences: str | Iterable[str] | None = None,
        images: bool = True,
        overwrite: bool = False,
        progress: bool = True,
    ) -> Path:
        """YouTube-VOS folder: JPEGImages (when ``images``), palette PNG Annotations, meta.json.
        Atomic; ``overwrite`` replaces only an empty folder or an earlier YouTube-VOS export."""
        from .io.youtube_vos import write_youtube_vos

        return write_youtube_vos(
            self._me, root, sequences=sequences, images=images, overwrite=overwrite, progress=progress
        )

    def to_pixano(
        self,
        root: Any,
        *,
        sequences: str | Iterable[str] | None = None,
        name: str | None = None,
        overwrite: bool = False,
        progress: bool = True,
    ) -> Path:
        """A Pixano source folder (JSONL v2 lines with inline entities, dataset.yaml, the frames) that
        ``pixano data import LIB root`` takes as it is; ``name``: the dataset's name there (the folder's
        by default). Atomic; ``overwrite`` replaces only an empty folder or an earlier Pixano export
        (see io.pixano_export)."""
        from .io.pixano_export import write_pixano

        return write_pixano(
            self._me, root, sequences=sequences, name=name, overwrite=overwrite, progress=progress
        )

    @classmethod
    def from_parquet(cls, path: Any) -> Dataset:
        """Read a folder written by ``to_parquet``; every table is validated first (validation.py) and
        a bad file is a ValidationError naming file, table, row and field."""
        from .io.parquet import read_parquet

        return read_parquet(path)

    # ------------------------------------------------------------------ projects
    def checkpoint(self) -> None:
        """Fold a project's journal into a new parquet checkpoint now (it also happens by itself as
        the journal grows). An in-memory dataset has nothing to checkpoint: save_as makes it a project."""
        if self.project is None:
            raise ValidationError(
                "checkpoint: this dataset is in memory only; ds.save_as(folder) keeps it in a project"
            )
        self.project.checkpoint()

    def save_as(self, path: Any) -> None:
        """Write everything (tables, frames held in memory, the undo history) into a new project folder
        and keep working there: from now on every edit is journaled in ``path``. A project-backed
        dataset lets go of its old folder, which keeps what it had."""
        from .project import DEFAULT_CHECKPOINT_BYTES, Project

        with self._wlock:
            old = self.project
            if old is not None and not old.readonly:
                old.journal.wait()
            limit = old.checkpoint_bytes if old is not None else DEFAULT_CHECKPOINT_BYTES
            target = Path(path)
            if target.exists() and (not target.is_dir() or any(target.iterdir())):
                raise ValidationError(f"save_as: {str(target)!r} exists and is not empty; give a new folder")
            self.attach_sink(None)  # the frames copied into the new folder are not the old folder's news
            try:
                Project.create(target, self._me, checkpoint_bytes=limit)
            except BaseException:
                self.project = old  # still the old folder's: its journal takes every edit again
                if old is not None and not old.readonly:
                    self.attach_sink(old)
                raise
            self.refuse_edits(None)
            if old is not None:
                old.release()

    def close(self) -> None:
        """A project: make everything durable, let go of the folder (edits are refused afterwards).
        An in-memory dataset: nothing to do."""
        if self.project is not None:
            self.project.close()

    def __enter__(self) -> Dataset:
        return self._me

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, seq: str, frame: int, **options: Any) -> Image.Image:
        """The frame with its masks (and boxes) painted on, as a PIL image; see render.render_frame."""
        from .render import render_frame

        with self.snapshot():  # entities, masks and boxes of one version
            return render_frame(self._me, seq, frame, **options)
