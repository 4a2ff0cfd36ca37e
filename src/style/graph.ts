/**
 * Writes a style network as a tfjs graph model (model.json topology + one weights file), the format
 * every Vigil engine reads: tfjs's loadGraphModel, and the ONNX converter (src/inference/onnx).
 *
 * The graph computes exactly src/style/net.ts forward() up to its last layer: nearest x2 up-sampling is
 * DepthToSpace(ConcatV2(x, x, x, x)) (every 2x2 block repeats the pixel, whatever the channel order of
 * the mode), and for `output: half` architectures the graph ends at half resolution: the runner does
 * the bilinear x2 (a post-processing step outside the network, so the graph has no dynamic sizes).
 * Input "image": RGB 0..255 [-1, -1, -1, 3] with H, W multiples of 4; output "stylized": RGB 0..255.
 */
import { layersOf, paramShapes, type StyleNetArch } from './net.js';

type Attr = Record<string, unknown>;
interface Node {
  name: string;
  op: string;
  input?: string[];
  attr?: Attr;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const F = { type: 'DT_FLOAT' };
const ints = (xs: number[]) => ({ list: { i: xs.map(String) } });

export const STYLE_INPUT = 'image';
export const STYLE_OUTPUT = 'stylized';

export interface GraphModelJson {
  format: 'graph-model';
  generatedBy: string;
  convertedBy: string;
  modelTopology: { node: Node[]; library: Record<string, unknown>; versions: Record<string, unknown> };
  weightsManifest: Array<{
    paths: string[];
    weights: Array<{ name: string; shape: number[]; dtype: string }>;
  }>;
  signature: Record<string, unknown>;
}

/** The nodes of the graph being written, and its constants' weights in the order they are added. */
class GraphWriter {
  readonly nodes: Node[] = [];
  readonly specs: Array<{ name: string; shape: number[]; dtype: string }> = [];
  readonly chunks: Buffer[] = [];

  constF(name: string, shape: number[], data: Float32Array): void {
    const n = shape.reduce((x, y) => x * y, 1);
    if (data.length !== n)
      throw new Error(`style graph: "${name}" has ${data.length} values, shape ${shape} needs ${n}`);
    this.constant(name, shape, 'DT_FLOAT', 'float32', data);
  }

  constI(name: string, shape: number[], data: Int32Array): void {
    this.constant(name, shape, 'DT_INT32', 'int32', data);
  }

  private constant(
    name: string,
    shape: number[],
    tfType: string,
    dtype: string,
    data: Float32Array | Int32Array,
  ) {
    this.nodes.push({
      name,
      op: 'Const',
      attr: {
        dtype: tfType === 'DT_FLOAT' ? F : { type: tfType },
        value: {
          tensor: { dtype: tfType, tensorShape: { dim: shape.map((s) => ({ size: String(s) })) } },
        },
      },
    });
    this.specs.push({ name, shape, dtype });
    this.chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  op(name: string, opName: string, input: string[], attr: Attr = { T: F }): string {
    this.nodes.push({ name, op: opName, input, attr });
    return name;
  }
}

const convAttr = (stride: number) => ({
  T: F,
  strides: ints([1, stride, stride, 1]),
  padding: { s: b64('SAME') },
  data_format: { s: b64('NHWC') },
  dilations: ints([1, 1, 1, 1]),
  explicit_paddings: { list: {} },
});

/** Nearest x2: DepthToSpace(ConcatV2(x, x, x, x)). */
function upsample(g: GraphWriter, name: string, h: string): string {
  const cat = g.op(`${name}/up/concat`, 'ConcatV2', [h, h, h, h, `${name}/up/axis`], {
    T: F,
    N: { i: '4' },
    Tidx: { type: 'DT_INT32' },
  });
  g.constI(`${name}/up/axis`, [], new Int32Array([3]));
  return g.op(`${name}/up`, 'DepthToSpace', [cat], {
    T: F,
    block_size: { i: '2' },
    data_format: { s: b64('NHWC') },
  });
}

/** Instance normalisation over H, W with the layer's gamma and beta. */
function instanceNorm(g: GraphWriter, name: string, h: string): string {
  const mean = g.op(`${name}/in/mean`, 'Mean', [h, 'const/hw'], {
    T: F,
    Tidx: { type: 'DT_INT32' },
    keep_dims: { b: true },
  });
  const sq = g.op(`${name}/in/sqdiff`, 'SquaredDifference', [h, mean]);
  const vr = g.op(`${name}/in/var`, 'Mean', [sq, 'const/hw'], {
    T: F,
    Tidx: { type: 'DT_INT32' },
    keep_dims: { b: true },
  });
  const rs = g.op(`${name}/in/rsqrt`, 'Rsqrt', [g.op(`${name}/in/var_eps`, 'AddV2', [vr, 'const/eps'])]);
  const s = g.op(`${name}/in/scale`, 'Mul', [rs, `${name}/gamma`]);
  const t = g.op(`${name}/in/shift`, 'Sub', [
    `${name}/beta`,
    g.op(`${name}/in/mean_scale`, 'Mul', [mean, s]),
  ]);
  return g.op(`${name}/in/out`, 'AddV2', [g.op(`${name}/in/mul`, 'Mul', [h, s]), t]);
}

/** One layer of net.ts: [up-sample], conv (or depthwise + pointwise), instance norm or bias, [relu]. */
function conv(
  g: GraphWriter,
  x: string,
  name: string,
  stride: number,
  o: { sep: boolean; norm: boolean; relu: boolean; up: boolean },
): string {
  let h = o.up ? upsample(g, name, x) : x;
  if (o.sep) {
    h = g.op(`${name}/depthwise`, 'DepthwiseConv2dNative', [h, `${name}/dw`], convAttr(stride));
    h = g.op(`${name}/pointwise`, 'Conv2D', [h, `${name}/pw`], convAttr(1));
  } else h = g.op(`${name}/conv`, 'Conv2D', [h, `${name}/w`], convAttr(stride));
  if (o.norm) h = instanceNorm(g, name, h);
  else h = g.op(`${name}/bias`, 'BiasAdd', [h, `${name}/b`], { T: F, data_format: { s: b64('NHWC') } });
  return o.relu ? g.op(`${name}/relu`, 'Relu', [h]) : h;
}

/**
 * The graph of architecture `a`; weights are written to `weightsFile` in paramShapes order (float32),
 * followed by the graph's own constants (epsilon, axes, scales).
 */
export function styleGraph(
  a: StyleNetArch,
  params: Record<string, Float32Array>,
  weightsFile = 'weights.bin',
): {
  json: GraphModelJson;
  weights: Buffer;
} {
  const g = new GraphWriter();
  for (const { name, shape } of paramShapes(a)) {
    const d = params[name];
    if (!d) throw new Error(`style graph: parameter "${name}" missing`);
    g.constF(name, shape, d);
  }
  g.constF('const/eps', [], new Float32Array([1e-5]));
  g.constF('const/inv255', [], new Float32Array([1 / 255]));
  g.constF('const/255', [], new Float32Array([255]));
  g.constI('const/hw', [2], new Int32Array([1, 2]));
  g.nodes.push({
    name: STYLE_INPUT,
    op: 'Placeholder',
    attr: { dtype: F, shape: { shape: { dim: [-1, -1, -1, 3].map((s) => ({ size: String(s) })) } } },
  });
  let h = g.op('scale_in', 'Mul', [STYLE_INPUT, 'const/inv255']);
  for (const l of layersOf(a)) {
    if (l.kind === 'conv')
      h = conv(g, h, l.name, l.stride, { sep: l.sep, norm: l.norm, relu: l.norm, up: l.up });
    else {
      const r = conv(g, h, `${l.name}/a`, 1, { sep: l.sep, norm: true, relu: true, up: false });
      const b = conv(g, r, `${l.name}/b`, 1, { sep: l.sep, norm: true, relu: false, up: false });
      h = g.op(`${l.name}/add`, 'AddV2', [h, b]);
    }
  }
  const sig = g.op('sigmoid', 'Sigmoid', [h]);
  g.op(STYLE_OUTPUT, 'Mul', [sig, 'const/255']);
  return {
    json: {
      format: 'graph-model',
      generatedBy: 'vigil style train',
      convertedBy: 'vigil (src/style/graph.ts)',
      modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: [weightsFile], weights: g.specs }],
      signature: {
        inputs: { [STYLE_INPUT]: { name: `${STYLE_INPUT}:0`, dtype: 'DT_FLOAT' } },
        outputs: { [STYLE_OUTPUT]: { name: `${STYLE_OUTPUT}:0`, dtype: 'DT_FLOAT' } },
      },
    },
    weights: Buffer.concat(g.chunks),
  };
}

/** Reads the parameters back from a graph model written by styleGraph (weights in manifest order). */
export function paramsFromGraph(
  a: StyleNetArch,
  json: GraphModelJson,
  weights: Buffer,
): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  const want = new Map(paramShapes(a).map((p) => [p.name, p.shape]));
  let off = 0;
  for (const g of json.weightsManifest) {
    for (const w of g.weights) {
      const n = w.shape.reduce((x, y) => x * y, 1);
      const bytes = n * 4;
      if (off + bytes > weights.length)
        throw new Error(
          `style weights file is truncated: "${w.name}" needs bytes ${off}..${off + bytes}, file has ${weights.length}`,
        );
      const shape = want.get(w.name);
      if (shape) {
        if (shape.join() !== w.shape.join())
          throw new Error(
            `style weights: "${w.name}" has shape [${w.shape}], the architecture needs [${shape}]`,
          );
        const copy = new Float32Array(n);
        copy.set(
          new Float32Array(weights.buffer.slice(weights.byteOffset + off, weights.byteOffset + off + bytes)),
        );
        for (const v of copy)
          if (!Number.isFinite(v)) throw new Error(`style weights: "${w.name}" holds a non-finite value`);
        out[w.name] = copy;
      }
      off += bytes;
    }
  }
  for (const name of want.keys())
    if (!out[name]) throw new Error(`style weights: parameter "${name}" missing`);
  return out;
}
