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
