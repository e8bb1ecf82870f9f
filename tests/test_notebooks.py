"""Every notebook runs top to bottom, as a new user would run it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DAVIS = ROOT.parent / "shared" / "data" / "davis2016-dev"


def _printed(nb: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "stream"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if path.stem == "evaluate_engines":  # on the real dev sequences, never its synthetic stand-in
        assert DAVIS.is_dir(), f"the DAVIS-2016 dev sequences are missing at {DAVIS}"
        monkeypatch.setenv("VIDLABEL_DAVIS", str(DAVIS))  # the kernel inherits the environment
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    if path.stem == "evaluate_engines":
        printed = _printed(nb)
        names = (DAVIS / "ImageSets" / "2016" / "val.txt").read_text().split()
        assert len(names) == 6
        assert f"DAVIS folder: {DAVIS}" in printed and "synthetic clip" not in printed
        frames = sum(len(list((DAVIS / "JPEGImages" / "480p" / n).glob("*.jpg"))) for n in names)
        (line,) = [x for x in printed.splitlines() if x.endswith(tuple(names)) and "sequences" in x]
        head, listed = line.split(": ", 1)
        assert head == f"6 sequences, {frames} frames" and sorted(listed.split(", ")) == sorted(names)


def test_there_is_a_quickstart() -> None:
    assert any(p.name == "quickstart.ipynb" for p in NOTEBOOKS)
