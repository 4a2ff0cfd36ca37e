import type * as tfTypes from '@tensorflow/tfjs-core';
import type { DataId, KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/** The tfjs-core namespace (functional API). */
export type Tf = typeof tfTypes;

/** The part of tfjs-backend-wasm's BackendWasm used directly: outputs and views of the wasm heap. */
export interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** The arguments tfjs passes a kernel function. */
export interface KernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  backend: object;
  attrs?: NamedAttrMap;
}

/**
 * The wasm backend's own forward kernels, called directly on TensorInfos (no engine, no tape, no
 * tensors): the building blocks of the gradient kernels. Every result is a fresh reference the
 * caller owns; `own` collects intermediates and `free` releases them (backend.disposeData, which
 * drops one reference: a Reshape shares its input's buffer and holds its own reference to it).
 */
export class WasmOps {
  private readonly owned: TensorInfo[] = [];

  constructor(
    private readonly tf: Tf,
    private readonly backend: object,
  ) {}

  /** Runs the wasm kernel `name` (throws if wasm has none). */
  run(name: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
    const k = this.tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`wasm-grad: the wasm backend has no '${name}' kernel`);
    const out = k.kernelFunc({ inputs, backend: this.backend, attrs: attrs as NamedAttrMap });
    return this.own(Array.isArray(out) ? (out[0] as TensorInfo) : out);
  }

  /** Marks `t` as an intermediate to release in `free`. */
  own(t: TensorInfo): TensorInfo {
    this.owned.push(t);
    return t;
  }

  /** Stops tracking `t` (it is the kernel's result) and returns it. */
  release(t: TensorInfo): TensorInfo {
    const i = this.owned.lastIndexOf(t);
    if (i >= 0) this.owned.splice(i, 1);
    return t;
  }

  /** Releases one intermediate now (large temporaries inside loops). */
  dispose(t: TensorInfo): void {
    const i = this.owned.lastIndexOf(t);
    if (i >= 0) this.owned.splice(i, 1);
    this.disposeData(t.dataId);
  }

  /** Releases every intermediate still owned. */
  free(): void {
    for (const t of this.owned.splice(0)) this.disposeData(t.dataId);
  }

  private disposeData(id: DataId): void {
    (this.backend as KernelBackend).disposeData(id);
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }
  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }
  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }
  /** Plain a @ b (2-D or batched); no transpose flags (slow path on wasm, see bench/grad-kernels). */
  matMul(a: TensorInfo, b: TensorInfo): TensorInfo {
    return this.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  }
  mul(a: TensorInfo, b: TensorInfo): TensorInfo {
    return this.run('Multiply', { a, b });
  }
  sum(x: TensorInfo, axis: number[]): TensorInfo {
    return this.run('Sum', { x }, { axis, keepDims: false });
  }
  concat(xs: TensorInfo[], axis: number): TensorInfo {
    const k = this.tf.getKernel('Concat', 'wasm');
    const out = k.kernelFunc({
      inputs: xs as unknown as Record<string, TensorInfo>,
      backend: this.backend,
      attrs: { axis },
    });
    return this.own(out as TensorInfo);
  }
  reverse(x: TensorInfo, dims: number[]): TensorInfo {
    return this.run('Reverse', { x }, { dims });
  }
  fill(shape: number[], value: number): TensorInfo {
    return this.run('Fill', {}, { shape, value, dtype: 'float32' });
  }

  /**
   * Slices of `x`, all of shape `size`, one per entry of `begins`, stacked into one `[begins.length,
   * ...size]` tensor: copied straight between views of the wasm heap, a run of the last axis at a
   * time. (wasm's own Slice kernel copies its whole input out of the heap first, on every call: 81
   * taps of a 9x9 filter made that the bulk of a filter gradient.)
   */
  sliceStack(x: TensorInfo, begins: number[][], size: number[]): TensorInfo {
    if (x.dtype !== 'float32') throw new Error('wasm-grad: sliceStack is float32 only');
    const heap = this.backend as WasmHeap;
    const rank = x.shape.length;
    const out = this.own(heap.makeOutput([begins.length, ...size], 'float32'));
    const dst = heap.typedArrayFromHeap(out); // views after the allocation (it may grow the heap)
    const src = heap.typedArrayFromHeap(x);
    const strides = [...this.tf.util.computeStrides(x.shape), 1];
    const run = size[rank - 1] as number;
    const outer = size.slice(0, -1);
    const nOuter = outer.reduce((a, b) => a * b, 1);
    const idx = new Array<number>(outer.length).fill(0);
    let o = 0;
    for (const begin of begins) {
      idx.fill(0);
      for (let k = 0; k < nOuter; k++) {
        let off = begin[rank - 1] as number;
        for (let d = 0; d < outer.length; d++)
          off += ((begin[d] as number) + (idx[d] as number)) * (strides[d] as number);
        dst.set(src.subarray(off, off + run), o);
        o += run;
        for (let d = outer.length - 1; d >= 0; d--) {
          idx[d] = (idx[d] as number) + 1;
          if ((idx[d] as number) < (outer[d] as number)) break;
          idx[d] = 0;
        }
      }
    }
    return out;
  }

  /** `x[begin : begin + size]`. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    const stacked = this.sliceStack(x, [begin], size);
    const y = this.reshape(stacked, size);
    this.dispose(stacked);
    return y;
  }

  /**
   * x cropped or zero-padded per axis: `pads[i] = [before, after]`, negative values crop. One slice
   * when anything is cropped, one PadV2 when anything is padded, nothing (a Reshape) otherwise.
   */
  padOrCrop(x: TensorInfo, pads: Array<[number, number]>): TensorInfo {
    let y = x;
    if (pads.some(([b, a]) => b < 0 || a < 0)) {
      const begin = pads.map(([b]) => Math.max(0, -b));
      const size = x.shape.map(
        (d, i) => d - (begin[i] as number) - Math.max(0, -(pads[i] as [number, number])[1]),
      );
      y = this.slice(x, begin, size);
    }
    if (pads.some(([b, a]) => b > 0 || a > 0)) {
      y = this.pad(
        y,
        pads.map(([b, a]) => [Math.max(0, b), Math.max(0, a)]),
      );
    }
    return y === x ? this.reshape(x, x.shape) : y;
  }
}
