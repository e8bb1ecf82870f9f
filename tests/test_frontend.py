"""The widget's TypeScript: type-checked and unit-tested with vitest, and the shipped bundle is current."""

from __future__ import annotations

import re
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
    # `npm ci` installs exactly what the lock file says and never rewrites it (`npm install` would).
    if not (JS / "node_modules" / ".bin" / "vitest").exists():
        out = _npm("ci", "--no-audit", "--no-fund")
        assert out.returncode == 0, out.stdout + out.stderr


def test_lock_file_is_in_sync_with_package_json(tmp_path: Path) -> None:
    """`npm ci` refuses a lock file that lacks any package npm would record (e.g. other platforms' builds)."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy(JS / name, tmp_path / name)
    npm = shutil.which("npm")
    assert npm, "node and npm are needed for the frontend tests"
    out = subprocess.run(
        [npm, "ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
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
    """Built into a temporary folder, so a stale bundle keeps failing until it is rebuilt and committed."""
    _ensure_installed()
    bundle = JS.parent / "vidlabel" / "static" / "widget.js"
    shipped, stamp = bundle.read_bytes(), bundle.stat().st_mtime_ns
    out = _npm("run", "build", "--", str(tmp_path / "widget.js"))
    assert out.returncode == 0, out.stdout + out.stderr
    unchanged = bundle.read_bytes() == shipped and bundle.stat().st_mtime_ns == stamp
    assert unchanged, "the test wrote the shipped bundle"
    assert (tmp_path / "widget.js").read_bytes() == shipped, "rebuild js/ (npm run build) and commit"


def test_rle_fixtures_match_pycocotools() -> None:
    """rle.test.ts checks the browser's decoder against masks that pycocotools encoded; they stay current."""
    script = JS / "src" / "fixtures" / "make_rle_fixtures.py"
    out = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"rle_cases.json is not what pycocotools writes; rerun {script}"


def test_the_readme_test_command_brings_node_and_ci_runs_it_verbatim() -> None:
    """These tests need node and npm: the README's test command installs them where missing, as CI runs it."""
    root = JS.parent
    blocks = re.findall(r"```bash\n(.*?)\n```", (root / "README.md").read_text(), re.S)
    command = blocks[1]  # the second command: the tests
    assert "command -v npm || (apt-get update && apt-get install -y nodejs npm)" in command
    assert command.endswith("python -m pytest")
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert command in ci and f"#   {command}" in ci
