"""The driver the crash test kills: a batch over a project folder, saying ``done <sequence>`` once each
sequence is written (durable), and ``finished`` at the end."""

from __future__ import annotations

import sys
import time

import vidlabel as vl


def main(folder: str) -> None:
    ds = vl.open(folder)
    job = vl.batch.propagate(ds, "flow", progress=False)
    said: set[str] = set()
    while True:
        running = job.running
        for seq in job.report().done:
            if seq not in said:
                said.add(seq)
                print("done", seq, flush=True)
        if not running:
            break
        time.sleep(0.002)
    job.wait()
    print("finished", flush=True)
    ds.close()


if __name__ == "__main__":
    main(sys.argv[1])
