import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/sources/frame.js';
import { FrameSplitter } from '../../src/sources/frame-splitter.js';

/** A byte stream of `n` frames where every byte of frame k is k (mod 256). */
function stream(w: number, h: number, n: number): Buffer {
  const size = w * h * 3;
  const b = Buffer.alloc(size * n);
  for (let k = 0; k < n; k++) b.fill(k % 256, k * size, (k + 1) * size);
  return b;
}

describe('FrameSplitter', () => {
  it('cuts exact frames out of chunks that never align with frames', () => {
    const w = 64;
    const h = 36;
    const got: Array<{ seq: number; first: number; last: number; len: number }> = [];
    const s = new FrameSplitter({ streamId: 'a', width: w, height: h }, (f) =>
      got.push({
        seq: f.seq,
        first: f.pixels[0] as number,
        last: f.pixels[f.pixels.length - 1] as number,
        len: f.pixels.length,
      }),
    );
    const data = stream(w, h, 10);
    // Odd chunk sizes, including a 64 KiB one larger than a frame and tiny ones.
    const sizes = [1, 7000, 65536, 3, 4096, 99999];
    let off = 0;
    let i = 0;
    while (off < data.length) {
      const n = sizes[i++ % sizes.length] as number;
      s.push(data.subarray(off, off + n));
      off += n;
    }
    expect(got.map((g) => g.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const g of got) {
      expect(g.len).toBe(w * h * 3);
      expect(g.first).toBe(g.seq);
      expect(g.last).toBe(g.seq);
    }
    expect(s.pending).toBe(0);
  });

  it('keeps memory bounded: when every pooled buffer is held, frames are dropped and counted', () => {
    const held: Frame[] = [];
    let drops = 0;
    const s = new FrameSplitter(
      { streamId: 'a', width: 4, height: 2, poolSize: 3 },
      (f) => held.push(f.retain()),
      () => drops++,
    );
    s.push(stream(4, 2, 5));
    expect(held.map((f) => f.seq)).toEqual([0, 1, 2]);
    expect(drops).toBe(2);
    expect(s.buffersInUse).toBe(3);
    for (const f of held.splice(0)) f.release();
    expect(s.buffersInUse).toBe(0);
    s.push(stream(4, 2, 1));
    expect(held.map((f) => f.seq)).toEqual([5]);
    expect(() => {
      held[0]?.release();
      held[0]?.release();
    }).toThrow(/released twice/);
  });

  it('reset() discards a partial frame so the next process starts on a boundary', () => {
    const seqs: number[] = [];
    const s = new FrameSplitter({ streamId: 'a', width: 2, height: 2, firstSeq: 40 }, (f) =>
      seqs.push(f.seq),
    );
    s.push(Buffer.alloc(5));
    s.reset();
    s.push(Buffer.alloc(12));
    expect(seqs).toEqual([40]);
  });
});
