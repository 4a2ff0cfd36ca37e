/** tfjs weight files decoded into typed arrays (dequantised as tfjs itself does). */

export type ConstDtype = 'float32' | 'int32' | 'bool';

/** A constant tensor in TensorFlow layout. */
export interface ConstTensor {
  dtype: ConstDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** IEEE 754 half -> single precision. */
export function float16ToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Splits the concatenated weight bytes of a tfjs model by its weight specs, dequantising float16 and
 * uint8/uint16 (v * scale + min) weights to float32. Unknown dtypes are an error naming the weight.
 */
export function decodeWeights(specs: WeightSpec[], bytes: Uint8Array): Map<string, ConstTensor> {
  const out = new Map<string, ConstTensor>();
  let off = 0;
  for (const s of specs) {
    const count = s.shape.reduce((a, b) => a * b, 1);
    const q = s.quantization;
    const storage = q?.dtype ?? s.dtype;
    const per = BYTES[storage];
    if (!per) throw new Error(`weight "${s.name}": unsupported dtype "${storage}"`);
    const size = count * per;
    if (off + size > bytes.length)
      throw new Error(`weight "${s.name}": the weight files end before its data (${bytes.length} bytes)`);
    const view = new DataView(bytes.buffer, bytes.byteOffset + off, size);
    let data: Float32Array | Int32Array | Uint8Array;
    if (s.dtype === 'bool') {
      data = bytes.slice(off, off + size);
    } else if (s.dtype === 'int32' && !q) {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(i * 4, true);
    } else if (s.dtype === 'float32' || s.dtype === 'int32') {
      const f = new Float32Array(count);
      if (!q) for (let i = 0; i < count; i++) f[i] = view.getFloat32(i * 4, true);
      else if (q.dtype === 'float16')
        for (let i = 0; i < count; i++) f[i] = float16ToFloat32(view.getUint16(i * 2, true));
      else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
        const scale = q.scale ?? 1;
        const min = q.min ?? 0;
        for (let i = 0; i < count; i++)
          f[i] = (q.dtype === 'uint8' ? view.getUint8(i) : view.getUint16(i * 2, true)) * scale + min;
      } else throw new Error(`weight "${s.name}": unsupported quantization "${q.dtype}"`);
      data = s.dtype === 'int32' ? Int32Array.from(f, Math.round) : f;
    } else throw new Error(`weight "${s.name}": unsupported dtype "${s.dtype}"`);
    out.set(s.name, { dtype: s.dtype as ConstDtype, shape: [...s.shape], data });
    off += size;
  }
  return out;
}

/** Row-major transpose of `data` with `shape` by `perm` (like numpy.transpose). */
export function transposeData<T extends Float32Array | Int32Array | Uint8Array>(
  data: T,
  shape: number[],
  perm: number[],
): { data: T; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p] as number);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = (inStrides[i + 1] as number) * (shape[i + 1] as number);
  const strides = perm.map((p) => inStrides[p] as number);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += (idx[d] as number) * (strides[d] as number);
    out[o] = data[src] as number;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (outShape[d] as number)) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}
