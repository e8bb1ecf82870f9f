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
      const c = (counts[p] ?? 48) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p += 1;
      k += 1;
      if (!more && (c & 0x10) !== 0) x |= -1 << (5 * k);
    }
    if (runs.length > 2) x += runs[runs.length - 2] ?? 0;
    runs.push(x);
  }
  return runs;
}

/** Decode to a row-major H*W mask (1 = inside), from COCO's column-major runs. */
export function decodeMask(counts: Uint8Array, height: number, width: number): Uint8Array {
  const out = new Uint8Array(height * width);
  const runs = decodeCounts(counts);
  let pos = 0;
  let value = 0;
  for (const run of runs) {
    if (value === 1) {
      for (let i = pos; i < pos + run; i++) {
        const col = Math.floor(i / height);
        const row = i - col * height;
        out[row * width + col] = 1;
      }
    }
    pos += run;
    value ^= 1;
  }
  if (pos !== height * width) throw new Error(`RLE covers ${pos} pixels, expected ${height * width}`);
  return out;
}
