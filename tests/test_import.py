"""`import vidlabel` stays light: no torch, sam2, torchvision, video or image stacks at import time."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_light() -> None:
    code = (
        "import sys, vidlabel\n"
        "heavy = ['torch', 'sam2', 'torchvision', 'av', 'cv2', 'pandas']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve() -> None:
    import vidlabel as vl

    for name in ("Dataset", "ValidationError", "read_davis", "read_pixano", "metrics", "demo", "rle"):
        assert getattr(vl, name) is not None
    assert callable(vl.metrics.evaluate) and callable(vl.metrics.jaccard) and callable(vl.metrics.f_measure)


def test_flow_engine_never_imports_torch() -> None:
    code = (
        "import sys, numpy as np, vidlabel as vl\n"
        "ds = vl.Dataset(); seq = ds.add_sequence('s', frames=np.zeros((2, 32, 32, 3), np.uint8))\n"
        "e = ds.add_entity(seq)\n"
        "sess = vl.segment.load('flow').session(ds, seq)\n"
        "sess.prompt(0, e, box=(4, 4, 20, 20)); list(sess.propagate())\n"
        "print(','.join(m for m in ['torch', 'sam2', 'torchvision'] if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_sam2_engine_needs_the_extra_and_says_so() -> None:
    # With sam2 hidden, loading the engine names the extra to install instead of failing deep inside.
    code = (
        "import sys; sys.modules['sam2'] = None\n"
        "import vidlabel as vl\n"
        "try:\n"
        "    vl.segment.load('sam2', config='configs/sam2.1/sam2.1_hiera_t.yaml', random_weights=True)\n"
        "except vl.ValidationError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'vidlabel[sam2]'" in out.stdout


def test_dir_lists_the_public_api_lazy_names_included() -> None:
    # Tab completion asks dir(): the lazily loaded names must be there, the typing helpers must not.
    code = (
        "import sys, vidlabel as vl\n"
        "names = dir(vl)\n"
        "print(','.join(names))\n"
        "print(','.join(m for m in ['torch', 'cv2', 'av'] if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listed, heavy = out.stdout.splitlines()
    names = listed.split(",")
    assert heavy == ""  # listing names loads nothing
    for name in (
        "Annotator",
        "Dataset",
        "ValidationError",
        "read_davis",
        "read_coco",
        "segment",
        "metrics",
        "demo",
        "rle",
    ):
        assert name in names
    assert "Any" not in names and "TYPE_CHECKING" not in names
    import vidlabel as vl

    assert sorted(vl.__all__) == names
    for name in names:
        assert getattr(vl, name) is not None, name
