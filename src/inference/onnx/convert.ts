/**
 * Vigil's own tfjs graph model -> ONNX converter. Reads a tfjs graph (model.json topology + decoded
 * weights) and writes an ONNX graph (opset 17) that ONNX Runtime runs:
 * - the model's input and outputs keep TensorFlow's NHWC layout (the inference contract), while
 *   activations between them are NCHW, ONNX's native layout: convolution filters are transposed
 *   (HWIO -> OIHW, depthwise -> grouped OIHW), per-channel constants reshaped to [C,1,1], axes of
 *   reductions, concatenations and paddings remapped; layout-bound ops (Reshape, Transpose,
 *   StridedSlice, Softmax...) get their input back in NHWC through a Transpose;
 * - the batch dimension of the input is symbolic, so one call runs a whole cross-stream batch;
 * - only the nodes the requested outputs depend on are converted.
 * An op it cannot convert is an error naming the op and the node (`UnsupportedOpError`).
 */
import { createHash } from 'node:crypto';
import {
  AttrType,
  DataType,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from './proto.js';
import { type ConstTensor, decodeWeights, transposeData, type WeightSpec } from './weights.js';

/** Bumped when the converter's output changes (part of the cache key). */
export const CONVERTER_VERSION = 1;
export const OPSET = 17;

/** A tfjs graph node as stored in model.json. */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}
interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: Array<{ size: string | number }>; unknownRank?: boolean };
  list?: { i?: Array<string | number>; s?: string[]; f?: number[] };
}

/** What the converter needs: the topology, the weights, and which outputs to produce. */
export interface TfGraph {
  nodes: TfNode[];
  weightSpecs: WeightSpec[];
  weightData: Uint8Array;
}

/** An op (or op variant) the converter does not handle; names the op and the node. */
export class UnsupportedOpError extends Error {
  constructor(
    readonly op: string,
    readonly node: string,
    detail = '',
  ) {
    super(`unsupported op "${op}" at node "${node}"${detail ? `: ${detail}` : ''}`);
    this.name = 'UnsupportedOpError';
  }
}

/** The ops the converter handles (fused variants included). */
export const SUPPORTED_OPS = [
  'Placeholder',
  'Const',
  'Identity',
  'Snapshot',
  'StopGradient',
  'Conv2D',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2dNative',
  'BiasAdd',
  'Add',
  'AddV2',
  'AddN',
  'Sub',
  'Mul',
  'RealDiv',
  'Div',
  'Maximum',
  'Minimum',
  'Pow',
  'SquaredDifference',
  'Rsqrt',
  'Sqrt',
  'Square',
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Floor',
  'Relu',
  'Relu6',
  'Elu',
  'LeakyRelu',
  'Prelu',
  'Sigmoid',
  'Tanh',
  'Softmax',
  'ClipByValue',
  'Mean',
  'Sum',
  'Max',
  'Min',
  'MirrorPad',
  'Pad',
  'PadV2',
  'ResizeNearestNeighbor',
  'ResizeBilinear',
  'MaxPool',
  'AvgPool',
  'Reshape',
  'Squeeze',
  'ExpandDims',
  'ConcatV2',
  'Transpose',
  'DepthToSpace',
  'SpaceToDepth',
  'StridedSlice',
  'MatMul',
  '_FusedMatMul',
  'FusedBatchNorm',
  'FusedBatchNormV3',
  'Cast',
] as const;

type Layout = 'nhwc' | 'nchw';
interface Val {
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
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** Where TF axis a (N, H, W, C) sits in an NCHW tensor. */
const POS_NCHW = [0, 2, 3, 1];

const b64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

function attrStr(n: TfNode, k: string): string | undefined {
  const a = n.attr?.[k];
  return a?.s !== undefined ? b64(a.s) : undefined;
}
function attrInts(n: TfNode, k: string): number[] | undefined {
  return n.attr?.[k]?.list?.i?.map(Number);
}
function attrInt(n: TfNode, k: string, dflt: number): number {
  const v = n.attr?.[k]?.i;
  return v === undefined ? dflt : Number(v);
}
function attrBool(n: TfNode, k: string): boolean {
  return n.attr?.[k]?.b === true;
}
function attrFloat(n: TfNode, k: string, dflt: number): number {
  return n.attr?.[k]?.f ?? dflt;
}
function attrStrList(n: TfNode, k: string): string[] {
  return (n.attr?.[k]?.list?.s ?? []).map(b64);
}

const attr = {
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

/** Splits "node:1" into the node name and output index; "^node" (control input) gives null. */
function parseInput(s: string): { node: string; index: number } | null {
  if (s.startsWith('^')) return null;
  const m = /^(.*):(\d+)$/.exec(s);
  return m ? { node: m[1] as string, index: Number(m[2]) } : { node: s, index: 0 };
}

/** Output names of a tfjs graph when none are given: every non-Const node that nothing consumes. */
export function sinkOutputs(nodes: TfNode[]): string[] {
  const used = new Set<string>();
  for (const n of nodes) for (const i of n.input ?? []) used.add(parseInput(i)?.node ?? '');
  return nodes
    .filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !used.has(n.name))
    .map((n) => n.name);
}

export interface ConvertOptions {
  /** Output node names, in order (default: the graph's sinks). */
  outputs?: string[];
  /** Graph name (and metadata). */
  name?: string;
  /** Extra metadata_props. */
  metadata?: Record<string, string>;
}

/** Hash of a tfjs model's topology and weights (the conversion cache key, with CONVERTER_VERSION). */
export function sourceHash(g: TfGraph, outputs: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify({ nodes: g.nodes, specs: g.weightSpecs, outputs, v: CONVERTER_VERSION }))
    .update(g.weightData)
    .digest('hex');
}

/** Converts a tfjs graph model to an ONNX model (see the module comment). */
export function convertTfGraph(g: TfGraph, opts: ConvertOptions = {}): OnnxModel {
  return new Converter(g, opts).run();
}

class Converter {
  private readonly byName = new Map<string, TfNode>();
  private readonly weights: Map<string, ConstTensor>;
  private readonly vals = new Map<string, Val>();
  private readonly nodes: OnnxNode[] = [];
  private readonly inits: OnnxTensor[] = [];
  private readonly initNames = new Set<string>();
  private readonly inputs: OnnxModel['graph']['input'] = [];
  private readonly outputs: string[];
  private readonly transposed = new Map<string, Val>();
  private uid = 0;

  constructor(
    g: TfGraph,
    private readonly opts: ConvertOptions,
  ) {
    for (const n of g.nodes) this.byName.set(n.name, n);
    this.weights = decodeWeights(g.weightSpecs, g.weightData);
    this.outputs = opts.outputs?.length ? opts.outputs : sinkOutputs(g.nodes);
    for (const o of this.outputs)
      if (!this.byName.has(parseInput(o)?.node ?? o))
        throw new Error(`output "${o}" is not a node of the graph`);
  }

  run(): OnnxModel {
    const order = this.topoOrder();
    for (const n of order) this.set(n, this.convertNode(n));
    const graphOutputs: OnnxModel['graph']['output'] = [];
    for (const o of this.outputs) {
      let v = this.value(o);
      if (v.rank === 4 && v.layout === 'nchw' && v.name === o) {
        // the NCHW value carries the output's name: rename it, the NHWC transpose gets the name
        this.rename(v.name, `${o}__nchw_out`);
        v = { ...v, name: `${o}__nchw_out` };
      }
      v = this.nhwc(v);
      if (v.c) v = { ...v, name: this.init(v.c, `${o}__const`) };
      // Graph outputs carry the TF names the manifest uses.
      const outName = o;
      if (v.name !== outName) this.emit('Identity', [v.name], [outName], `${o}__out`);
      graphOutputs.push({ name: outName, elemType: DataType.FLOAT });
    }
    return {
      irVersion: 8,
      opset: OPSET,
      producerName: 'vigil',
      producerVersion: `tfjs-to-onnx ${CONVERTER_VERSION}`,
      metadata: { ...(this.opts.metadata ?? {}), converter: `vigil tfjs-to-onnx ${CONVERTER_VERSION}` },
      graph: {
        name: this.opts.name ?? 'vigil',
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: graphOutputs,
      },
    };
  }

  /** Renames a value everywhere it is produced or used. */
  private rename(from: string, to: string): void {
    for (const n of this.nodes) {
      n.input = n.input.map((i) => (i === from ? to : i));
      n.output = n.output.map((i) => (i === from ? to : i));
    }
  }

  /** The nodes the outputs depend on, inputs before their consumers. */
  private topoOrder(): TfNode[] {
    const out: TfNode[] = [];
    const state = new Map<string, 1 | 2>();
    const visit = (name: string) => {
      const st = state.get(name);
      if (st === 2) return;
      if (st === 1) throw new Error(`the graph has a cycle through node "${name}"`);
      const n = this.byName.get(name);
      if (!n) throw new Error(`node "${name}" is referenced but not defined in the graph`);
      state.set(name, 1);
      for (const i of n.input ?? []) {
        const p = parseInput(i);
        if (p) visit(p.node);
      }
      state.set(name, 2);
      out.push(n);
    };
    // iterative-safe enough: model graphs here are a few hundred nodes deep at most
    for (const o of this.outputs) visit(parseInput(o)?.node ?? o);
    return out;
  }

  private fresh(base: string): string {
    return `${base}__${++this.uid}`;
  }

  private emit(op: string, input: string[], output: string[], name: string, attribute: OnnxAttribute[] = []) {
    this.nodes.push({ name, opType: op, input, output, attribute });
  }

  /** Adds an initializer (once per name) and returns its name. */
  private init(
    c: ConstTensor | { dtype: 'int64'; shape: number[]; data: BigInt64Array },
    name: string,
  ): string {
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

  private i64(values: number[], base: string): string {
    return this.init(
      { dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) },
      this.fresh(base),
    );
  }

  private f32(value: number, base: string): string {
    return this.init({ dtype: 'float32', shape: [], data: Float32Array.of(value) }, this.fresh(base));
  }

  /** The converted value of a TF input reference ("node" or "node:k"). */
  private value(ref: string): Val {
    const p = parseInput(ref);
    const key = p && p.index > 0 ? `${p.node}:${p.index}` : (p?.node ?? ref);
    const v = this.vals.get(key);
    if (!v) throw new Error(`value "${ref}" used before it was produced`);
    return v;
  }

  private inputsOf(n: TfNode): Val[] {
    return (n.input ?? []).filter((i) => !i.startsWith('^')).map((i) => this.value(i));
  }

  /** A value as an ONNX tensor name (constants become initializers). */
  private ref(v: Val): string {
    return v.c ? this.init(v.c, v.name) : v.name;
  }

  private constOf(n: TfNode, v: Val | undefined, what: string): ConstTensor {
    if (!v?.c) throw new UnsupportedOpError(n.op, n.name, `needs a constant ${what}`);
    return v.c;
  }

  /** The value in NCHW (4-D) layout. */
  private nchw(v: Val): Val {
    if (v.rank !== 4 || v.layout === 'nchw') return v;
    if (v.c) {
      const t = transposeData(v.c.data, v.c.shape, TO_NCHW);
      return { name: `${v.name}__nchw`, rank: 4, layout: 'nchw', c: { ...v.c, ...t } };
    }
    const key = `${v.name}>nchw`;
    const hit = this.transposed.get(key);
    if (hit) return hit;
    const name = `${v.name}__nchw`;
    this.emit('Transpose', [v.name], [name], name, [attr.ints('perm', TO_NCHW)]);
    const out: Val = { name, rank: 4, layout: 'nchw' };
    this.transposed.set(key, out);
    return out;
  }

  /** The value in TF layout. */
  private nhwc(v: Val): Val {
    if (v.rank !== 4 || v.layout === 'nhwc') return v;
    const key = `${v.name}>nhwc`;
    const hit = this.transposed.get(key);
    if (hit) return hit;
    const name = `${v.name}__nhwc`;
    this.emit('Transpose', [v.name], [name], name, [attr.ints('perm', TO_NHWC)]);
    const out: Val = { name, rank: 4, layout: 'nhwc' };
    this.transposed.set(key, out);
    return out;
  }

  /**
   * Operand of an elementwise op whose result is NCHW: lower-rank operands broadcast against TF's
   * trailing (channel-last) dimensions, so they are lifted to rank 4 and moved to NCHW too.
   */
  private alignToNchw(v: Val, n: TfNode): Val {
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

  private set(n: TfNode, v: Omit<Val, 'name'> & { name?: string }, index = 0): void {
    const key = index ? `${n.name}:${index}` : n.name;
    this.vals.set(key, { name: v.name ?? key, rank: v.rank, layout: v.layout, c: v.c });
  }

  /** Binary elementwise op with TF broadcasting, layout-aware. */
  private binary(n: TfNode, op: string, a: Val, b: Val, out = n.name): Val {
    const rank = Math.max(a.rank, b.rank);
    const toNchw = (a.rank === 4 && a.layout === 'nchw') || (b.rank === 4 && b.layout === 'nchw');
    const aa = toNchw ? this.alignToNchw(a, n) : a;
    const bb = toNchw ? this.alignToNchw(b, n) : b;
    this.emit(op, [this.ref(aa), this.ref(bb)], [out], out);
    return { name: out, rank, layout: toNchw && rank === 4 ? 'nchw' : 'nhwc' };
  }

  private unary(n: TfNode, op: string, x: Val, attrs: OnnxAttribute[] = [], out = n.name): Val {
    this.emit(op, [this.ref(x)], [out], out, attrs);
    return { name: out, rank: x.rank, layout: x.layout };
  }

  /** An activation applied after a fused op (tfjs fused_ops). */
  private activation(n: TfNode, act: string, x: Val, out: string, alpha?: Val): Val {
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

  private clip(x: Val, lo: number | undefined, hi: number | undefined, out: string): Val {
    const ins = [this.ref(x), lo === undefined ? '' : this.f32(lo, `${out}/min`)];
    if (hi !== undefined) ins.push(this.f32(hi, `${out}/max`));
    this.emit('Clip', ins, [out], out);
    return { name: out, rank: x.rank, layout: x.layout };
  }

  private convPadding(n: TfNode): OnnxAttribute[] {
    const padding = attrStr(n, 'padding') ?? 'VALID';
    if (padding === 'SAME') return [attr.s('auto_pad', 'SAME_UPPER')];
    if (padding === 'VALID') return [attr.s('auto_pad', 'VALID')];
    if (padding === 'EXPLICIT') {
      const p = attrInts(n, 'explicit_paddings') ?? [];
      if (p.length !== 8) throw new UnsupportedOpError(n.op, n.name, 'explicit_paddings must have 8 values');
      return [attr.ints('pads', [p[2], p[4], p[3], p[5]] as number[])];
    }
    throw new UnsupportedOpError(n.op, n.name, `padding "${padding}"`);
  }

  private checkNhwc(n: TfNode): void {
    const f = attrStr(n, 'data_format');
    if (f && f !== 'NHWC') throw new UnsupportedOpError(n.op, n.name, `data_format "${f}"`);
  }

  private spatial(n: TfNode, key: string, dflt: number): [number, number] {
    const v = attrInts(n, key);
    return v && v.length === 4 ? [v[1] as number, v[2] as number] : [dflt, dflt];
  }

  private conv(n: TfNode, ins: Val[], depthwise: boolean): Val {
    this.checkNhwc(n);
    const [x, w, ...args] = ins;
    if (!x || !w) throw new UnsupportedOpError(n.op, n.name, 'missing inputs');
    const filter = this.constOf(n, w, 'filter');
    if (filter.shape.length !== 4) throw new UnsupportedOpError(n.op, n.name, 'filter must be 4-D');
    const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
    let wData: Float32Array;
    let wShape: number[];
    if (depthwise) {
      const t = transposeData(filter.data as Float32Array, filter.shape, [2, 3, 0, 1]);
      wData = t.data;
      wShape = [ci * co, 1, kh, kw];
    } else {
      const t = transposeData(filter.data as Float32Array, filter.shape, [3, 2, 0, 1]);
      wData = t.data;
      wShape = t.shape;
    }
    const outCh = wShape[0] as number;
    const fused = n.op.startsWith('_Fused') || n.op.startsWith('Fused') ? attrStrList(n, 'fused_ops') : [];
    let bias: Float32Array | undefined;
    let rest = args;
    let acts = fused;
    if (fused[0] === 'BiasAdd') {
      const b = this.constOf(n, args[0], 'bias');
      bias = Float32Array.from(b.data as Float32Array);
      rest = args.slice(1);
      acts = fused.slice(1);
    } else if (fused[0] === 'FusedBatchNorm') {
      const [scale, offset, mean, variance] = [0, 1, 2, 3].map(
        (i) => this.constOf(n, args[i], 'batch-norm argument').data as Float32Array,
      ) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const eps = attrFloat(n, 'epsilon', 1e-3);
      const per = wData.length / outCh;
      bias = new Float32Array(outCh);
      wData = Float32Array.from(wData);
      for (let o = 0; o < outCh; o++) {
        const s = (scale[o] as number) / Math.sqrt((variance[o] as number) + eps);
        for (let k = 0; k < per; k++) wData[o * per + k] = (wData[o * per + k] as number) * s;
        bias[o] = (offset[o] as number) - (mean[o] as number) * s;
      }
      rest = args.slice(4);
      acts = fused.slice(1);
    } else if (fused.length) throw new UnsupportedOpError(n.op, n.name, `fused_ops ${fused.join('+')}`);
    const [sh, sw] = this.spatial(n, 'strides', 1);
    const [dh, dw] = this.spatial(n, 'dilations', 1);
    const xin = this.nchw(x);
    const convIns = [xin.name, this.init({ dtype: 'float32', shape: wShape, data: wData }, `${n.name}/W`)];
    if (bias) convIns.push(this.init({ dtype: 'float32', shape: [outCh], data: bias }, `${n.name}/B`));
    const convOut = acts.length ? `${n.name}__conv` : n.name;
    this.emit('Conv', convIns, [convOut], convOut, [
      attr.ints('kernel_shape', [kh, kw]),
      attr.ints('strides', [sh, sw]),
      attr.ints('dilations', [dh, dw]),
      attr.i('group', depthwise ? ci : 1),
      ...this.convPadding(n),
    ]);
    let v: Val = { name: convOut, rank: 4, layout: 'nchw' };
    acts.forEach((a, i) => {
      v = this.activation(n, a, v, i === acts.length - 1 ? n.name : this.fresh(`${n.name}/${a}`), rest[0]);
    });
    return v;
  }

  private pool(n: TfNode, x: Val, op: 'MaxPool' | 'AveragePool'): Val {
    this.checkNhwc(n);
    const [kh, kw] = this.spatial(n, 'ksize', 1);
    const [sh, sw] = this.spatial(n, 'strides', 1);
    const xin = this.nchw(x);
    this.emit(op, [xin.name], [n.name], n.name, [
      attr.ints('kernel_shape', [kh, kw]),
      attr.ints('strides', [sh, sw]),
      ...this.convPadding(n),
    ]);
    return { name: n.name, rank: 4, layout: 'nchw' };
  }

  private reduce(n: TfNode, x: Val, axesV: Val | undefined, op: string): Val {
    const axesC = this.constOf(n, axesV, 'axes');
    const keep = attrBool(n, 'keep_dims');
    let axes = Array.from(axesC.data, (a) => (a < 0 ? a + x.rank : a));
    let src = x;
    if (x.rank === 4 && x.layout === 'nchw') {
      const remaining = [0, 1, 2, 3].filter((a) => !axes.includes(a)).map((a) => POS_NCHW[a] as number);
      const ordered = remaining.every((p, i) => i === 0 || p > (remaining[i - 1] as number));
      if (keep || ordered) axes = axes.map((a) => POS_NCHW[a] as number);
      else src = this.nhwc(x);
    }
    const rank = keep ? x.rank : x.rank - axes.length;
    const layout: Layout = rank === 4 && src.layout === 'nchw' ? 'nchw' : 'nhwc';
    const sorted = [...axes].sort((a, b) => a - b);
    if (op === 'ReduceSum')
      this.emit(op, [this.ref(src), this.i64(sorted, `${n.name}/axes`)], [n.name], n.name, [
        attr.i('keepdims', keep ? 1 : 0),
      ]);
    else
      this.emit(op, [this.ref(src)], [n.name], n.name, [
        attr.ints('axes', sorted),
        attr.i('keepdims', keep ? 1 : 0),
      ]);
    return { name: n.name, rank, layout };
  }

  private pad(n: TfNode, x: Val, padsV: Val | undefined, mode: string, value?: Val): Val {
    const p = this.constOf(n, padsV, 'paddings');
    const rows = Array.from({ length: x.rank }, (_, i) => [Number(p.data[2 * i]), Number(p.data[2 * i + 1])]);
    let order = rows;
    if (x.rank === 4 && x.layout === 'nchw') order = TO_NCHW.map((a) => rows[a] as number[]);
    const pads = [...order.map((r) => r[0] as number), ...order.map((r) => r[1] as number)];
    const ins = [this.ref(x), this.i64(pads, `${n.name}/pads`)];
    if (value) ins.push(this.ref(value));
    this.emit('Pad', ins, [n.name], n.name, [attr.s('mode', mode)]);
    return { name: n.name, rank: x.rank, layout: x.layout };
  }

  private resize(n: TfNode, x: Val, sizeV: Val | undefined, mode: 'nearest' | 'linear'): Val {
    if (!sizeV) throw new UnsupportedOpError(n.op, n.name, 'missing size');
    const alignCorners = attrBool(n, 'align_corners');
    const halfPixel = attrBool(n, 'half_pixel_centers');
    const xin = this.nchw(x);
    // sizes = [N, C] of the input, then the requested [H, W]
    const shape = this.fresh(`${n.name}/shape`);
    this.emit('Shape', [xin.name], [shape], shape);
    const nc = this.fresh(`${n.name}/nc`);
    this.emit('Slice', [shape, this.i64([0], `${n.name}/s0`), this.i64([2], `${n.name}/s2`)], [nc], nc);
    let hw: string;
    if (sizeV.c) hw = this.i64(Array.from(sizeV.c.data, Number), `${n.name}/hw`);
    else {
      hw = this.fresh(`${n.name}/hw`);
      this.emit('Cast', [sizeV.name], [hw], hw, [attr.i('to', DataType.INT64)]);
    }
    const sizes = this.fresh(`${n.name}/sizes`);
    this.emit('Concat', [nc, hw], [sizes], sizes, [attr.i('axis', 0)]);
    const attrs: OnnxAttribute[] = [attr.s('mode', mode)];
    if (mode === 'nearest') {
      if (alignCorners)
        attrs.push(
          attr.s('coordinate_transformation_mode', 'align_corners'),
          attr.s('nearest_mode', 'round_prefer_ceil'),
        );
      else if (halfPixel)
        attrs.push(
          attr.s('coordinate_transformation_mode', 'tf_half_pixel_for_nn'),
          attr.s('nearest_mode', 'floor'),
        );
      else
        attrs.push(attr.s('coordinate_transformation_mode', 'asymmetric'), attr.s('nearest_mode', 'floor'));
    } else {
      attrs.push(
        attr.s(
          'coordinate_transformation_mode',
          alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric',
        ),
      );
    }
    this.emit('Resize', [xin.name, '', '', sizes], [n.name], n.name, attrs);
    return { name: n.name, rank: 4, layout: 'nchw' };
  }

  private stridedSlice(n: TfNode, ins: Val[]): Val {
    const [x0, bV, eV, sV] = ins;
    if (!x0) throw new UnsupportedOpError(n.op, n.name, 'missing input');
    const x = this.nhwc(x0);
    const begin = Array.from(this.constOf(n, bV, 'begin').data, Number);
    const end = Array.from(this.constOf(n, eV, 'end').data, Number);
    const strides = sV ? Array.from(this.constOf(n, sV, 'strides').data, Number) : begin.map(() => 1);
    const bm = attrInt(n, 'begin_mask', 0);
    const em = attrInt(n, 'end_mask', 0);
    const shrink = attrInt(n, 'shrink_axis_mask', 0);
    if (attrInt(n, 'ellipsis_mask', 0) || attrInt(n, 'new_axis_mask', 0))
      throw new UnsupportedOpError(n.op, n.name, 'ellipsis_mask / new_axis_mask');
    const BIG = 2 ** 31 - 1;
    const starts: number[] = [];
    const ends: number[] = [];
    const squeeze: number[] = [];
    begin.forEach((b, i) => {
      const st = strides[i] ?? 1;
      const bit = 1 << i;
      if (shrink & bit) {
        starts.push(b);
        ends.push(b === -1 ? BIG : b + 1);
        squeeze.push(i);
        return;
      }
      starts.push(bm & bit ? (st > 0 ? 0 : BIG) : b);
      ends.push(em & bit ? (st > 0 ? BIG : -BIG) : (end[i] as number));
    });
    const axes = begin.map((_, i) => i);
    const sliced = squeeze.length ? this.fresh(`${n.name}/slice`) : n.name;
    this.emit(
      'Slice',
      [
        x.name,
        this.i64(starts, `${n.name}/starts`),
        this.i64(ends, `${n.name}/ends`),
        this.i64(axes, `${n.name}/axes`),
        this.i64(strides, `${n.name}/steps`),
      ],
      [sliced],
      sliced,
    );
    if (squeeze.length) this.emit('Squeeze', [sliced, this.i64(squeeze, `${n.name}/sq`)], [n.name], n.name);
    return { name: n.name, rank: x.rank - squeeze.length, layout: 'nhwc' };
  }

  private matmul(n: TfNode, ins: Val[]): Val {
    const [a, b, ...args] = ins;
    if (!a || !b) throw new UnsupportedOpError(n.op, n.name, 'missing inputs');
    if (a.rank !== 2 || b.rank !== 2) throw new UnsupportedOpError(n.op, n.name, 'only 2-D MatMul');
    const ta = attrBool(n, 'transpose_a');
    const tb = attrBool(n, 'transpose_b');
    const fused = n.op === '_FusedMatMul' ? attrStrList(n, 'fused_ops') : [];
    let acts = fused;
    const gemmIns = [this.ref(a), this.ref(b)];
    let rest = args;
    if (fused[0] === 'BiasAdd') {
      gemmIns.push(this.ref(args[0] as Val));
      acts = fused.slice(1);
      rest = args.slice(1);
    } else if (fused.length) throw new UnsupportedOpError(n.op, n.name, `fused_ops ${fused.join('+')}`);
    const out = acts.length ? `${n.name}__gemm` : n.name;
    this.emit('Gemm', gemmIns, [out], out, [attr.i('transA', ta ? 1 : 0), attr.i('transB', tb ? 1 : 0)]);
    let v: Val = { name: out, rank: 2, layout: 'nhwc' };
    acts.forEach((act, i) => {
      v = this.activation(
        n,
        act,
        v,
        i === acts.length - 1 ? n.name : this.fresh(`${n.name}/${act}`),
        rest[0],
      );
    });
    return v;
  }

  private convertNode(n: TfNode): Val {
    const ins = () => this.inputsOf(n);
    const one = () => {
      const x = ins()[0];
      if (!x) throw new UnsupportedOpError(n.op, n.name, 'missing input');
      return x;
    };
    const two = (): [Val, Val] => {
      const [a, b] = ins();
      if (!a || !b) throw new UnsupportedOpError(n.op, n.name, 'needs two inputs');
      return [a, b];
    };
    const put = (v: Val): Val => v;
    switch (n.op) {
      case 'Placeholder': {
        const dims = (n.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size));
        if (n.attr?.dtype?.type && n.attr.dtype.type !== 'DT_FLOAT')
          throw new UnsupportedOpError(n.op, n.name, `input dtype ${n.attr.dtype.type}`);
        const names = ['batch', 'height', 'width', 'channels'];
        const shape = dims.map((d, i) => (i === 0 || d < 0 ? `${names[i] ?? `d${i}`}` : d));
        this.inputs.push({ name: n.name, elemType: DataType.FLOAT, shape });
        return put({ name: n.name, rank: dims.length, layout: 'nhwc' });
      }
      case 'Const': {
        const c = this.weights.get(n.name);
        if (!c) throw new Error(`constant "${n.name}" has no data in the weight files`);
        return put({ name: n.name, rank: c.shape.length, layout: 'nhwc', c });
      }
      case 'Identity':
      case 'Snapshot':
      case 'StopGradient': {
        return one();
      }
      case 'Conv2D':
      case '_FusedConv2D':
        return put(this.conv(n, ins(), false));
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return put(this.conv(n, ins(), true));
      case 'BiasAdd': {
        const [x, b] = two();
        return put(this.binary(n, 'Add', x, b));
      }
      case 'Add':
      case 'AddV2':
        return put(this.binary(n, 'Add', ...two()));
      case 'Sub':
        return put(this.binary(n, 'Sub', ...two()));
      case 'Mul':
        return put(this.binary(n, 'Mul', ...two()));
      case 'RealDiv':
      case 'Div':
        return put(this.binary(n, 'Div', ...two()));
      case 'Pow':
        return put(this.binary(n, 'Pow', ...two()));
      case 'Maximum':
      case 'Minimum': {
        const [a, b] = two();
        // Maximum/Minimum with a scalar constant is a Clip (ONNX Runtime fuses it into the conv)
        const scalar = (v: Val) => v.c?.dtype === 'float32' && v.c.data.length === 1;
        const [x, k] = scalar(b) && !a.c ? [a, b.c] : scalar(a) && !b.c ? [b, a.c] : [undefined, undefined];
        if (x && k) {
          const kv = k.data[0] as number;
          return put(
            this.clip(x, n.op === 'Maximum' ? kv : undefined, n.op === 'Minimum' ? kv : undefined, n.name),
          );
        }
        return put(this.binary(n, n.op === 'Maximum' ? 'Max' : 'Min', a, b));
      }
      case 'AddN': {
        const xs = ins();
        const nchw = xs.some((x) => x.rank === 4 && x.layout === 'nchw');
        const aligned = xs.map((x) => (nchw ? this.alignToNchw(x, n) : x));
        this.emit(
          'Sum',
          aligned.map((x) => this.ref(x)),
          [n.name],
          n.name,
        );
        return put({
          name: n.name,
          rank: Math.max(...xs.map((x) => x.rank)),
          layout: nchw ? 'nchw' : 'nhwc',
        });
      }
      case 'SquaredDifference': {
        const [a, b] = two();
        const d = this.binary(n, 'Sub', a, b, this.fresh(`${n.name}/diff`));
        this.emit('Mul', [d.name, d.name], [n.name], n.name);
        return put({ ...d, name: n.name });
      }
      case 'Square': {
        const x = one();
        this.emit('Mul', [this.ref(x), this.ref(x)], [n.name], n.name);
        return put({ name: n.name, rank: x.rank, layout: x.layout });
      }
      case 'Rsqrt': {
        const x = one();
        const s = this.unary(n, 'Sqrt', x, [], this.fresh(`${n.name}/sqrt`));
        return put(this.unary(n, 'Reciprocal', s));
      }
      case 'Sqrt':
      case 'Exp':
      case 'Log':
      case 'Neg':
      case 'Abs':
      case 'Floor':
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
        return put(this.unary(n, n.op, one()));
      case 'Elu':
        return put(this.unary(n, 'Elu', one(), [attr.f('alpha', 1)]));
      case 'LeakyRelu':
        return put(this.unary(n, 'LeakyRelu', one(), [attr.f('alpha', attrFloat(n, 'alpha', 0.2))]));
      case 'Relu6':
        return put(this.clip(one(), 0, 6, n.name));
      case 'Prelu':
        return put(this.binary(n, 'PRelu', ...two()));
      case 'ClipByValue': {
        const [x, lo, hi] = ins();
        if (!x || !lo || !hi) throw new UnsupportedOpError(n.op, n.name, 'needs x, min and max');
        if (lo.c && hi.c && lo.c.data.length === 1 && hi.c.data.length === 1)
          return put(this.clip(x, lo.c.data[0] as number, hi.c.data[0] as number, n.name));
        const m = this.binary(n, 'Min', x, hi, this.fresh(`${n.name}/min`));
        return put(this.binary(n, 'Max', m, lo));
      }
      case 'Softmax': {
        const x = this.nhwc(one());
        return put(this.unary(n, 'Softmax', x, [attr.i('axis', -1)]));
      }
      case 'Mean':
      case 'Sum':
      case 'Max':
      case 'Min': {
        const [x, axes] = ins();
        if (!x) throw new UnsupportedOpError(n.op, n.name, 'missing input');
        const op = { Mean: 'ReduceMean', Sum: 'ReduceSum', Max: 'ReduceMax', Min: 'ReduceMin' }[
          n.op
        ] as string;
        return put(this.reduce(n, x, axes, op));
      }
      case 'MirrorPad': {
        const mode = attrStr(n, 'mode') ?? 'REFLECT';
        if (mode !== 'REFLECT') throw new UnsupportedOpError(n.op, n.name, `mode "${mode}" (only REFLECT)`);
        const [x, p] = ins();
        return put(this.pad(n, x as Val, p, 'reflect'));
      }
      case 'Pad':
      case 'PadV2': {
        const [x, p, v] = ins();
        return put(this.pad(n, x as Val, p, 'constant', v));
      }
      case 'ResizeNearestNeighbor':
      case 'ResizeBilinear': {
        const [x, size] = ins();
        return put(this.resize(n, x as Val, size, n.op === 'ResizeBilinear' ? 'linear' : 'nearest'));
      }
      case 'MaxPool':
        return put(this.pool(n, one(), 'MaxPool'));
      case 'AvgPool':
        return put(this.pool(n, one(), 'AveragePool'));
      case 'Reshape': {
        const [x0, s] = ins();
        if (!x0 || !s) throw new UnsupportedOpError(n.op, n.name, 'needs x and shape');
        const x = this.nhwc(x0);
        let shapeName: string;
        let rank: number;
        if (s.c) {
          const dims = Array.from(s.c.data, Number);
          shapeName = this.i64(dims, `${n.name}/shape`);
          rank = dims.length;
        } else {
          if (s.rank !== 1) throw new UnsupportedOpError(n.op, n.name, 'shape of unknown length');
          throw new UnsupportedOpError(n.op, n.name, 'needs a constant shape');
        }
        this.emit('Reshape', [this.ref(x), shapeName], [n.name], n.name);
        return put({ name: n.name, rank, layout: 'nhwc' });
      }
      case 'Squeeze': {
        const x = this.nhwc(one());
        const dims = attrInts(n, 'squeeze_dims') ?? attrInts(n, 'axis') ?? [];
        if (!dims.length) throw new UnsupportedOpError(n.op, n.name, 'Squeeze without explicit dims');
        const axes = dims.map((d) => (d < 0 ? d + x.rank : d));
        this.emit('Squeeze', [this.ref(x), this.i64(axes, `${n.name}/axes`)], [n.name], n.name);
        return put({ name: n.name, rank: x.rank - axes.length, layout: 'nhwc' });
      }
      case 'ExpandDims': {
        const [x0, a] = ins();
        const x = this.nhwc(x0 as Val);
        let axis = Number(this.constOf(n, a, 'axis').data[0]);
        if (axis < 0) axis += x.rank + 1;
        this.emit('Unsqueeze', [this.ref(x), this.i64([axis], `${n.name}/axes`)], [n.name], n.name);
        return put({ name: n.name, rank: x.rank + 1, layout: 'nhwc' });
      }
      case 'ConcatV2': {
        const all = ins();
        const axisV = all.pop();
        let axis = Number(this.constOf(n, axisV, 'axis').data[0]);
        const rank = all[0]?.rank ?? 0;
        if (axis < 0) axis += rank;
        const nchw = rank === 4 && all.some((x) => x.layout === 'nchw');
        const xs = all.map((x) => (nchw ? this.nchw(x) : this.nhwc(x)));
        this.emit(
          'Concat',
          xs.map((x) => this.ref(x)),
          [n.name],
          n.name,
          [attr.i('axis', nchw ? (POS_NCHW[axis] as number) : axis)],
        );
        return put({ name: n.name, rank, layout: nchw ? 'nchw' : 'nhwc' });
      }
      case 'Transpose': {
        const [x0, p] = ins();
        const x = this.nhwc(x0 as Val);
        const perm = Array.from(this.constOf(n, p, 'perm').data, Number);
        if (x.c) {
          const t = transposeData(x.c.data, x.c.shape, perm);
          return put({ name: n.name, rank: x.rank, layout: 'nhwc', c: { ...x.c, ...t } });
        }
        this.emit('Transpose', [x.name], [n.name], n.name, [attr.ints('perm', perm)]);
        return put({ name: n.name, rank: x.rank, layout: 'nhwc' });
      }
      case 'DepthToSpace':
      case 'SpaceToDepth': {
        // TF's NHWC DepthToSpace is ONNX's DCR mode on NCHW (depth index = (i * bs + j) * C + c)
        this.checkNhwc(n);
        const x = this.nchw(one());
        const attrs = [attr.i('blocksize', attrInt(n, 'block_size', 2))];
        if (n.op === 'DepthToSpace') attrs.push(attr.s('mode', 'DCR'));
        this.emit(n.op, [this.ref(x)], [n.name], n.name, attrs);
        return put({ name: n.name, rank: 4, layout: 'nchw' });
      }
      case 'StridedSlice':
        return put(this.stridedSlice(n, ins()));
      case 'MatMul':
      case '_FusedMatMul':
        return put(this.matmul(n, ins()));
      case 'FusedBatchNorm':
      case 'FusedBatchNormV3': {
        this.checkNhwc(n);
        const [x, ...p] = ins();
        if (!x || p.length < 4)
          throw new UnsupportedOpError(n.op, n.name, 'needs x, scale, offset, mean, variance');
        const xin = this.nchw(x);
        this.emit(
          'BatchNormalization',
          [xin.name, ...p.slice(0, 4).map((v) => this.ref(v))],
          [n.name],
          n.name,
          [attr.f('epsilon', attrFloat(n, 'epsilon', 1e-3))],
        );
        return put({ name: n.name, rank: 4, layout: 'nchw' });
      }
      case 'Cast': {
        const to = n.attr?.DstT?.type;
        const map: Record<string, number> = {
          DT_FLOAT: DataType.FLOAT,
          DT_INT32: DataType.INT32,
          DT_BOOL: DataType.BOOL,
        };
        const t = to ? map[to] : undefined;
        if (!t) throw new UnsupportedOpError(n.op, n.name, `cast to ${to}`);
        return put(this.unary(n, 'Cast', one(), [attr.i('to', t)]));
      }
      default:
        throw new UnsupportedOpError(n.op, n.name);
    }
  }
}

/** Lists the distinct ops of a graph that the converter cannot handle (for a clear early error). */
export function unsupportedOps(nodes: TfNode[]): Array<{ op: string; node: string }> {
  const ok = new Set<string>(SUPPORTED_OPS);
  return nodes.filter((n) => !ok.has(n.op)).map((n) => ({ op: n.op, node: n.name }));
}
