"""ProjectLock: one writer per project folder, the holder named, a dead holder's lock free again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vidlabel import ValidationError
from vidlabel.lock import ProjectLock

ROOT = Path(__file__).resolve().parents[1]

# holds the lock of argv[1] until killed; imports vidlabel.lock without the package's __init__
# (which loads the whole dataset stack) to keep the child's start short
HOLDER = f"""
import os, sys, time, types
pkg = types.ModuleType("vidlabel"); pkg.__path__ = [{str(ROOT / "vidlabel")!r}]; sys.modules["vidlabel"] = pkg
from vidlabel.lock import ProjectLock
lock = ProjectLock(sys.argv[1]).acquire()
os.write(1, b"locked\\n")
time.sleep(60)
"""


def _spawn_holder(folder: Path) -> subprocess.Popen[bytes]:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE)
    assert p.stdout is not None
    assert p.stdout.readline() == b"locked\n"
    return p


def test_acquire_records_the_holder(tmp_path: Path) -> None:
    with ProjectLock(tmp_path) as lock:
        assert lock.held
        info = json.loads((tmp_path / "lock").read_text())
        assert info["pid"] == os.getpid()
        assert info["host"] == socket.gethostname()
    assert not lock.held


def test_second_open_in_this_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = ProjectLock(tmp_path).acquire()
    with pytest.raises(ValidationError) as e:
        ProjectLock(tmp_path).acquire()
    msg = str(e.value)
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in msg
    assert str(tmp_path) in msg and "readonly=True" in msg
    first.release()
    ProjectLock(tmp_path).acquire().release()  # free again once released


def test_other_process_is_refused_then_its_dead_lock_is_taken_over(tmp_path: Path) -> None:
    child = _spawn_holder(tmp_path)
    try:
        with pytest.raises(ValidationError, match=f"open for writing by pid {child.pid} on host "):
            ProjectLock(tmp_path).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # the dead child's note is still in the file, but its flock died with it
    assert json.loads((tmp_path / "lock").read_text())["pid"] == child.pid
    with ProjectLock(tmp_path):
        assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()


def test_unreadable_holder_note_still_refuses_clearly(tmp_path: Path) -> None:
    first = ProjectLock(tmp_path).acquire()
    (tmp_path / "lock").write_bytes(b"\xff" * 10_000)  # someone scribbled over the note
    with pytest.raises(ValidationError, match="open for writing by another process"):
        ProjectLock(tmp_path).acquire()
    first.release()


def test_lock_is_not_inherited_by_exec_children(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path).acquire()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], close_fds=False)
    try:
        lock.release()
        # the kernel wakes Popen's parent a moment before exec closes the child's O_CLOEXEC fds, so
        # allow that moment; an inherited fd would keep the project locked for the child's 30 s
        deadline = time.monotonic() + 10
        while True:
            try:
                ProjectLock(tmp_path).acquire().release()
                break
            except ValidationError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise
                time.sleep(0.01)
    finally:
        child.kill()
        child.wait()


def test_forked_child_does_not_keep_the_project_locked(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path).acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a multiprocessing-style worker that outlives the parent's release()
        os.close(r)
        os.write(w, b"x")
        time.sleep(30)
        os._exit(0)
    try:
        os.close(w)
        assert os.read(r, 1) == b"x"
        os.close(r)
        assert lock.held
        lock.release()
        ProjectLock(tmp_path).acquire().release()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot open"):
        ProjectLock(tmp_path / "nope").acquire()
