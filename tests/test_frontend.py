"""The widget's TypeScript: type-checked and unit-tested with vitest, and the shipped bundle is current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

JS = Path(__file__).resolve().parents[1] / "js"


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    assert npm, "node and npm are needed for the frontend tests"
    return subprocess.run([npm, *args], cwd=JS, capture_output=True, text=True, timeout=600)


def _ensure_installed() -> None:
    if not (JS / "node_modules" / ".bin" / "vitest").exists():
        out = _npm("install", "--no-audit", "--no-fund")  # npm ci trips over optional platform packages
        assert out.returncode == 0, out.stdout + out.stderr


def test_vitest_suite_passes() -> None:
    _ensure_installed()
    out = _npm("test")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "passed" in out.stdout


def test_typescript_typechecks() -> None:
    _ensure_installed()
    out = _npm("run", "typecheck")
    assert out.returncode == 0, out.stdout + out.stderr


def test_bundle_is_built_from_the_source(tmp_path: Path) -> None:
    _ensure_installed()
    shipped = (JS.parent / "vidlabel" / "static" / "widget.js").read_bytes()
    out = _npm("run", "build")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (JS.parent / "vidlabel" / "static" / "widget.js").read_bytes() == shipped, "rebuild js/ and commit"


def test_rle_fixtures_match_pycocotools() -> None:
    """rle.test.ts checks the browser's decoder against masks that pycocotools encoded; they stay current."""
    script = JS / "src" / "fixtures" / "make_rle_fixtures.py"
    out = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"rle_cases.json is not what pycocotools writes; rerun {script}"
