import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelArgs, Tf } from './wasm-ops.js';

/** The part of tfjs-backend-wasm's BackendWasm these kernels use: outputs and views of the wasm heap. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

type Shape4 = [number, number, number, number];

function checkFloat(kernel: string, ...ts: TensorInfo[]): void {
  for (const t of ts)
    if (t.dtype !== 'float32') throw new Error(`wasm ${kernel}: float32 only (got ${t.dtype})`);
}

/**
 * A zeroed float32 output and views of it and of `inputs` on the wasm heap. The views are taken after
 * the output is allocated (an allocation may grow the heap and detach earlier views) and must not be
 * kept past the kernel.
 */
function heapViews(backend: object, shape: number[], inputs: TensorInfo[]) {
  const heap = backend as WasmHeap;
  const out = heap.makeOutput(shape, 'float32');
  const outV = heap.typedArrayFromHeap(out);
  outV.fill(0);
  return { out, outV, ins: inputs.map((t) => heap.typedArrayFromHeap(t)) };
}

/**
 * MaxPoolGrad on wasm: dy of each window added to the window's first maximum (row-major, strict `>`,
 * as tfjs-backend-cpu and TensorFlow do). Replaces wasm 4.22's kernel, which loses or misplaces the
 * gradient of windows whose maximum is <= 0 (its running maximum starts at 0, not -Infinity). A direct
 * loop over the wasm heap: an arg-max scatter has no fast forward-kernel formulation.
 */
export function maxPoolGrad(tf: Tf, args: KernelArgs): TensorInfo {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  checkFloat('MaxPoolGrad', dy, input);
  const a = args.attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const [n, h, w, c] = input.shape as Shape4;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const { out, outV: dx, ins } = heapViews(args.backend, input.shape, [dy, input]);
  const [g, x] = ins as [Float32Array, Float32Array];
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++) {
      const r0 = i * sh - top;
      const rs = Math.max(0, r0);
      const re = Math.min(h, r0 + kh);
      for (let j = 0; j < ow; j++, o += c) {
        const c0 = j * sw - left;
        const cs = Math.max(0, c0);
        const ce = Math.min(w, c0 + kw);
        best.fill(Number.NEGATIVE_INFINITY);
        at.fill(-1);
        for (let y = rs; y < re; y++)
          for (let xx = cs; xx < ce; xx++) {
            const base = ((b * h + y) * w + xx) * c;
            for (let d = 0; d < c; d++) {
              const v = x[base + d] as number;
              if (v > (best[d] as number)) {
                best[d] = v;
                at[d] = base + d;
              }
            }
          }
        for (let d = 0; d < c; d++) {
          const p = at[d] as number;
          if (p >= 0) dx[p] = (dx[p] as number) + (g[o + d] as number);
        }
      }
    }
  return out;
}

interface ResizeAttrs {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/** Source-coordinate ratio per axis, as tfjs's resize kernels compute it. */
function ratio(inSize: number, outSize: number, alignCorners: boolean): number {
  return alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
}

/**
 * ResizeBilinearGrad with halfPixelCenters on wasm: the adjoint of tfjs's bilinear resize (same source
 * coordinates, clamping and weights as its cpu/wasm forward kernels). wasm 4.22's kernel ignores
 * halfPixelCenters (and tfjs-backend-cpu's returns a [n, w, h, c] shape), so with it true the
 * gradient came out shifted by a quarter pixel; without it this defers to wasm's own kernel.
 */
export function resizeBilinearGradHalfPixel(args: KernelArgs): TensorInfo {
  const { dy, images } = args.inputs as { dy: TensorInfo; images: TensorInfo };
  checkFloat('ResizeBilinearGrad', dy);
  const { alignCorners } = args.attrs as unknown as ResizeAttrs;
  const [n, h, w, c] = images.shape as Shape4;
  const [, oh, ow] = dy.shape as Shape4;
  const taps = (inSize: number, outSize: number) => {
    const rt = ratio(inSize, outSize, alignCorners);
    const lo = new Int32Array(outSize);
    const hi = new Int32Array(outSize);
    const f = new Float32Array(outSize);
    for (let r = 0; r < outSize; r++) {
      const src = rt * (r + 0.5) - 0.5;
      lo[r] = Math.max(0, Math.floor(src));
      hi[r] = Math.min(inSize - 1, Math.ceil(src));
      f[r] = src - (lo[r] as number);
    }
    return { lo, hi, f };
  };
  const R = taps(h, oh);
  const C = taps(w, ow);
  const { out, outV: dx, ins } = heapViews(args.backend, images.shape, [dy]);
  const g = ins[0] as Float32Array;
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let r = 0; r < oh; r++) {
      const fr = R.f[r] as number;
      const top = (b * h + (R.lo[r] as number)) * w;
      const bot = (b * h + (R.hi[r] as number)) * w;
      for (let q = 0; q < ow; q++, o += c) {
        const fc = C.f[q] as number;
        const l = C.lo[q] as number;
        const rr = C.hi[q] as number;
        const tl = (top + l) * c;
        const tr = (top + rr) * c;
        const bl = (bot + l) * c;
        const br = (bot + rr) * c;
        const wtl = (1 - fr) * (1 - fc);
        const wtr = (1 - fr) * fc;
        const wbl = fr * (1 - fc);
        const wbr = fr * fc;
        for (let d = 0; d < c; d++) {
          const v = g[o + d] as number;
          dx[tl + d] = (dx[tl + d] as number) + v * wtl;
          dx[tr + d] = (dx[tr + d] as number) + v * wtr;
          dx[bl + d] = (dx[bl + d] as number) + v * wbl;
          dx[br + d] = (dx[br + d] as number) + v * wbr;
        }
      }
    }
  return out;
}

/**
 * ResizeNearestNeighborGrad on wasm: each dy pixel added to the source pixel tfjs's nearest-neighbour
 * forward reads (`floor(r * ratio)`, or `floor((r + 0.5) * ratio)` with halfPixelCenters; round
 * instead of floor with alignCorners; clamped). wasm 4.22's kernel ignores halfPixelCenters (right
 * only for integer upscaling factors); this loop is also ~2x faster than it without.
 */
export function resizeNearestGrad(args: KernelArgs): TensorInfo {
  const { dy, images } = args.inputs as { dy: TensorInfo; images: TensorInfo };
  checkFloat('ResizeNearestNeighborGrad', dy);
  const { alignCorners, halfPixelCenters } = args.attrs as unknown as ResizeAttrs;
  const [n, h, w, c] = images.shape as Shape4;
  const [, oh, ow] = dy.shape as Shape4;
  const src = (inSize: number, outSize: number) => {
    const rt = ratio(inSize, outSize, alignCorners);
    const s = new Int32Array(outSize);
    for (let r = 0; r < outSize; r++) {
      const f = rt * (halfPixelCenters ? r + 0.5 : r);
      s[r] = Math.max(0, Math.min(inSize - 1, alignCorners ? Math.round(f) : Math.floor(f)));
    }
    return s;
  };
  const rows = src(h, oh);
  const cols = src(w, ow);
  const { out, outV: dx, ins } = heapViews(args.backend, images.shape, [dy]);
  const g = ins[0] as Float32Array;
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let r = 0; r < oh; r++) {
      const row = (b * h + (rows[r] as number)) * w;
      for (let q = 0; q < ow; q++, o += c) {
        const p = (row + (cols[q] as number)) * c;
        for (let d = 0; d < c; d++) dx[p + d] = (dx[p + d] as number) + (g[o + d] as number);
      }
    }
  return out;
}

/**
 * A kernel that runs `halfPixel` when attrs.halfPixelCenters is true and wasm's original kernel
 * (`original`, which is right then) otherwise.
 */
export function halfPixelOr(
  original: KernelFunc,
  halfPixel: (args: KernelArgs) => TensorInfo,
): (tf: Tf, args: KernelArgs) => TensorInfo {
  return (_tf, args) =>
    (args.attrs as unknown as ResizeAttrs | undefined)?.halfPixelCenters
      ? halfPixel(args)
      : (original(args as Parameters<KernelFunc>[0]) as TensorInfo);
}
