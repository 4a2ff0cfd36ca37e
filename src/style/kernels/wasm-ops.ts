import type * as tfTypes from '@tensorflow/tfjs-core';
import type { DataId, KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/** The tfjs-core namespace (functional API). */
export type Tf = typeof tfTypes;

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
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
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
   * x cropped or zero-padded per axis: `pads[i] = [before, after]`, negative values crop. One Slice
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
