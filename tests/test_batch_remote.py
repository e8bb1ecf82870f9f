"""cluster="ray://host:port" against a real Ray cluster's client address: a one-node cluster started
here with ``ray start --head --block`` (ended by signalling that process alone, never ``ray stop``,
which would end every Ray of this user), and the batch run from a child process (a Ray client must
not share a process with the local Ray of test_batch_ray.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("ray")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


def test_a_remote_cluster_reads_the_files_itself_and_refuses_arrays(tmp_path: Path) -> None:
    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        ray_cli = Path(shutil.which("ray") or "ray")
    gcs, client, manager, node = _free_ports(4)
    # a short temp dir: Ray's unix sockets live under it, and their paths are limited to ~107 bytes
    temp = Path(tempfile.mkdtemp(prefix="vlray-", dir="/tmp"))
    # Ray 2.60 turns token authentication on for a head started where a token file exists (a local
    # ray.init made one), and its client then sends no token unless told to (ray PR #64755): off for
    # both sides of this test cluster on localhost.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    head = subprocess.Popen(
        [str(ray_cli), "start", "--head", "--block", f"--port={gcs}", f"--ray-client-server-port={client}",
         f"--node-manager-port={manager}", f"--object-manager-port={node}", "--num-cpus=2",
         "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
        stdout=(temp / "head.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True, env=env,
    )  # fmt: skip
    code = textwrap.dedent(f"""
        import json, sys, time
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import vidlabel as vl
        from batch_data import add, masks, write_frames
        specs = write_frames(Path({str(tmp_path)!r}) / "frames", 3, kinds=("images", "video", "array"))
        files = [s for s in specs if s["kind"] != "array"]
        ref = add(vl.Dataset(), files)
        vl.batch.propagate(ref, "flow", progress=False).wait()
        address = "ray://127.0.0.1:{client}"
        try:
            vl.batch.propagate(add(vl.Dataset(), specs), "flow", cluster=address, progress=False)
        except vl.ValidationError as e:
            refused = str(e)
        deadline = time.monotonic() + 120
        while True:  # the head takes a while to listen
            try:
                ds = add(vl.Dataset(), files)
                t0 = time.monotonic()
                job = vl.batch.propagate(
                    ds, "flow", cluster=address, workers=2, connect_timeout=120, progress=False
                )
                took = time.monotonic() - t0
                break
            except vl.ValidationError as e:
                # still starting: not listening yet, or its client server not answering yet (under
                # load its first answer can take longer than the Ray client's own 30 s)
                waiting = any(w in str(e) for w in ("does not answer", "no Ray client", "cannot connect"))
                if not waiting or time.monotonic() > deadline:
                    raise
                time.sleep(1)
        report = job.wait(300)
        print(json.dumps({{"refused": refused, "done": report.done, "same": masks(ds) == masks(ref),
                           "pids": sorted({{r.worker for r in report.sequences.values()}}), "took": took}}))
    """)
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env
        )
    finally:
        # the head and what it started, by their process group (a SIGTERM would drain for 30 s)
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(30)
    log = (temp / "head.log").read_text(errors="replace")
    shutil.rmtree(temp, ignore_errors=True)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    assert lines, out.stdout[-3000:] + out.stderr[-3000:] + log[-2000:]
    got = json.loads(lines[-1])
    assert "'seq2' hold their frames as in-memory arrays" in got["refused"]
    assert got["done"] == ["seq0", "seq1"] and got["same"]
    assert os.getpid() not in got["pids"]
    print(f"connecting to the cluster took {got['took']:.1f} s")
