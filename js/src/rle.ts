// COCO compressed RLE, decoded in the browser so the kernel sends masks as the
// `counts` bytes it stores (see vidlabel/rle.py) instead of pixels.

/** Runs of a compressed counts string: 5 bits per character offset by 48, 0x20 continues,
 *  0x10 in the last character is the sign, runs after the second are deltas to the run two back. */
export function decodeCounts(counts: Uint8Array): number[] {
  const runs: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= counts.length) throw new Error("RLE counts end inside a run");
      const c = (counts[p] as number) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p += 1;
      k += 1;
      if (!more && (c & 0x10) !== 0) x |= -1 << (5 * k);
    }
    if (runs.length > 2) x += runs[runs.length - 2] as number;
    runs.push(x);
  }
  return runs;
}

/** Runs of a mask of `total` pixels (background first, alternating), checked to cover it exactly. */
export function decodeRuns(counts: Uint8Array, total: number): Uint32Array {
  const runs = decodeCounts(counts);
  let pos = 0;
  for (const run of runs) {
    if (run < 0) throw new Error(`RLE has a negative run (${run})`);
    pos += run;
  }
  if (pos !== total) throw new Error(`RLE covers ${pos} pixels, expected ${total}`);
  return Uint32Array.from(runs);
}

/** Calls `visit(start, length)` for every column segment of foreground: `length` pixels going down
 *  from row-major index `start` (the next pixel is `start + width`). Column-major runs become
 *  column segments, so callers touch only foreground pixels, never divide per pixel. */
export function forEachSegment(
  runs: ArrayLike<number>,
  height: number,
  width: number,
  visit: (start: number, length: number, row: number, col: number) => void,
): void {
  let pos = 0;
  for (let r = 0; r < runs.length; r++) {
    const run = runs[r] as number;
    if (r & 1 && run > 0) {
      let col = Math.floor(pos / height);
      let row = pos - col * height;
      let left = run;
      while (left > 0) {
        const take = Math.min(left, height - row);
        visit(row * width + col, take, row, col);
        left -= take;
        row = 0;
        col += 1;
      }
    }
    pos += run;
  }
}

/** Row-major H*W mask (1 = inside) of runs. */
export function runsToMask(runs: ArrayLike<number>, height: number, width: number): Uint8Array {
  const out = new Uint8Array(height * width);
  forEachSegment(runs, height, width, (start, length) => {
    for (let k = 0, o = start; k < length; k++, o += width) out[o] = 1;
  });
  return out;
}

/** Decode to a row-major H*W mask (1 = inside), from COCO's column-major runs. */
export function decodeMask(counts: Uint8Array, height: number, width: number): Uint8Array {
  return runsToMask(decodeRuns(counts, height * width), height, width);
}
