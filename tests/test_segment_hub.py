"""SAM2 model ids without a network: a clear error at once, not huggingface_hub's retries.

Each case runs in a fresh interpreter (huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE at
import), with a cache in a temporary folder, and counts the connections Python's sockets attempt.
The only endpoint used is a loopback port nothing listens on.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODEL = "facebook/sam2.1-hiera-tiny"
ENDPOINT = "http://127.0.0.1:9"  # the discard port: connections are refused

SCRIPT = """
import json, os, pathlib, socket, sys
attempts = []
_connect = socket.socket.connect
def connect(self, address):
    attempts.append(list(address)[:2])
    return _connect(self, address)
socket.socket.connect = connect
import huggingface_hub
import vidlabel as vl
from vidlabel.segment.sam2_model import hf_checkpoint
model, cache, offline = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
set_late, fill = sys.argv[4] == "1", sys.argv[5] == "1"
if set_late:  # set after huggingface_hub was imported, as a notebook cell would
    os.environ["HF_HUB_OFFLINE"] = "1"
out = []
for attempt in range(2 if fill else 1):
    try:
        out.append({"path": hf_checkpoint(model, cache_dir=cache, offline=offline)[1]})
    except vl.ValidationError as e:
        out.append({"error": str(e)})
    out[-1]["attempts"] = list(attempts)
    if fill:  # the file arrives in the cache (the layout huggingface_hub reads: refs/main -> snapshot)
        repo = pathlib.Path(cache) / "models--facebook--sam2.1-hiera-tiny"
        commit = "0123456789abcdef0123456789abcdef01234567"
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
        (repo / "snapshots" / commit / "sam2.1_hiera_tiny.pt").write_bytes(b"weights")
print(json.dumps(out))
"""


def _run(
    tmp_path: pathlib.Path,
    *,
    offline: bool | None = None,
    env_offline: bool = False,
    set_late: bool = False,
    fill: bool = False,
) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    # Telemetry off: huggingface_hub would otherwise make one request of its own (its agent registry).
    env.update(
        HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=ENDPOINT, HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT)
    )
    if env_offline:
        env["HF_HUB_OFFLINE"] = "1"
    args = [MODEL, str(tmp_path / "hub"), json.dumps(offline), "1" if set_late else "0", "1" if fill else "0"]
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_hf_hub_offline_fails_at_once_and_says_why(tmp_path: pathlib.Path) -> None:
    (res,) = _run(tmp_path, env_offline=True)
    assert "not in the Hugging Face cache" in res["error"] and "HF_HUB_OFFLINE is set" in res["error"]
    assert "checkpoint=<path to the .pt>" in res["error"]
    assert res["attempts"] == []


def test_hf_hub_offline_set_after_huggingface_hub_was_imported_counts(tmp_path: pathlib.Path) -> None:
    (res,) = _run(tmp_path, set_late=True)
    assert res["attempts"] == []
    assert "HF_HUB_OFFLINE is set" in res["error"]


def test_offline_true_looks_only_in_the_cache(tmp_path: pathlib.Path) -> None:
    (res,) = _run(tmp_path, offline=True)
    assert "not in the Hugging Face cache" in res["error"] and "offline=True" in res["error"]
    assert res["attempts"] == []


def test_an_unreachable_hub_is_asked_once(tmp_path: pathlib.Path) -> None:
    missing, cached = _run(tmp_path, fill=True)
    # Not cached: the clear error after one refused connection, without huggingface_hub's retries.
    assert missing["attempts"] == [["127.0.0.1", 9]]
    assert f"the hub at {ENDPOINT} could not be reached" in missing["error"]
    assert "not in the Hugging Face cache" in missing["error"]
    # Once the file is in the cache, the same unreachable hub gives it from there, again asking once.
    assert pathlib.Path(cached["path"]).read_bytes() == b"weights"
    assert cached["attempts"] == [["127.0.0.1", 9]] * 2
