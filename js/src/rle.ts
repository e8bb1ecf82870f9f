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

/** Decode to a row-major H*W mask (1 = inside), from COCO's column-major runs.
 *  Walks each run a column segment at a time, so the cost is the set pixels, not a divide per pixel. */
export function decodeMask(counts: Uint8Array, height: number, width: number): Uint8Array {
  const total = height * width;
  const out = new Uint8Array(total);
  const runs = decodeCounts(counts);
  let pos = 0;
  let value = 0;
  for (const run of runs) {
    if (run < 0 || pos + run > total) throw new Error(`RLE covers more than ${total} pixels or has a negative run`);
    if (value === 1 && run > 0) {
      let col = Math.floor(pos / height);
      let row = pos - col * height;
      let left = run;
      while (left > 0) {
        const take = Math.min(left, height - row);
        let o = row * width + col;
        for (let k = 0; k < take; k++) {
          out[o] = 1;
          o += width;
        }
        left -= take;
        row = 0;
        col += 1;
      }
    }
    pos += run;
    value ^= 1;
  }
  if (pos !== total) throw new Error(`RLE covers ${pos} pixels, expected ${total}`);
  return out;
}
