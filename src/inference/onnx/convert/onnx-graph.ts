/**
 * The ONNX side of the converter: the graph being written (nodes, initializers, inputs), the values
 * converted so far with their layout, and the layout moves and elementwise building blocks every op
 * converter uses. Activations between the model's input and outputs are NCHW (ONNX's native
 * layout); a value knows whether it is NCHW or still in TensorFlow's NHWC, and `nchw` / `nhwc` move
 * it (once per value: transposes are cached).
 */
import {
  AttrType,
  DataType,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from '../proto.js';
import { type ConstTensor, transposeData } from '../weights.js';
import { attrFloat, parseInput, type TfNode, UnsupportedOpError } from './tf-graph.js';

export type Layout = 'nhwc' | 'nchw';
export interface Val {
  /** ONNX value name. */
  name: string;
  /** Rank in TensorFlow semantics. */
  rank: number;
  /** For rank 4: how the ONNX tensor is laid out (nchw = TF tensor transposed by [0,3,1,2]). */
  layout: Layout;
  /** Known constant value (TF layout). */
  c?: ConstTensor;
}

/** NHWC -> NCHW and back. */
export const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** Where TF axis a (N, H, W, C) sits in an NCHW tensor. */
export const POS_NCHW = [0, 2, 3, 1];

export const attr = {
  i: (name: string, i: number): OnnxAttribute => ({ name, type: AttrType.INT, i }),
  f: (name: string, f: number): OnnxAttribute => ({ name, type: AttrType.FLOAT, f }),
  s: (name: string, s: string): OnnxAttribute => ({
    name,
    type: AttrType.STRING,
    s: new TextEncoder().encode(s),
  }),
  ints: (name: string, ints: number[]): OnnxAttribute => ({ name, type: AttrType.INTS, ints }),
};

function tensorBytes(data: Float32Array | Int32Array | Uint8Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxTensor[] = [];
  readonly inputs: OnnxModel['graph']['input'] = [];
  private readonly initNames = new Set<string>();
  private readonly vals = new Map<string, Val>();
  private readonly transposed = new Map<string, Val>();
  private uid = 0;

  /** `weights`: the decoded constants of the tfjs model, by node name. */
  constructor(readonly weights: Map<string, ConstTensor>) {}

  /** Renames a value everywhere it is produced or used. */
  rename(from: string, to: string): void {
    for (const n of this.nodes) {
      n.input = n.input.map((i) => (i === from ? to : i));
      n.output = n.output.map((i) => (i === from ? to : i));
    }
  }

  fresh(base: string): string {
    return `${base}__${++this.uid}`;
  }

  emit(op: string, input: string[], output: string[], name: string, attribute: OnnxAttribute[] = []) {
    this.nodes.push({ name, opType: op, input, output, attribute });
  }

  /** Adds an initializer (once per name) and returns its name. */
  init(c: ConstTensor | { dtype: 'int64'; shape: number[]; data: BigInt64Array }, name: string): string {
    if (this.initNames.has(name)) return name;
    this.initNames.add(name);
    const dataType =
      c.dtype === 'float32'
        ? DataType.FLOAT
        : c.dtype === 'int32'
          ? DataType.INT32
          : c.dtype === 'int64'
            ? DataType.INT64
            : DataType.BOOL;
    this.inits.push({ name, dims: c.shape, dataType, rawData: tensorBytes(c.data) });
    return name;
  }

  i64(values: number[], base: string): string {
    return this.init(
      { dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) },
      this.fresh(base),
    );
  }

  f32(value: number, base: string): string {
    return this.init({ dtype: 'float32', shape: [], data: Float32Array.of(value) }, this.fresh(base));
  }

  /** The converted value of a TF input reference ("node" or "node:k"). */
  value(ref: string): Val {
    const p = parseInput(ref);
    const key = p && p.index > 0 ? `${p.node}:${p.index}` : (p?.node ?? ref);
    const v = this.vals.get(key);
    if (!v) throw new Error(`value "${ref}" used before it was produced`);
    return v;
  }

  /** Records the converted value of a node's output `index`. */
  set(n: TfNode, v: Omit<Val, 'name'> & { name?: string }, index = 0): void {
    const key = index ? `${n.name}:${index}` : n.name;
    this.vals.set(key, { name: v.name ?? key, rank: v.rank, layout: v.layout, c: v.c });
  }

  /** The converted values of a node's data inputs (control inputs left out). */
  inputsOf(n: TfNode): Val[] {
    return (n.input ?? []).filter((i) => !i.startsWith('^')).map((i) => this.value(i));
  }

  oneInput(n: TfNode): Val {
    const x = this.inputsOf(n)[0];
    if (!x) throw new UnsupportedOpError(n.op, n.name, 'missing input');
    return x;
  }

  twoInputs(n: TfNode): [Val, Val] {
    const [a, b] = this.inputsOf(n);
    if (!a || !b) throw new UnsupportedOpError(n.op, n.name, 'needs two inputs');
    return [a, b];
  }

  /** A value as an ONNX tensor name (constants become initializers). */
  ref(v: Val): string {
    return v.c ? this.init(v.c, v.name) : v.name;
  }

  constOf(n: TfNode, v: Val | undefined, what: string): ConstTensor {
    if (!v?.c) throw new UnsupportedOpError(n.op, n.name, `needs a constant ${what}`);
    return v.c;
  }

  /** The value in NCHW (4-D) layout. */
  nchw(v: Val): Val {
    if (v.rank !== 4 || v.layout === 'nchw') return v;
    if (v.c) {
      const t = transposeData(v.c.data, v.c.shape, TO_NCHW);
      return { name: `${v.name}__nchw`, rank: 4, layout: 'nchw', c: { ...v.c, ...t } };
    }
    return this.transposeOnce(v, 'nchw', TO_NCHW);
  }

  /** The value in TF layout. */
  nhwc(v: Val): Val {
    if (v.rank !== 4 || v.layout === 'nhwc') return v;
    return this.transposeOnce(v, 'nhwc', TO_NHWC);
  }

  /** A Transpose of `v` into `layout`, emitted the first time it is asked for. */
  private transposeOnce(v: Val, layout: Layout, perm: number[]): Val {
    const key = `${v.name}>${layout}`;
    const hit = this.transposed.get(key);
    if (hit) return hit;
    const name = `${v.name}__${layout}`;
    this.emit('Transpose', [v.name], [name], name, [attr.ints('perm', perm)]);
    const out: Val = { name, rank: 4, layout };
    this.transposed.set(key, out);
    return out;
  }

  /**
   * Operand of an elementwise op whose result is NCHW: lower-rank operands broadcast against TF's
   * trailing (channel-last) dimensions, so they are lifted to rank 4 and moved to NCHW too.
   */
  alignToNchw(v: Val, n: TfNode): Val {
    if (v.rank === 4) return this.nchw(v);
    if (v.rank === 0) return v;
    if (v.c) {
      const shape = [...new Array<number>(4 - v.c.shape.length).fill(1), ...v.c.shape];
      const t = transposeData(v.c.data, shape, TO_NCHW);
      return {
        name: `${v.name}__nchw`,
        rank: 4,
        layout: 'nchw',
        c: { ...v.c, data: t.data, shape: t.shape },
      };
    }
    if (v.rank > 4) throw new UnsupportedOpError(n.op, n.name, `rank-${v.rank} operand`);
    const lifted = this.fresh(`${v.name}__r4`);
    const axes = Array.from({ length: 4 - v.rank }, (_, i) => i);
    this.emit('Unsqueeze', [v.name, this.i64(axes, `${v.name}__axes`)], [lifted], lifted);
    return this.nchw({ name: lifted, rank: 4, layout: 'nhwc' });
  }

  /** Binary elementwise op with TF broadcasting, layout-aware. */
  binary(n: TfNode, op: string, a: Val, b: Val, out = n.name): Val {
    const rank = Math.max(a.rank, b.rank);
    const toNchw = (a.rank === 4 && a.layout === 'nchw') || (b.rank === 4 && b.layout === 'nchw');
    const aa = toNchw ? this.alignToNchw(a, n) : a;
    const bb = toNchw ? this.alignToNchw(b, n) : b;
    this.emit(op, [this.ref(aa), this.ref(bb)], [out], out);
    return { name: out, rank, layout: toNchw && rank === 4 ? 'nchw' : 'nhwc' };
  }

  unary(n: TfNode, op: string, x: Val, attrs: OnnxAttribute[] = [], out = n.name): Val {
    this.emit(op, [this.ref(x)], [out], out, attrs);
    return { name: out, rank: x.rank, layout: x.layout };
  }

  clip(x: Val, lo: number | undefined, hi: number | undefined, out: string): Val {
    const ins = [this.ref(x), lo === undefined ? '' : this.f32(lo, `${out}/min`)];
    if (hi !== undefined) ins.push(this.f32(hi, `${out}/max`));
    this.emit('Clip', ins, [out], out);
    return { name: out, rank: x.rank, layout: x.layout };
  }

  /** An activation applied after a fused op (tfjs fused_ops). */
  activation(n: TfNode, act: string, x: Val, out: string, alpha?: Val): Val {
    switch (act) {
      case 'Relu':
        return this.unary(n, 'Relu', x, [], out);
      case 'Relu6':
        return this.clip(x, 0, 6, out);
      case 'Elu':
        return this.unary(n, 'Elu', x, [attr.f('alpha', 1)], out);
      case 'Sigmoid':
        return this.unary(n, 'Sigmoid', x, [], out);
      case 'Tanh':
        return this.unary(n, 'Tanh', x, [], out);
      case 'LeakyRelu':
        return this.unary(n, 'LeakyRelu', x, [attr.f('alpha', attrFloat(n, 'leakyrelu_alpha', 0.2))], out);
      case 'Prelu': {
        if (!alpha) throw new UnsupportedOpError(n.op, n.name, 'Prelu without its alpha argument');
        return this.binary(n, 'PRelu', x, alpha, out);
      }
      default:
        throw new UnsupportedOpError(n.op, n.name, `fused activation "${act}"`);
    }
  }

  /** The activations of a fused op applied in turn to `v`; the last one gets the node's name. */
  activations(n: TfNode, acts: string[], v: Val, alpha: Val | undefined): Val {
    let out = v;
    acts.forEach((a, i) => {
      out = this.activation(n, a, out, i === acts.length - 1 ? n.name : this.fresh(`${n.name}/${a}`), alpha);
    });
    return out;
  }
}
